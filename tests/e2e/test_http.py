"""JSON-RPC 2.0 over HTTP POST at /wsrpc/rpc/ on the live servers."""

from __future__ import annotations

import pytest

from tests.support.servers import ServerProcess

from .http_post import post

pytestmark = pytest.mark.e2e

RPC = "wsrpc/rpc/"


def test_single_call(server: ServerProcess) -> None:
    reply = post(server, RPC, {"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1})
    assert reply.status == 200
    assert reply.content_type.startswith("application/json")
    assert reply.json() == {"jsonrpc": "2.0", "result": 19, "id": 1}


def test_named_params_and_namespaced_method(server: ServerProcess) -> None:
    reply = post(
        server, RPC, {"jsonrpc": "2.0", "method": "shapes.area", "params": {"width": 3, "height": 4}, "id": "a"}
    )
    assert reply.json() == {"jsonrpc": "2.0", "result": 12, "id": "a"}


def test_batch(server: ServerProcess) -> None:
    reply = post(
        server,
        RPC,
        [
            {"jsonrpc": "2.0", "method": "sum", "params": [1, 2, 4], "id": "1"},
            {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
            {"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": "2"},
            {"foo": "boo"},
            {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
            {"jsonrpc": "2.0", "method": "get_data", "id": "9"},
        ],
    )
    assert reply.status == 200
    replies = {r["id"]: r for r in reply.json()}
    assert len(replies) == 5
    assert replies["1"]["result"] == 7
    assert replies["2"]["result"] == 19
    assert replies[None]["error"]["code"] == -32600
    assert replies["5"]["error"]["code"] == -32601
    assert replies["9"]["result"] == ["hello", 5]


@pytest.mark.parametrize(
    "body",
    [
        {"jsonrpc": "2.0", "method": "update", "params": [1, 2, 3, 4, 5]},
        [{"jsonrpc": "2.0", "method": "notify_sum", "params": [1, 2, 4]}, {"jsonrpc": "2.0", "method": "notify_hello"}],
    ],
    ids=["notification", "batch-of-notifications"],
)
def test_notifications_only_answer_204(server: ServerProcess, body: object) -> None:
    reply = post(server, RPC, body)
    assert reply.status == 204
    assert reply.body == b""


def test_parse_error(server: ServerProcess) -> None:
    reply = post(server, RPC, '{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]')
    assert reply.status == 200
    error = reply.json()
    assert error["id"] is None
    assert error["error"]["code"] == -32700


def test_empty_batch(server: ServerProcess) -> None:
    reply = post(server, RPC, "[]")
    assert reply.json()["error"]["code"] == -32600


def test_the_client_cannot_be_called_back_over_http(server: ServerProcess) -> None:
    reply = post(server, RPC, {"jsonrpc": "2.0", "method": "call_back", "params": ["client.add", [1, 2]], "id": 1})
    error = reply.json()["error"]
    assert error["code"] == -32000
    assert "HTTP" in error["message"]


def test_method_raising_leaks_nothing(server: ServerProcess) -> None:
    reply = post(server, RPC, {"jsonrpc": "2.0", "method": "fail", "id": 1})
    assert reply.json() == {"jsonrpc": "2.0", "error": {"code": -32603, "message": "Internal error"}, "id": 1}
    assert b"secret" not in reply.body
