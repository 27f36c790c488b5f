"""The documents describe long calls: OpenRPC leaves ``progress`` out of the params and says what it does;
AsyncAPI has the ``rpc.cancel`` and ``rpc.progress`` messages both ways and the -32800 code."""

from __future__ import annotations

from typing import Any

from tests.support.schemas import asyncapi_validator, errors_of, openrpc_validator, resolve
from wsrpc_app.core.registry import Registry
from wsrpc_app.docs import asyncapi, openrpc
from wsrpc_app.server.wiring import get_registry


def test_openrpc_leaves_progress_out_of_the_params_and_describes_it() -> None:
    registry = Registry([m for m in get_registry() if m.name in ("count_up", "count_up_sync", "long_job")])
    doc = openrpc.document(registry, time_limit=5.0)
    assert errors_of(openrpc_validator(), doc) == []
    methods = {m["name"]: m for m in doc["methods"]}
    for name in ("count_up", "count_up_sync"):
        method = methods[name]
        assert [p["name"] for p in method["params"]] == ["count", "pause"]
        assert openrpc.PROGRESS_NOTE in method["description"]
        assert -32800 in [e["code"] for e in method["errors"]]
    assert "rpc.progress" not in methods["long_job"].get("description", "")


def _frames_match(doc: dict[str, Any], name: str, frame: Any) -> bool:
    from jsonschema import Draft7Validator

    message = resolve(doc, doc["channels"]["rpc"]["messages"][name]["$ref"])
    return bool(Draft7Validator({**doc, "allOf": [message["payload"]]}).is_valid(frame))


def test_asyncapi_has_cancel_and_progress_both_ways() -> None:
    doc = asyncapi.document([], host="example.com", protocol="wss")
    assert errors_of(asyncapi_validator(), doc) == []
    operations = doc["operations"]
    for action, name in (("receive", "cancel"), ("send", "cancel"), ("receive", "progress"), ("send", "progress")):
        operation = operations[f"{action}{name.title()}"]
        assert operation["action"] == action
        assert operation["messages"] == [{"$ref": f"#/channels/rpc/messages/{name}"}]
    assert _frames_match(doc, "cancel", {"jsonrpc": "2.0", "method": "rpc.cancel", "params": {"id": "a"}})
    assert not _frames_match(doc, "cancel", {"jsonrpc": "2.0", "method": "rpc.cancel", "params": {}})
    progress = {"jsonrpc": "2.0", "method": "rpc.progress", "params": {"id": 3, "value": [1, 2]}}
    assert _frames_match(doc, "progress", progress)
    assert not _frames_match(doc, "progress", {**progress, "id": 4})  # a notification, never a request
    assert -32800 in {code for code, _ in asyncapi.ERROR_CODES}
