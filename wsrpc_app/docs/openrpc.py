"""The OpenRPC 1.3 document of a registry (https://spec.open-rpc.org/).

Every method with its params and result as JSON Schemas that pydantic
derives from the type hints: params as they are validated, results as they
are serialized, and the named types they use (models, dataclasses, enums,
typed dicts) under ``components.schemas``. Summaries and descriptions come
from docstrings (the first line, then the rest), and each method lists the
errors it can answer. No I/O and nothing from Django: the caller hands in
the registry of the methods someone may call.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

from pydantic import ConfigDict, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, JsonSchemaValue
from pydantic_core import CoreSchema

from ..core.errors import (
    ErrorCode,
    InternalError,
    InvalidParams,
    InvalidTopic,
    NeedsWebSocket,
    NoSuchTopic,
    NotAuthenticated,
    PermissionDenied,
    PublishingTooFast,
    RequestCancelled,
    RpcError,
    TimedOut,
    TooManySubscriptions,
    Unavailable,
)
from ..core.params import FILLED
from ..core.protocol import is_reserved
from ..core.registry import Method, Registry
from ..core.types import JSON, JSONObject, Scope

__all__ = ["OPENRPC_VERSION", "VARIADIC_NOTES", "PROGRESS_NOTE", "document", "method_errors", "servers_of_scope"]

#: What the description of a method that reports progress says about it.
PROGRESS_NOTE = (
    "Reports progress: over a WebSocket, the caller receives "
    '`{"jsonrpc": "2.0", "method": "rpc.progress", "params": {"id": <the request id>, "value": ...}}` '
    "notifications before the result (the latest kept when they come faster than the server's "
    "PROGRESS_RATE); over HTTP it reports nothing. Send "
    '`{"jsonrpc": "2.0", "method": "rpc.cancel", "params": {"id": <the request id>}}` to stop it: '
    "it is then answered -32800."
)

OPENRPC_VERSION = "1.3.2"
REF_TEMPLATE = "#/components/schemas/{model}"

_UNCHECKED = (inspect.Parameter.empty, Any, object)
_KIND_NOTES = {
    inspect.Parameter.POSITIONAL_ONLY: "Positional only: pass params as an array.",
    inspect.Parameter.KEYWORD_ONLY: "By name only: pass params as an object.",
    inspect.Parameter.VAR_POSITIONAL: "Any number of further positional params, each of this schema's items.",
    inspect.Parameter.VAR_KEYWORD: "Any further named params, each of this schema's additionalProperties.",
}
#: The descriptions that mark a param standing for ``*args`` or ``**kwargs``.
VARIADIC_NOTES = frozenset((_KIND_NOTES[inspect.Parameter.VAR_POSITIONAL], _KIND_NOTES[inspect.Parameter.VAR_KEYWORD]))

#: What the reserved methods can answer besides the errors every method shares.
_RESERVED_ERRORS: dict[str, tuple[RpcError, ...]] = {
    "rpc.subscribe": (
        InvalidTopic(data={"reason": "empty segment (two dots in a row, or a dot at an end)"}),
        PermissionDenied(data={"topic": "chat.lobby", "action": "subscribe"}),
        TooManySubscriptions(data={"max_subscriptions": 100}),
        NeedsWebSocket(data={"topic": "chat.lobby"}),
        Unavailable(data={"reason": "the history store cannot be reached; retry later"}),
    ),
    "rpc.unsubscribe": (
        InvalidTopic(data={"reason": "empty segment (two dots in a row, or a dot at an end)"}),
        NeedsWebSocket(data={"topic": "chat.lobby"}),
    ),
    "rpc.publish": (
        InvalidTopic(
            data={"reason": "wildcard '*' is not allowed here: publish to a concrete topic", "topic": "chat.*"}
        ),
        PermissionDenied(data={"topic": "chat.lobby", "action": "publish"}),
        PublishingTooFast(data={"publish_rate": 50.0}),
        Unavailable(data={"reason": "the channel layer cannot be reached; retry later"}),
    ),
    "rpc.history": (
        InvalidTopic(data={"reason": "empty segment (two dots in a row, or a dot at an end)"}),
        NoSuchTopic("The topic keeps no history", data={"topic": "chat.lobby", "history": False}),
        PermissionDenied(data={"topic": "chat.lobby", "action": "subscribe"}),
        Unavailable(data={"reason": "the history store cannot be reached; retry later"}),
    ),
    **dict.fromkeys(
        ("rpc.presence", "rpc.presence_stats"),
        (
            InvalidTopic(data={"reason": "empty segment (two dots in a row, or a dot at an end)"}),
            NoSuchTopic("The topic keeps no presence", data={"topic": "room.1", "presence": False}),
            PermissionDenied(data={"topic": "room.1", "action": "subscribe"}),
            Unavailable(data={"reason": "the presence store cannot be reached; retry later"}),
        ),
    ),
}


def document(
    registry: Registry,
    *,
    title: str = "wsrpc",
    version: str | None = None,
    description: str | None = None,
    servers: Sequence[Mapping[str, JSON]] = (),
    time_limit: float | None = None,
) -> JSONObject:
    """The OpenRPC document of every method in ``registry``.

    ``time_limit`` is the ``METHOD_TIME_LIMIT`` in force (methods then may
    answer -32008); ``servers`` are OpenRPC server objects (name and url).
    """
    from .. import __version__

    methods = sorted(registry, key=lambda m: m.name)
    schemas, components = _schemas(methods)
    doc: JSONObject = {
        "openrpc": OPENRPC_VERSION,
        "info": {
            "title": title,
            "version": version or __version__,
            "description": description
            or (
                "JSON-RPC 2.0 methods, over a WebSocket (where the server may call the client back, and topics "
                "deliver rpc.event notifications) or one HTTP POST per request or batch."
            ),
        },
    }
    if servers:
        doc["servers"] = [dict(server) for server in servers]
    doc["methods"] = [_method(method, schemas, time_limit) for method in methods]
    if components:
        doc["components"] = {"schemas": components}
    return doc


# Methods ---------------------------------------------------------------------


def _method(method: Method, schemas: Mapping[Hashable, JsonSchemaValue], time_limit: float | None) -> JSONObject:
    binder = method.binder
    summary, _, description = method.doc.partition("\n")
    entry: JSONObject = {"name": method.name}
    if summary.strip():
        entry["summary"] = summary.strip()
    if description.strip():
        entry["description"] = inspect.cleandoc(description)
    if binder.wants_progress:
        # `progress` is filled by the server, never a param: say what it does instead.
        entry["description"] = (entry.get("description", "") + "\n\n" + PROGRESS_NOTE).strip()
    namespace, dot, _ = method.name.rpartition(".")
    if dot:
        entry["tags"] = [{"name": namespace}]
    entry["params"] = [_param(method.name, p, schemas) for p in binder.parameters]
    entry["result"] = {"name": "result", "schema": schemas.get(("result", method.name), {})}
    entry["paramStructure"] = _structure(binder.parameters)
    entry["errors"] = [error.to_object() for error in method_errors(method, time_limit=time_limit)]
    return entry


def _param(method_name: str, parameter: inspect.Parameter, schemas: Mapping[Hashable, JsonSchemaValue]) -> JSONObject:
    schema: JsonSchemaValue = dict(schemas.get(("param", method_name, parameter.name), {}))
    if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
        schema = {"type": "array", "items": schema}
    elif parameter.kind is inspect.Parameter.VAR_KEYWORD:
        schema = {"type": "object", "additionalProperties": schema}
    elif parameter.default is not inspect.Parameter.empty and _is_json(parameter.default):
        schema["default"] = parameter.default
    required = parameter.default is inspect.Parameter.empty and parameter.kind not in (
        inspect.Parameter.VAR_POSITIONAL,
        inspect.Parameter.VAR_KEYWORD,
    )
    entry: JSONObject = {"name": parameter.name, "required": required, "schema": schema}
    if parameter.kind in _KIND_NOTES:
        entry["description"] = _KIND_NOTES[parameter.kind]
    return entry


def _structure(parameters: Sequence[inspect.Parameter]) -> str:
    """``by-position``, ``by-name`` or ``either``: the param shapes every call that fits can take."""
    kinds = {p.kind for p in parameters}
    required = {p.kind for p in parameters if p.default is inspect.Parameter.empty}
    if inspect.Parameter.KEYWORD_ONLY in required or (
        kinds and kinds <= {inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.VAR_KEYWORD}
    ):
        return "by-name"
    if inspect.Parameter.POSITIONAL_ONLY in required or (
        kinds and kinds <= {inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.VAR_POSITIONAL}
    ):
        return "by-position"
    return "either"


def method_errors(method: Method, *, time_limit: float | None = None) -> list[RpcError]:
    """The errors a call of ``method`` can answer, by code, as the server words them."""
    errors: list[RpcError] = []
    if method.binder.parameters:
        errors.append(InvalidParams())
    if method.permissions:
        errors.append(NotAuthenticated(data={"method": method.name}))
        errors.append(PermissionDenied(data={"method": method.name}))
    errors.extend(_RESERVED_ERRORS.get(method.name, ()))
    if not is_reserved(method.name):
        errors.append(RpcError("Application error raised by the method (it may use a code of its own)"))
    if time_limit is not None:
        errors.append(TimedOut(f"Timed out (the time limit is {time_limit:g} s)", data={"method": method.name}))
    if method.binder.wants_progress:
        errors.append(RequestCancelled("Request cancelled (the caller sent rpc.cancel)"))
    errors.append(InternalError())
    return sorted(errors, key=lambda error: _ORDER.get(error.code, 0))


#: Errors listed in the order of the error code table.
_ORDER = {int(code): index for index, code in enumerate(ErrorCode)}


# Schemas ---------------------------------------------------------------------


class _Generator(GenerateJsonSchema):
    """pydantic's JSON Schema, saying nothing of the types it has no schema for."""

    def handle_invalid_for_json_schema(self, schema: CoreSchema, error_info: str) -> JsonSchemaValue:
        return {}


_Input = tuple[Hashable, JsonSchemaMode, TypeAdapter[Any]]


def _adapter(hint: Any) -> TypeAdapter[Any] | None:
    try:
        return TypeAdapter(hint)
    except Exception:
        try:  # a class pydantic has no schema for (validated with isinstance)
            return TypeAdapter(hint, config=ConfigDict(arbitrary_types_allowed=True))
        except Exception:
            return None


def _inputs(methods: Iterable[Method]) -> list[_Input]:
    inputs: list[_Input] = []
    for method in methods:
        binder = method.binder
        for parameter in binder.parameters:
            adapter = binder.adapters.get(parameter.name)
            if adapter is not None and parameter.name not in FILLED:
                inputs.append((("param", method.name, parameter.name), "validation", adapter))
        if binder.result_hint not in _UNCHECKED:
            result = _adapter(binder.result_hint)
            if result is not None:
                inputs.append((("result", method.name), "serialization", result))
    return inputs


def _generate(inputs: Sequence[_Input]) -> tuple[dict[Hashable, JsonSchemaValue], dict[str, JsonSchemaValue]]:
    by_key, definitions = TypeAdapter.json_schemas(inputs, ref_template=REF_TEMPLATE, schema_generator=_Generator)
    return {key: schema for (key, _mode), schema in by_key.items()}, dict(definitions.get("$defs", {}))


def _schemas(methods: Iterable[Method]) -> tuple[dict[Hashable, JsonSchemaValue], dict[str, JsonSchemaValue]]:
    """Every param and result schema, keyed ``("param", method, name)`` or ``("result", method)``, and $defs.

    One pass over all of them, so a type used in several places is defined
    once, and pydantic names its validation and serialization forms apart
    (``Box-Input``, ``Box-Output``) when they differ.
    """
    inputs = _inputs(methods)
    try:
        return _generate(inputs)
    except Exception:
        # One type pydantic cannot describe spoils the whole pass: leave it
        # out (its schema becomes {}, which says nothing wrong) and go again.
        usable = []
        for item in inputs:
            try:
                _generate([item])
            except Exception:
                continue
            usable.append(item)
        return _generate(usable)


def _is_json(value: object) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


# Servers ---------------------------------------------------------------------


def servers_of_scope(scope: Scope) -> list[dict[str, str]]:
    """The OpenRPC server a request came in through, from its ASGI scope (none when unknown)."""
    kind = scope.get("type")
    if kind not in ("websocket", "http"):
        return []
    headers = {bytes(name).lower(): bytes(value) for name, value in scope.get("headers", ())}
    host = headers.get(b"host", b"").decode("latin-1")
    if not host:
        return []
    default = "ws" if kind == "websocket" else "http"
    scheme = str(scope.get("scheme") or default)
    path = str(scope.get("root_path", "")) + str(scope.get("path", "/"))
    name = "WebSocket" if kind == "websocket" else "HTTP"
    return [{"name": name, "url": f"{scheme}://{host}{path}"}]
