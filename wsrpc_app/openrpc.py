"""The OpenRPC document of a registry (https://spec.open-rpc.org/)."""

from __future__ import annotations

import inspect
from typing import Any

from pydantic import TypeAdapter

from .params import Binder
from .registry import Method, Registry

__all__ = ["document"]

OPENRPC_VERSION = "1.3.2"
_REF = "#/components/schemas/{model}"


def document(registry: Registry, *, title: str = "wsrpc", version: str | None = None) -> dict[str, Any]:
    """Describe every method of ``registry``: names, params and result schemas."""
    from . import __version__

    schemas: dict[str, Any] = {}
    methods = [_method(method, schemas) for method in sorted(registry, key=lambda m: m.name)]
    doc: dict[str, Any] = {
        "openrpc": OPENRPC_VERSION,
        "info": {"title": title, "version": version or __version__},
        "methods": methods,
    }
    if schemas:
        doc["components"] = {"schemas": schemas}
    return doc


def _method(method: Method, schemas: dict[str, Any]) -> dict[str, Any]:
    binder = method.binder
    summary, _, description = method.doc.partition("\n")
    entry: dict[str, Any] = {
        "name": method.name,
        "params": [_param(p, binder, schemas) for p in binder.parameters],
        "result": {"name": "result", "schema": _schema(binder.result_hint, schemas)},
        "paramStructure": _structure(binder),
    }
    if summary:
        entry["summary"] = summary.strip()
    if description.strip():
        entry["description"] = description.strip()
    return entry


def _structure(binder: Binder) -> str:
    kinds = {p.kind for p in binder.parameters}
    if kinds <= {inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.VAR_POSITIONAL} and kinds:
        return "by-position"
    if kinds and kinds <= {inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.VAR_KEYWORD}:
        return "by-name"
    return "either"


def _param(parameter: inspect.Parameter, binder: Binder, schemas: dict[str, Any]) -> dict[str, Any]:
    schema = _schema(binder.hints[parameter.name], schemas)
    if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
        schema = {"type": "array", "items": schema}
    elif parameter.kind is inspect.Parameter.VAR_KEYWORD:
        schema = {"type": "object", "additionalProperties": schema}
    required = parameter.default is inspect.Parameter.empty and parameter.kind not in (
        inspect.Parameter.VAR_POSITIONAL,
        inspect.Parameter.VAR_KEYWORD,
    )
    return {"name": parameter.name, "required": required, "schema": schema}


def _schema(hint: Any, schemas: dict[str, Any]) -> dict[str, Any]:
    if hint in (inspect.Parameter.empty, Any, object):
        return {}
    try:
        schema = TypeAdapter(hint).json_schema(ref_template=_REF, mode="serialization")
    except Exception:  # a type with no JSON Schema: say nothing rather than something wrong
        return {}
    schemas.update(schema.pop("$defs", {}))
    return schema
