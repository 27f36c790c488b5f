"""How the client frames a call and reads its reply, per wire protocol.

Every peer but the fastapi ones speaks JSON-RPC 2.0 (:data:`JSONRPC`);
fastapi-websocket-rpc and fastapi-websocket-pubsub speak their own envelope
(:data:`FASTAPI`): ``{"request": {"method", "arguments", "call_id"}}``
answered by ``{"response": {"result", "result_type", "call_id"}}``,
keyword arguments only. The workloads send the same keyword params to all.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import orjson

__all__ = ["FASTAPI", "FASTAPI_MEMBER", "JSONRPC", "Dialect", "Reply", "member_dialect"]


@dataclasses.dataclass(frozen=True)
class Reply:
    """A parsed incoming message: the id it answers (None for anything else) and whether it succeeded."""

    request_id: int | None
    ok: bool
    result: Any = None
    #: An incoming request from the server (fastapi-websocket-pubsub's event notifications), to be answered.
    answer: bytes | None = None


@dataclasses.dataclass(frozen=True)
class Dialect:
    name: str
    request: Callable[[int, str, dict[str, Any]], bytes]
    parse: Callable[[bytes], Reply]
    #: The method and params that subscribe to one topic.
    subscribe: Callable[[str], tuple[str, dict[str, Any]]]
    #: The method and params that publish data to one topic.
    publish: Callable[[str, Any], tuple[str, dict[str, Any]]]
    #: An event's data and the answer the server waits for (None: none), from a frame; KeyError and the like if
    #: the frame is no event.
    event: Callable[[bytes], tuple[Any, bytes | None]]


def _jsonrpc_request(request_id: int, method: str, params: dict[str, Any]) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})


def _jsonrpc_parse(frame: bytes) -> Reply:
    message = orjson.loads(frame)
    if not isinstance(message, dict):
        return Reply(None, False)
    request_id = message.get("id") if "method" not in message else None
    return Reply(request_id, "result" in message, message.get("result"))


def _fastapi_request(request_id: int, method: str, params: dict[str, Any]) -> bytes:
    return orjson.dumps({"request": {"method": method, "arguments": params, "call_id": str(request_id)}})


def _fastapi_parse(frame: bytes) -> Reply:
    message = orjson.loads(frame)
    response = message.get("response") if isinstance(message, dict) else None
    if response is not None:
        call_id = response.get("call_id")
        return Reply(int(call_id) if call_id and call_id.isdigit() else None, True, response.get("result"))
    request = message.get("request") if isinstance(message, dict) else None
    if request is not None:
        # The server calls the client (an event, or a ping): it waits for the answer.
        answer = {"response": {"call_id": request.get("call_id"), "result": None, "result_type": "NoneType"}}
        return Reply(None, True, request, answer=orjson.dumps(answer))
    return Reply(None, False)


def _jsonrpc_event(frame: bytes) -> tuple[Any, bytes | None]:
    return orjson.loads(frame)["params"]["data"], None


def _fastapi_event(frame: bytes) -> tuple[Any, bytes | None]:
    request = orjson.loads(frame)["request"]
    answer = {"response": {"call_id": request["call_id"], "result": None, "result_type": "NoneType"}}
    return request["arguments"]["data"], orjson.dumps(answer)


JSONRPC = Dialect(
    "JSON-RPC 2.0",
    _jsonrpc_request,
    _jsonrpc_parse,
    subscribe=lambda topic: ("rpc.subscribe", {"topic": topic}),
    publish=lambda topic, data: ("rpc.publish", {"topic": topic, "data": data}),
    event=_jsonrpc_event,
)
FASTAPI = Dialect(
    "fastapi-websocket-rpc",
    _fastapi_request,
    _fastapi_parse,
    subscribe=lambda topic: ("subscribe", {"topics": [topic]}),
    publish=lambda topic, data: ("publish", {"topics": [topic], "data": data}),
    event=_fastapi_event,
)

#: FASTAPI for a connection that publishes to a topic it is subscribed to (W6's members), delivered to it too, as
#: every other peer does: a notifier id of its own (by default the server leaves the publishing connection out),
#: and ``sync`` off: the server reads a connection's requests one at a time, so a publish that waited for its
#: delivery to the publisher would wait for an answer it can never read.
FASTAPI_MEMBER = dataclasses.replace(
    FASTAPI,
    publish=lambda topic, data: (
        "publish",
        {"topics": [topic], "data": data, "sync": False, "notifier_id": "wsrpc-bench"},
    ),
)


def member_dialect(dialect: Dialect) -> Dialect:
    """The dialect for a connection that publishes to its own topic (W6), given a peer's."""
    return FASTAPI_MEMBER if dialect is FASTAPI else dialect
