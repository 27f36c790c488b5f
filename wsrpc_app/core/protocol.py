"""JSON-RPC 2.0 messages: parsing, validation and encoding, with no I/O.

https://www.jsonrpc.org/specification

A frame decodes to one :class:`Message` or to a :class:`Batch` of them. Each
message is a :class:`Request` (a notification when it carries no id), a
:class:`Response` to a call this side made, or an :class:`Invalid` element
that must be answered with an error. JSON is strict both ways: NaN and
Infinity are refused on input and never produced on output.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import uuid
from typing import TypeAlias

import orjson

from .errors import InternalError, InvalidRequest, ParseError, RpcError
from .types import JSON, Id, JSONObject, Params

__all__ = [
    "Request",
    "Response",
    "Invalid",
    "Message",
    "Batch",
    "parse",
    "classify",
    "encode",
    "request",
    "notification",
    "CANCEL",
    "PROGRESS",
    "cancel",
    "progress",
    "result_reply",
    "error_reply",
    "join_batch",
    "is_reserved",
    "params_of",
]

VERSION = "2.0"


@dataclasses.dataclass(slots=True, frozen=True)
class Request:
    """A call from the peer. ``notification`` is true when it has no id."""

    method: str
    params: Params | None = None
    id: Id = None
    notification: bool = False


@dataclasses.dataclass(slots=True, frozen=True)
class Response:
    """The peer's answer to a call this side made: a result or an error."""

    id: Id
    result: JSON = None
    error: RpcError | None = None


@dataclasses.dataclass(slots=True, frozen=True)
class Invalid:
    """An element that is neither a valid request nor a valid response."""

    error: RpcError
    id: Id = None
    #: True when the element looked like a response: those are never answered,
    #: or two peers could bounce errors at each other forever.
    response: bool = False


Message: TypeAlias = Request | Response | Invalid


@dataclasses.dataclass(slots=True, frozen=True)
class Batch:
    """A JSON array of messages (section 6)."""

    messages: list[Message]


def parse(frame: str | bytes, *, max_batch: int | None = None) -> Message | Batch:
    """Decode one frame.

    Raises :class:`ParseError` for invalid JSON and :class:`InvalidRequest`
    for an empty batch or one longer than ``max_batch``: both are answered
    with a single error object whose id is null.
    """
    try:
        payload = orjson.loads(frame)
    except orjson.JSONDecodeError as exc:
        raise ParseError(data=str(exc)) from None
    if isinstance(payload, list):
        if not payload:
            raise InvalidRequest(data="empty batch")
        if max_batch is not None and len(payload) > max_batch:
            raise InvalidRequest(data=f"batch of {len(payload)} exceeds the limit of {max_batch}")
        return Batch([classify(item) for item in payload])
    return classify(payload)


def _valid_id(value: object) -> bool:
    # Section 4: the id "MUST contain a String, Number, or NULL value". Numbers
    # "SHOULD NOT contain fractional parts", but one that does is still valid
    # and echoed. A boolean is not a number even though Python says so.
    return value is None or (isinstance(value, str | int | float) and not isinstance(value, bool))


def classify(item: object) -> Message:
    """Validate one decoded element of a frame."""
    if not isinstance(item, dict):
        return Invalid(InvalidRequest(data="a message must be a JSON object"))
    raw_id = item.get("id")
    id_ = raw_id if _valid_id(raw_id) else None
    if "method" in item:
        return _classify_request(item, id_)
    if "result" in item or "error" in item:
        return _classify_response(item, id_)
    return Invalid(InvalidRequest(data="a message needs 'method', 'result' or 'error'"), id_)


def _classify_request(item: JSONObject, id_: Id) -> Message:
    problem = None
    if item.get("jsonrpc") != VERSION:
        problem = "'jsonrpc' must be exactly \"2.0\""
    elif not isinstance(item["method"], str):
        problem = "'method' must be a string"
    elif "params" in item and not isinstance(item["params"], list | dict):
        problem = "'params' must be an array or an object"
    elif "id" in item and not _valid_id(item["id"]):
        problem = "'id' must be a string, a number or null"
    if problem is not None:
        return Invalid(InvalidRequest(data=problem), id_)
    return Request(item["method"], item.get("params"), id_, "id" not in item)


def _classify_response(item: JSONObject, id_: Id) -> Message:
    problem = None
    if item.get("jsonrpc") != VERSION:
        problem = "'jsonrpc' must be exactly \"2.0\""
    elif "id" not in item or not _valid_id(item["id"]):
        problem = "a response needs a string, number or null 'id'"
    elif ("result" in item) == ("error" in item):
        problem = "a response has exactly one of 'result' and 'error'"
    elif "error" in item and not _valid_error(item["error"]):
        problem = "'error' must be an object with an integer 'code' and a string 'message'"
    if problem is not None:
        return Invalid(InvalidRequest(data=problem), id_, response=True)
    if "error" in item:
        return Response(id_, error=RpcError.from_object(item["error"]))
    return Response(id_, result=item["result"])


def _valid_error(error: object) -> bool:
    return (
        isinstance(error, dict)
        and isinstance(error.get("code"), int)
        and not isinstance(error.get("code"), bool)
        and isinstance(error.get("message"), str)
    )


# Encoding -----------------------------------------------------------------


def _default(value: object) -> JSON:
    # orjson encodes dataclasses, datetimes, UUIDs and enums itself; this
    # covers the rest of what methods commonly return.
    model_dump = getattr(value, "model_dump", None)
    if model_dump is not None:  # pydantic models
        return model_dump(mode="json")
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise TypeError("a non-finite Decimal has no JSON form")
        return str(value)
    if isinstance(value, set | frozenset):
        return list(value)
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        raise TypeError("bytes have no JSON form; return a str (base64, for example)")
    if isinstance(value, uuid.UUID):  # a UUID subclass orjson does not know
        return str(value)
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def encode(message: JSON) -> bytes:
    """Encode a message as JSON. Raises TypeError for values JSON cannot carry."""
    try:
        return orjson.dumps(message, default=_default)
    except orjson.JSONEncodeError as exc:
        raise TypeError(str(exc)) from exc


def request(method: str, params: Params | None, id_: Id) -> bytes:
    message: JSONObject = {"jsonrpc": VERSION, "method": method, "id": id_}
    if params is not None:
        message["params"] = params
    return encode(message)


def notification(method: str, params: Params | None) -> bytes:
    message: JSONObject = {"jsonrpc": VERSION, "method": method}
    if params is not None:
        message["params"] = params
    return encode(message)


#: The notifications of long calls (SPEC, "Presence, connections, long calls"):
#: ``rpc.cancel`` ``{"id": ID}`` stops the receiver's request ID; ``rpc.progress``
#: ``{"id": ID, "value": ANY}`` reports on the sender's request ID before its reply.
CANCEL = "rpc.cancel"
PROGRESS = "rpc.progress"


def cancel(id_: Id) -> bytes:
    return notification(CANCEL, {"id": id_})


def progress(id_: Id, value: JSON) -> bytes:
    """Raises :class:`TypeError` when ``value`` has no JSON form."""
    return notification(PROGRESS, {"id": id_, "value": value})


def error_reply(id_: Id, error: RpcError) -> bytes:
    try:
        return encode({"jsonrpc": VERSION, "error": error.to_object(), "id": id_})
    except TypeError as exc:  # the error's data is not serializable
        fallback = InternalError(data=f"error data is not JSON serializable: {exc}")
        return encode({"jsonrpc": VERSION, "error": fallback.to_object(), "id": id_})


def result_reply(id_: Id, result: JSON) -> bytes:
    """Encode a success reply, or an internal error when the result has no JSON form."""
    try:
        return encode({"jsonrpc": VERSION, "result": result, "id": id_})
    except TypeError as exc:
        return error_reply(id_, InternalError(data=f"result is not JSON serializable: {exc}"))


def join_batch(replies: list[bytes]) -> bytes:
    """The array of already encoded replies to a batch (section 6)."""
    return b"[" + b",".join(replies) + b"]"


def is_reserved(method: str) -> bool:
    """Section 3: names starting with ``rpc.`` are reserved for extensions."""
    return method.startswith("rpc.")


def params_of(args: tuple[JSON, ...], kwargs: dict[str, JSON]) -> Params | None:
    """JSON-RPC params from Python arguments: positional or named, not both."""
    if args and kwargs:
        raise TypeError("JSON-RPC params are either positional or named, not both")
    if kwargs:
        return kwargs
    return list(args) if args else None
