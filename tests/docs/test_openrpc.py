"""The OpenRPC document (wsrpc_app.docs.openrpc, rpc.discover), checked against the official meta-schema.

The meta-schema comes from @open-rpc/meta-schema (tests/data/README.md) and
is used offline.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.test import override_settings

from tests.support.pubsub import wsrpc
from tests.support.schemas import errors_of, local_refs, openrpc_validator, resolve
from wsrpc_app.core.registry import Registry
from wsrpc_app.core.topics import PATTERN_REGEX, TOPIC_REGEX, validate_pattern, validate_topic
from wsrpc_app.docs.openrpc import OPENRPC_VERSION, document, servers_of_scope
from wsrpc_app.server.wiring import get_registry
from wsrpc_app.testing import RpcTestClient

RESERVED = {"rpc.ping", "rpc.discover", "rpc.subscribe", "rpc.unsubscribe", "rpc.publish"}


def valid(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc``, once it passed the meta-schema and its references all point somewhere."""
    assert errors_of(openrpc_validator(), doc) == []
    for ref in local_refs(doc):
        resolve(doc, ref)
    return doc


def methods_of(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {method["name"]: method for method in doc["methods"]}


def codes(method: dict[str, Any]) -> list[int]:
    return [error["code"] for error in method["errors"]]


@pytest.fixture
def full() -> dict[str, Any]:
    """The document of the test settings' whole registry, with a time limit."""
    return valid(document(get_registry(), time_limit=5.0))


@pytest.fixture
def docs_methods() -> dict[str, Any]:
    """The document of tests/docs_methods.py and the reserved methods."""
    from wsrpc_app.server.wiring import builtin_registry

    registry = Registry.from_entries(["tests.support.docs_methods"]).merged(builtin_registry())
    return valid(document(registry))


# The meta-schema --------------------------------------------------------------------


def test_the_validator_rejects_a_broken_document(full: dict[str, Any]) -> None:
    broken = copy.deepcopy(full)
    del broken["methods"][0]["name"]
    broken["methods"][1]["params"][0]["schema"] = {"type": 5}
    broken["methods"][2]["errors"] = [{"code": "x"}]
    assert len(errors_of(openrpc_validator(), broken)) == 3
    assert errors_of(openrpc_validator(), {**full, "openrpc": "9.9.9"}) != []


def test_the_full_registry_is_valid(full: dict[str, Any]) -> None:
    assert full["openrpc"] == OPENRPC_VERSION == "1.3.2"
    assert full["info"]["title"] == "wsrpc"
    assert set(methods_of(full)) == {method.name for method in get_registry()}
    assert [m["name"] for m in full["methods"]] == sorted(m["name"] for m in full["methods"])


def test_the_methods_of_the_docs_tests_are_valid(docs_methods: dict[str, Any]) -> None:
    assert set(methods_of(docs_methods)) >= {"docs.echo_order", "docs.opaque", "docs.anything"} | RESERVED


def test_without_any_method() -> None:
    assert valid(document(Registry()))["methods"] == []


# Params and results from type hints ----------------------------------------------------


def test_plain_types(full: dict[str, Any]) -> None:
    methods = methods_of(full)
    assert methods["subtract"]["params"] == [
        {"name": "minuend", "required": True, "schema": {"type": "integer"}},
        {"name": "subtrahend", "required": True, "schema": {"type": "integer"}},
    ]
    assert methods["subtract"]["result"] == {"name": "result", "schema": {"type": "integer"}}
    assert methods["add"]["params"][0]["schema"] == {"anyOf": [{"type": "integer"}, {"type": "number"}]}
    assert methods["update"]["result"]["schema"] == {"type": "null"}  # update(*args: Any) -> None
    assert methods["update"]["params"][0]["schema"] == {"type": "array", "items": {}}
    assert methods["get_data"]["result"]["schema"] == {"type": "array", "items": {}}


def test_dataclasses_and_pydantic_models_go_to_components(full: dict[str, Any]) -> None:
    typed = methods_of(full)["typed"]
    params = {param["name"]: param for param in typed["params"]}
    assert params["when"]["schema"] == {"type": "string", "format": "date"}
    assert params["point"]["schema"] == {"$ref": "#/components/schemas/Point"}
    assert params["box"]["schema"] == {"$ref": "#/components/schemas/Box"}
    assert params["tags"] == {
        "name": "tags",
        "required": False,
        "schema": {"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}], "default": None},
    }
    schemas = full["components"]["schemas"]
    assert schemas["Point"]["properties"] == {
        "x": {"title": "X", "type": "integer"},
        "y": {"title": "Y", "type": "integer"},
    }
    assert schemas["Point"]["required"] == ["x", "y"]
    # Params are described as validated: a Decimal may come as a number or a string.
    assert schemas["Box"]["properties"]["size"]["anyOf"] == [{"type": "number"}, {"type": "string"}]
    assert methods_of(full)["rich"]["result"]["schema"] == {"type": "object", "additionalProperties": True}


def test_params_as_validated_and_results_as_serialized(docs_methods: dict[str, Any]) -> None:
    echo = methods_of(docs_methods)["docs.echo_order"]
    assert echo["params"][0]["schema"] == {"$ref": "#/components/schemas/Order-Input"}
    assert echo["result"]["schema"] == {"$ref": "#/components/schemas/Order-Output"}
    schemas = docs_methods["components"]["schemas"]
    order_in, order_out = schemas["Order-Input"], schemas["Order-Output"]
    assert order_in["properties"]["total"]["anyOf"] == [{"type": "number"}, {"type": "string"}]
    assert order_out["properties"]["total"]["type"] == "string"
    assert order_in["description"] == "An order and its lines."
    assert order_in["properties"]["id"] == {"format": "uuid", "title": "Id", "type": "string"}
    assert order_in["properties"]["colour"]["$ref"] == "#/components/schemas/Colour"
    assert schemas["Colour"]["enum"] == ["red", "green"]
    assert order_in["properties"]["lines"]["items"] == {"$ref": "#/components/schemas/Reading-Input"}
    readings = methods_of(docs_methods)["docs.readings"]
    assert readings["result"]["schema"] == {"type": "array", "items": {"$ref": "#/components/schemas/Reading-Output"}}
    assert schemas["Reading-Output"]["properties"]["taken"] == {
        "format": "date-time",
        "title": "Taken",
        "type": "string",
    }


def test_field_constraints_and_descriptions(docs_methods: dict[str, Any]) -> None:
    (count,) = methods_of(docs_methods)["docs.described"]["params"]
    assert count["schema"] == {"type": "integer", "minimum": 1, "description": "How many, at least one."}


def test_types_without_a_schema_say_nothing(docs_methods: dict[str, Any]) -> None:
    opaque = methods_of(docs_methods)["docs.opaque"]
    assert opaque["params"] == [{"name": "thing", "required": True, "schema": {}}]
    assert opaque["result"]["schema"] == {}
    anything = methods_of(docs_methods)["docs.anything"]
    assert [(p["name"], p["required"], p["schema"]) for p in anything["params"]] == [
        ("value", True, {}),
        ("rest", False, {"type": "array", "items": {}}),
        ("named", False, {"type": "object", "additionalProperties": {}}),
    ]


def test_defaults_and_parameter_kinds(full: dict[str, Any], docs_methods: dict[str, Any]) -> None:
    keywords = methods_of(full)["keywords"]  # keywords(a: int, *, b: int = 2, **rest: int)
    assert [(p["name"], p["required"]) for p in keywords["params"]] == [("a", True), ("b", False), ("rest", False)]
    assert keywords["params"][1]["schema"] == {"type": "integer", "default": 2}
    assert "by name only" in keywords["params"][1]["description"].lower()
    assert keywords["params"][2]["schema"] == {"type": "object", "additionalProperties": {"type": "integer"}}
    numbers = methods_of(full)["sum"]["params"][0]  # sum(*numbers: int)
    assert numbers["schema"] == {"type": "array", "items": {"type": "integer"}}
    assert numbers["required"] is False


@pytest.mark.parametrize(
    ("name", "structure"),
    [
        ("subtract", "either"),
        ("keywords", "either"),  # its keyword-only parameter has a default
        ("positional", "by-position"),
        ("sum", "by-position"),
        ("get_data", "either"),
    ],
)
def test_param_structure(full: dict[str, Any], name: str, structure: str) -> None:
    assert methods_of(full)[name]["paramStructure"] == structure


def test_param_structure_of_required_keyword_only_and_positional_only(docs_methods: dict[str, Any]) -> None:
    assert methods_of(docs_methods)["docs.readings"]["paramStructure"] == "by-name"
    assert methods_of(docs_methods)["docs.pair"]["paramStructure"] == "by-position"
    assert methods_of(docs_methods)["docs.pair"]["result"]["schema"]["prefixItems"] == [
        {"type": "integer"},
        {"type": "integer"},
    ]


def test_the_connection_is_never_a_param(full: dict[str, Any]) -> None:
    methods = methods_of(full)
    assert methods["who"]["params"] == []
    assert [p["name"] for p in methods["call_back"]["params"]] == ["method", "params"]
    assert [p["name"] for p in methods["ask_browser"]["params"]] == ["question"]
    for method in full["methods"]:
        assert "connection" not in {p["name"] for p in method["params"]}, method["name"]


# Docstrings --------------------------------------------------------------------------


def test_summary_is_the_first_line_and_description_the_rest(docs_methods: dict[str, Any]) -> None:
    echo = methods_of(docs_methods)["docs.echo_order"]
    assert echo["summary"] == "Return the order it was given."
    assert echo["description"] == "The total goes in as a number or a string\nand comes back as a string."
    one_line = methods_of(docs_methods)["docs.readings"]
    assert one_line["summary"] == "Readings of one sensor; ``limit`` is required, by name only."
    assert "description" not in one_line
    undocumented = methods_of(docs_methods)["docs.pair"]
    assert "summary" not in undocumented and "description" not in undocumented


def test_namespaces_become_tags(full: dict[str, Any]) -> None:
    methods = methods_of(full)
    assert methods["calc.divide"]["tags"] == [{"name": "calc"}]
    assert methods["rpc.ping"]["tags"] == [{"name": "rpc"}]
    assert "tags" not in methods["add"]


# Errors ------------------------------------------------------------------------------


def test_errors_of_an_ordinary_method(full: dict[str, Any]) -> None:
    methods = methods_of(full)
    assert codes(methods["subtract"]) == [-32602, -32603, -32000, -32008]
    assert codes(methods["get_data"]) == [-32603, -32000, -32008]  # no params: no -32602
    assert {"code": -32602, "message": "Invalid params"} in methods["subtract"]["errors"]
    assert {"code": -32008, "message": "Timed out (the time limit is 5 s)", "data": {"method": "subtract"}} in (
        methods["subtract"]["errors"]
    )


def test_no_time_limit_no_timeout_error() -> None:
    doc = valid(document(get_registry(), time_limit=None))
    assert all(-32008 not in codes(method) for method in doc["methods"])


def test_methods_with_permissions_may_refuse(full: dict[str, Any]) -> None:
    methods = methods_of(full)
    assert codes(methods["secured.staff"]) == [-32603, -32000, -32001, -32003, -32008]
    assert {"code": -32003, "message": "Permission denied", "data": {"method": "staff.purge"}} in (
        methods["staff.purge"]["errors"]
    )
    assert -32001 not in codes(methods["subtract"])


def test_reserved_methods_are_described(full: dict[str, Any]) -> None:
    methods = methods_of(full)
    ping, discover = methods["rpc.ping"], methods["rpc.discover"]
    assert ping["params"] == [] and ping["result"]["schema"] == {"const": "pong", "type": "string"}
    assert ping["summary"].startswith('Answer "pong"')
    assert discover["params"] == []
    assert discover["result"]["schema"]["required"] == ["openrpc", "info", "methods"]
    assert [(p["name"], p["required"]) for p in methods["rpc.subscribe"]["params"]] == [
        ("topic", True),
        ("since", False),
        ("rewind", False),
    ]
    for name in ("rpc.subscribe", "rpc.unsubscribe"):
        topic = methods[name]["params"][0]
        assert topic["name"] == "topic" and topic["required"] is True
        assert topic["schema"]["pattern"] == PATTERN_REGEX and topic["schema"]["maxLength"] == 200
        assert methods[name]["result"]["schema"] == {"$ref": "#/components/schemas/Subscription"}
        assert -32000 not in codes(methods[name])
    assert full["components"]["schemas"]["Subscription"]["required"] == ["topic", "subscribed"]
    publish = methods["rpc.publish"]
    assert [(p["name"], p["required"]) for p in publish["params"]] == [("topic", True), ("data", False)]
    assert publish["params"][0]["schema"]["pattern"] == TOPIC_REGEX
    assert publish["result"]["schema"] == {"$ref": "#/components/schemas/Publication"}
    assert codes(methods["rpc.subscribe"]) == [-32600, -32602, -32603, -32003, -32004, -32008, -32029, -32053]
    assert codes(methods["rpc.publish"]) == [-32602, -32603, -32003, -32004, -32008, -32029, -32053]
    history = methods["rpc.history"]
    assert [(p["name"], p["required"]) for p in history["params"]] == [
        ("topic", True),
        ("since", False),
        ("limit", False),
    ]
    assert set(codes(history)) == {-32602, -32603, -32003, -32004, -32008, -32053}
    assert codes(methods["rpc.unsubscribe"]) == [-32600, -32602, -32603, -32004, -32008]
    for name, result in (("rpc.presence", "Presence"), ("rpc.presence_stats", "PresenceStats")):
        assert [(p["name"], p["required"]) for p in methods[name]["params"]] == [("topic", True)]
        assert methods[name]["result"]["schema"] == {"$ref": f"#/components/schemas/{result}"}
        assert set(codes(methods[name])) == {-32602, -32603, -32003, -32004, -32008, -32053}
    assert full["components"]["schemas"]["Client"]["required"] == ["connection", "user", "user_id"]
    info = methods["rpc.info"]
    assert info["params"] == [] and info["result"]["schema"]["required"] == ["connection", "user", "user_id"]


@pytest.mark.parametrize(
    "name",
    ["chat.lobby", "a", "A-b_9.x", "chat.*", "chat.#", "*", "#.x", "a..b", ".a", "a.", "a b", "a.*b", "", "é", "a.##"],
)
def test_the_topic_regexes_agree_with_the_validators(name: str) -> None:
    def accepts(validate: Any) -> bool:
        try:
            validate(name)
        except Exception:
            return False
        return True

    assert bool(re.search(TOPIC_REGEX, name)) is accepts(validate_topic)
    assert bool(re.search(PATTERN_REGEX, name)) is accepts(validate_pattern)


# Servers -----------------------------------------------------------------------------


def test_servers_of_a_scope() -> None:
    headers = [(b"host", b"example.com:8000")]
    assert servers_of_scope({"type": "websocket", "path": "/ws/rpc/", "headers": headers}) == [
        {"name": "WebSocket", "url": "ws://example.com:8000/ws/rpc/"}
    ]
    assert servers_of_scope({"type": "http", "scheme": "https", "path": "/wsrpc/rpc/", "headers": headers}) == [
        {"name": "HTTP", "url": "https://example.com:8000/wsrpc/rpc/"}
    ]
    assert servers_of_scope({"type": "websocket", "path": "/ws/rpc/", "headers": []}) == []
    assert servers_of_scope({}) == []


# rpc.discover ------------------------------------------------------------------------


async def test_discover_is_valid_and_names_its_server() -> None:
    async with RpcTestClient(headers=[(b"host", b"testserver")]) as client:
        doc = valid(await client.call("rpc.discover"))
    assert doc["servers"] == [{"name": "WebSocket", "url": "ws://testserver/ws/rpc/"}]
    methods = methods_of(doc)
    assert RESERVED | {"typed", "rich", "subtract"} <= set(methods)
    # The connection's dispatcher has the settings' time limit.
    assert {"code": -32008, "message": "Timed out (the time limit is 5 s)", "data": {"method": "typed"}} in (
        methods["typed"]["errors"]
    )


@pytest.mark.django_db(transaction=True)
async def test_discover_lists_what_each_user_may_call() -> None:
    user_model = get_user_model()
    staff = await sync_to_async(user_model.objects.create_user)("stella", is_staff=True)
    member = await sync_to_async(user_model.objects.create_user)("max")
    with override_settings(WSRPC=wsrpc(METHODS=["tests.support.docs_methods"])):
        async with RpcTestClient() as client:
            anonymous = valid(await client.call("rpc.discover"))
        async with RpcTestClient(user=member) as client:
            logged_in = valid(await client.call("rpc.discover"))
        async with RpcTestClient(user=staff) as client:
            for_staff = valid(await client.call("rpc.discover"))
    assert "docs.staff" not in methods_of(anonymous) and "docs.members" not in methods_of(anonymous)
    assert "docs.staff" not in methods_of(logged_in) and "docs.members" in methods_of(logged_in)
    assert {"docs.staff", "docs.members"} <= set(methods_of(for_staff))
    assert RESERVED <= set(methods_of(anonymous))
    assert codes(methods_of(for_staff)["docs.staff"]) == [-32603, -32000, -32001, -32003, -32008]
    # What a caller may not call leaves no trace in the document.
    assert "docs.staff" not in str(anonymous)
