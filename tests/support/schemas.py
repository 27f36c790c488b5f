"""The official OpenRPC and AsyncAPI schemas (``tests/data/``), as offline validators."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT7

__all__ = ["DATA", "openrpc_validator", "asyncapi_validator", "errors_of", "local_refs", "resolve"]

DATA = Path(__file__).resolve().parent.parent / "data"


def _load(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def _offline(uri: str) -> Resource[Any]:
    # jsonschema would fetch unknown references over the network: never in tests.
    raise NoSuchResource(ref=uri)


@functools.cache
def openrpc_validator() -> Draft7Validator:
    """The meta-schema of @open-rpc/meta-schema, with the JSON Schema meta-schema it refers to."""
    tools = DRAFT7.create_resource(_load("json-schema-tools-meta-schema.json"))
    registry: Registry[Any] = Registry(retrieve=_offline).with_resources(
        # Referred to both with and without the trailing slash of its $id.
        [("https://meta.json-schema.tools", tools), ("https://meta.json-schema.tools/", tools)]
    )
    return Draft7Validator(_load("openrpc-meta-schema.json"), registry=registry)


@functools.cache
def asyncapi_validator() -> Draft7Validator:
    """The AsyncAPI 3.0.0 schema of @asyncapi/specs (bundled: it holds every definition it uses)."""
    return Draft7Validator(_load("asyncapi-3.0.0.json"), registry=Registry(retrieve=_offline))


def errors_of(validator: Draft7Validator, document: Any) -> list[str]:
    """Every violation, each as ``path: message``, deepest first; ``[]`` when the document is valid."""
    errors = sorted(validator.iter_errors(document), key=lambda e: -len(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:300]}" for e in errors]


def local_refs(document: Any) -> list[str]:
    """Every ``$ref`` inside ``document`` (the official schemas do not check that they point anywhere)."""
    if isinstance(document, dict):
        own = [document["$ref"]] if isinstance(document.get("$ref"), str) else []
        return own + [ref for value in document.values() for ref in local_refs(value)]
    if isinstance(document, list):
        return [ref for value in document for ref in local_refs(value)]
    return []


def resolve(document: Any, ref: str) -> Any:
    """What a local reference (``#/a/b``) points to in ``document``; KeyError when nothing."""
    assert ref.startswith("#/"), f"{ref} is not a local reference"
    target = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        target = target[int(part)] if isinstance(target, list) else target[part]
    return target
