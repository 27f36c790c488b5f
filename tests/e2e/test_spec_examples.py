"""Section 7 of the JSON-RPC 2.0 specification, example by example, on a live socket.

https://www.jsonrpc.org/specification#examples
"""

from __future__ import annotations

from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from .wire import assert_silent, call, send_json

pytestmark = pytest.mark.e2e


def by_id(replies: list[dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    """A batch's replies keyed by id: section 6 lets them come in any order."""
    keyed = {reply["id"]: reply for reply in replies}
    assert len(keyed) == len(replies), f"duplicate ids in {replies}"
    return keyed


def assert_error(reply: dict[str, Any], code: int, id_: Any) -> None:
    assert reply["jsonrpc"] == "2.0"
    assert reply["id"] == id_
    assert "result" not in reply
    assert reply["error"]["code"] == code
    assert isinstance(reply["error"]["message"], str) and reply["error"]["message"]


async def test_positional_parameters(ws: ClientConnection) -> None:
    assert await call(ws, '{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}') == {
        "jsonrpc": "2.0",
        "result": 19,
        "id": 1,
    }
    assert await call(ws, '{"jsonrpc": "2.0", "method": "subtract", "params": [23, 42], "id": 2}') == {
        "jsonrpc": "2.0",
        "result": -19,
        "id": 2,
    }


async def test_named_parameters(ws: ClientConnection) -> None:
    assert await call(
        ws, '{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}'
    ) == {"jsonrpc": "2.0", "result": 19, "id": 3}
    assert await call(
        ws, '{"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 42, "subtrahend": 23}, "id": 4}'
    ) == {"jsonrpc": "2.0", "result": 19, "id": 4}


async def test_notifications_get_no_reply(ws: ClientConnection) -> None:
    await send_json(ws, '{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}')
    await send_json(ws, '{"jsonrpc": "2.0", "method": "foobar"}')
    await assert_silent(ws)


async def test_non_existent_method(ws: ClientConnection) -> None:
    reply = await call(ws, '{"jsonrpc": "2.0", "method": "foobar", "id": "1"}')
    assert_error(reply, -32601, "1")
    assert reply["error"]["message"] == "Method not found"


async def test_invalid_json_then_the_connection_stays_open(ws: ClientConnection) -> None:
    reply = await call(ws, '{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]')
    assert_error(reply, -32700, None)
    assert reply["error"]["message"] == "Parse error"
    assert await call(ws, '{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}') == {
        "jsonrpc": "2.0",
        "result": 19,
        "id": 1,
    }


async def test_invalid_request_object(ws: ClientConnection) -> None:
    reply = await call(ws, '{"jsonrpc": "2.0", "method": 1, "params": "bar"}')
    assert_error(reply, -32600, None)
    assert reply["error"]["message"] == "Invalid Request"


async def test_batch_invalid_json(ws: ClientConnection) -> None:
    reply = await call(
        ws,
        '[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},{"jsonrpc": "2.0", "method"]',
    )
    assert_error(reply, -32700, None)


async def test_empty_array(ws: ClientConnection) -> None:
    reply = await call(ws, "[]")
    assert isinstance(reply, dict), "an empty batch is answered with a single error object, not an array"
    assert_error(reply, -32600, None)


async def test_invalid_batch_of_one(ws: ClientConnection) -> None:
    reply = await call(ws, "[1]")
    assert isinstance(reply, list) and len(reply) == 1
    assert_error(reply[0], -32600, None)


async def test_invalid_batch(ws: ClientConnection) -> None:
    reply = await call(ws, "[1,2,3]")
    assert isinstance(reply, list) and len(reply) == 3
    for element in reply:
        assert_error(element, -32600, None)


async def test_mixed_batch(ws: ClientConnection) -> None:
    reply = await call(
        ws,
        """[
        {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
        {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
        {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},
        {"foo": "boo"},
        {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
        {"jsonrpc": "2.0", "method": "get_data", "id": "9"}
        ]""",
    )
    assert isinstance(reply, list) and len(reply) == 5
    replies = by_id(reply)
    assert set(replies) == {"1", "2", None, "5", "9"}
    assert replies["1"] == {"jsonrpc": "2.0", "result": 7, "id": "1"}
    assert replies["2"] == {"jsonrpc": "2.0", "result": 19, "id": "2"}
    assert_error(replies[None], -32600, None)
    assert_error(replies["5"], -32601, "5")
    assert replies["9"] == {"jsonrpc": "2.0", "result": ["hello", 5], "id": "9"}


async def test_batch_of_notifications_gets_nothing(ws: ClientConnection) -> None:
    await send_json(
        ws,
        """[
        {"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]},
        {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}
        ]""",
    )
    await assert_silent(ws)
