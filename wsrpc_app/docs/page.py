"""The OpenRPC and AsyncAPI documents as an HTTP caller sees them, and the docs page built from them.

Both list only what the caller may use: the methods whose permissions let
them call (as ``rpc.discover`` does), the topics they may subscribe or
publish to (as ``GET topics/`` does).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Mapping, Sequence

from django.conf import settings
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import escape
from django.utils.safestring import SafeString

from ..core.errors import ErrorCode
from ..core.registry import Registry
from ..core.types import JSON, JSONObject
from . import asyncapi, openrpc

__all__ = [
    "openrpc_document",
    "asyncapi_document",
    "websocket_url",
    "page_context",
    "schema_label",
    "schema_ref",
    "example_of",
    "docstring_html",
]


def _url(request: HttpRequest, name: str, fallback: str) -> str:
    match = getattr(request, "resolver_match", None)
    namespace = match.namespace if match is not None and match.namespace else "wsrpc"
    try:
        return reverse(f"{namespace}:{name}")
    except NoReverseMatch:
        return fallback


def websocket_url(request: HttpRequest) -> str:
    scheme = "wss" if request.is_secure() else "ws"
    return f"{scheme}://{request.get_host()}{asyncapi.WEBSOCKET_PATH}"


def openrpc_document(request: HttpRequest, registry: Registry, *, time_limit: float | None) -> JSONObject:
    """The OpenRPC document of ``registry``, the methods the request's user may call."""
    servers = [
        {"name": "WebSocket", "url": websocket_url(request)},
        {"name": "HTTP", "url": request.build_absolute_uri(_url(request, "rpc", "/wsrpc/rpc/"))},
    ]
    return openrpc.document(registry, servers=servers, time_limit=time_limit)


def asyncapi_document(request: HttpRequest, topics: Iterable[Mapping[str, JSON]]) -> JSONObject:
    """The AsyncAPI document of the WebSocket, with the ``topics`` the caller may use."""
    return asyncapi.document(
        topics,
        host=request.get_host(),
        protocol="wss" if request.is_secure() else "ws",
        session_cookie=settings.SESSION_COOKIE_NAME,
    )


# The page ---------------------------------------------------------------------------


def schema_label(schema: JSON) -> str:
    """A short type name for a JSON Schema: ``integer``, ``string | null``, ``array of Point``."""
    if schema is True or schema == {}:
        return "any"
    if not isinstance(schema, Mapping):
        return "nothing" if schema is False else "any"
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "const" in schema:
        return json.dumps(schema["const"])
    if "enum" in schema:
        return " | ".join(json.dumps(value) for value in schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(dict.fromkeys(schema_label(option) for option in schema[key]))
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return schema_label(schema["allOf"][0])
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(str(k) for k in kind)
    if kind == "array":
        items = schema.get("items")
        return f"array of {schema_label(items)}" if items not in (None, {}, True) else "array"
    if kind == "object" and isinstance(schema.get("additionalProperties"), Mapping) and "properties" not in schema:
        values = schema["additionalProperties"]
        return f"object of {schema_label(values)}" if values else "object"
    if kind == "string" and "format" in schema:
        return f"string ({schema['format']})"
    if kind:
        return str(kind)
    return str(schema.get("title") or "any")


_FORMATS = {
    "date": "2024-01-02",
    "date-time": "2024-01-02T03:04:05Z",
    "time": "03:04:05",
    "uuid": "00000000-0000-0000-0000-000000000000",
}


def example_of(schema: JSON, components: Mapping[str, JSON], depth: int = 0) -> JSON:
    """A plausible value for ``schema``: its example or default, else the simplest one of its type."""
    if not isinstance(schema, Mapping) or depth > 6:
        return None
    if "$ref" in schema:
        return example_of(components.get(str(schema["$ref"]).rsplit("/", 1)[-1]), components, depth + 1)
    if schema.get("examples"):
        return schema["examples"][0]
    for key in ("default", "const"):
        if key in schema:
            return schema[key]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        options = [o for o in schema.get(key, ()) if not (isinstance(o, Mapping) and o.get("type") == "null")]
        if options:
            return example_of(options[0], components, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "object":
        properties = schema.get("properties", {})
        required = schema.get("required", list(properties))
        return {name: example_of(properties[name], components, depth + 1) for name in required if name in properties}
    simple = {"integer": 0, "number": 0, "boolean": False, "array": [], "null": None}
    if kind == "string":
        return _FORMATS.get(schema.get("format", ""), "")
    return simple.get(str(kind))


def schema_ref(schema: JSON) -> str:
    """The component a schema is, or is an array or optional of (``""`` for none), to link to."""
    if not isinstance(schema, Mapping):
        return ""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    options = [o for o in schema.get("anyOf", ()) if not (isinstance(o, Mapping) and o.get("type") == "null")]
    if len(options) == 1:
        return schema_ref(options[0])
    if schema.get("type") == "array":
        return schema_ref(schema.get("items"))
    return ""


_LITERAL = re.compile(r"``(.+?)``|`([^`]+)`")


def docstring_html(text: str) -> SafeString:
    """A docstring as HTML: escaped, its ``literals`` as <code>, its line breaks kept."""
    html = _LITERAL.sub(lambda m: f"<code>{m.group(1) or m.group(2)}</code>", str(escape(text)))
    return SafeString(html.replace("\n", "<br>"))


@dataclasses.dataclass(slots=True)
class Param:
    name: str
    required: bool
    label: str
    ref: str
    schema: str
    description: str


@dataclasses.dataclass(slots=True)
class MethodEntry:
    name: str
    anchor: str
    summary: SafeString
    description: SafeString
    structure: str
    params: list[Param]
    result_label: str
    result_ref: str
    result_schema: str
    errors: list[JSONObject]
    restricted: bool
    example: str


def _pretty(value: JSON) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def _example_params(method: Mapping[str, JSON], components: Mapping[str, JSON]) -> str:
    params = [p for p in method["params"] if p.get("description") not in openrpc.VARIADIC_NOTES]
    if not method["params"]:
        return ""
    chosen = [p for p in params if p["required"]] or params
    values = {p["name"]: example_of(p["schema"], components) for p in chosen}
    if method.get("paramStructure") == "by-position":
        return json.dumps(list(values.values()), ensure_ascii=False)
    return json.dumps(values, ensure_ascii=False)


def _method_entry(method: Mapping[str, JSON], components: Mapping[str, JSON]) -> MethodEntry:
    errors = list(method.get("errors", ()))
    return MethodEntry(
        name=method["name"],
        anchor="method-" + method["name"],
        summary=docstring_html(method.get("summary", "")),
        description=docstring_html(method.get("description", "")),
        structure=method.get("paramStructure", "either"),
        params=[
            Param(
                p["name"],
                p["required"],
                schema_label(p["schema"]),
                schema_ref(p["schema"]),
                _pretty(p["schema"]),
                p.get("description", ""),
            )
            for p in method["params"]
        ],
        result_label=schema_label(method["result"]["schema"]),
        result_ref=schema_ref(method["result"]["schema"]),
        result_schema=_pretty(method["result"]["schema"]),
        errors=errors,
        restricted=any(e["code"] == ErrorCode.NOT_AUTHENTICATED for e in errors),
        example=_example_params(method, components),
    )


def _groups(methods: list[MethodEntry]) -> list[tuple[str, list[MethodEntry]]]:
    """Methods by namespace: the app's own first, the reserved ``rpc`` ones last."""
    groups: dict[str, list[MethodEntry]] = {}
    for method in methods:
        namespace = method.name.rpartition(".")[0]
        groups.setdefault(namespace, []).append(method)
    order = sorted(groups, key=lambda name: (name == "rpc", name != "", name))
    return [(name, groups[name]) for name in order]


_SENDERS = {frozenset({"client"}): "client → server", frozenset({"server"}): "server → client"}


def _wire_messages(doc: Mapping[str, JSON]) -> list[dict[str, str]]:
    """The messages of the WebSocket channel, each with who sends it (from the operations that use it)."""
    senders: dict[str, set[str]] = {}
    for operation in doc["operations"].values():
        if operation["channel"]["$ref"] != "#/channels/rpc":
            continue
        # receive: the client sends the message and the server the reply; send: the other way round.
        sender, replier = ("client", "server") if operation["action"] == "receive" else ("server", "client")
        for ref in operation["messages"]:
            senders.setdefault(ref["$ref"].rsplit("/", 1)[-1], set()).add(sender)
        for ref in operation.get("reply", {}).get("messages", ()):
            senders.setdefault(ref["$ref"].rsplit("/", 1)[-1], set()).add(replier)
    components = doc["components"]["messages"]
    messages = []
    for key, ref in doc["channels"]["rpc"]["messages"].items():
        message = components[ref["$ref"].rsplit("/", 1)[-1]]
        messages.append(
            {
                "key": key,
                "name": message["name"],
                "title": message["title"],
                "summary": message["summary"],
                "direction": _SENDERS.get(frozenset(senders.get(key, ())), "both ways"),
                "example": json.dumps(message["examples"][0]["payload"], ensure_ascii=False),
            }
        )
    return messages


def page_context(
    request: HttpRequest, registry: Registry, topics: Sequence[Mapping[str, JSON]], *, time_limit: float | None
) -> dict[str, object]:
    """What ``wsrpc_app/docs.html`` shows: both documents, digested (``registry`` and ``topics`` the caller's)."""
    openrpc_doc = openrpc_document(request, registry, time_limit=time_limit)
    asyncapi_doc = asyncapi_document(request, topics)
    components = openrpc_doc.get("components", {}).get("schemas", {})
    methods = [_method_entry(method, components) for method in openrpc_doc["methods"]]
    return {
        "user": getattr(request, "user", None),
        "title": openrpc_doc["info"]["title"],
        "version": openrpc_doc["info"]["version"],
        "groups": _groups(methods),
        "method_count": len(methods),
        "schemas": [(name, _pretty(schema)) for name, schema in sorted(components.items())],
        "topics": topics,
        "error_codes": asyncapi.ERROR_CODES,
        "close_codes": asyncapi.CLOSE_CODES,
        "messages": _wire_messages(asyncapi_doc),
        "websocket_path": asyncapi.WEBSOCKET_PATH,
        "rpc_path": _url(request, "rpc", "/wsrpc/rpc/"),
        "openrpc_path": _url(request, "openrpc", "openrpc.json"),
        "asyncapi_path": _url(request, "asyncapi", "asyncapi.json"),
        "topics_path": _url(request, "topics", "topics/"),
    }
