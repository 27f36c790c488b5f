"""The server calling back into its caller in the middle of a call."""

from __future__ import annotations

import time
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from .conftest import CALL_TIMEOUT
from .wire import assert_silent, call, recv_json, send_json

pytestmark = pytest.mark.e2e


async def server_request(ws: ClientConnection, method: str) -> dict[str, Any]:
    """The next frame, checked to be the server's request for ``method``."""
    request = await recv_json(ws)
    assert request["jsonrpc"] == "2.0"
    assert request["method"] == method
    assert "id" in request, f"expected a request, got a notification: {request}"
    return dict(request)


async def test_the_client_answers_and_the_call_returns_its_answer(ws: ClientConnection) -> None:
    await send_json(ws, {"jsonrpc": "2.0", "method": "call_back", "params": ["client.add", [2, 3]], "id": 1})
    request = await server_request(ws, "client.add")
    assert request["params"] == [2, 3]

    reply = await call(
        ws, {"jsonrpc": "2.0", "result": request["params"][0] + request["params"][1], "id": request["id"]}
    )
    assert reply == {"jsonrpc": "2.0", "result": 5, "id": 1}


async def test_named_params_reach_the_client(ws: ClientConnection) -> None:
    params = {"question": "colour?", "choices": ["red", "blue"]}
    await send_json(
        ws, {"jsonrpc": "2.0", "method": "call_back", "params": {"method": "ask", "params": params}, "id": 7}
    )
    request = await server_request(ws, "ask")
    assert request["params"] == params

    reply = await call(ws, {"jsonrpc": "2.0", "result": {"answer": "blue"}, "id": request["id"]})
    assert reply == {"jsonrpc": "2.0", "result": {"answer": "blue"}, "id": 7}


async def test_calls_in_both_directions_interleave(ws: ClientConnection) -> None:
    """Two server calls pending at once, answered in reverse order; a plain call runs meanwhile."""
    await send_json(ws, {"jsonrpc": "2.0", "method": "call_back", "params": ["first", []], "id": "a"})
    first = await server_request(ws, "first")
    await send_json(ws, {"jsonrpc": "2.0", "method": "call_back", "params": ["second", []], "id": "b"})
    second = await server_request(ws, "second")
    assert first["id"] != second["id"]
    assert await call(ws, {"jsonrpc": "2.0", "method": "subtract", "params": [3, 1], "id": "c"}) == {
        "jsonrpc": "2.0",
        "result": 2,
        "id": "c",
    }

    assert await call(ws, {"jsonrpc": "2.0", "result": "two", "id": second["id"]}) == {
        "jsonrpc": "2.0",
        "result": "two",
        "id": "b",
    }
    assert await call(ws, {"jsonrpc": "2.0", "result": "one", "id": first["id"]}) == {
        "jsonrpc": "2.0",
        "result": "one",
        "id": "a",
    }


async def test_an_error_from_the_client_becomes_the_methods_error(ws: ClientConnection) -> None:
    await send_json(ws, {"jsonrpc": "2.0", "method": "call_back", "params": ["client.reserve", ["X1"]], "id": 2})
    request = await server_request(ws, "client.reserve")

    error = {"code": -32050, "message": "Out of stock", "data": {"sku": "X1"}}
    reply = await call(ws, {"jsonrpc": "2.0", "error": error, "id": request["id"]})
    assert reply == {"jsonrpc": "2.0", "error": error, "id": 2}


async def test_a_client_that_never_answers_times_out(ws: ClientConnection) -> None:
    started = time.monotonic()
    await send_json(ws, {"jsonrpc": "2.0", "method": "call_back", "params": ["client.hang", []], "id": 3})
    request = await server_request(ws, "client.hang")

    # The server gives up: it cancels the call at the client, then answers its caller.
    cancel = await recv_json(ws, within=CALL_TIMEOUT + 3)
    assert cancel == {"jsonrpc": "2.0", "method": "rpc.cancel", "params": {"id": request["id"]}}
    reply = await recv_json(ws)
    elapsed = time.monotonic() - started
    assert reply["id"] == 3
    assert reply["error"]["code"] == -32008
    assert CALL_TIMEOUT - 0.2 <= elapsed <= CALL_TIMEOUT + 1.5, f"timed out after {elapsed:.2f} s"

    # The answer arrives too late: it is dropped quietly, and the connection carries on.
    await send_json(ws, {"jsonrpc": "2.0", "result": "late", "id": request["id"]})
    await assert_silent(ws)
    await send_json(ws, {"jsonrpc": "2.0", "method": "call_back", "params": ["client.again", []], "id": 4})
    again = await server_request(ws, "client.again")
    assert again["id"] != request["id"], "a new call must not reuse the id of the one that timed out"
    assert await call(ws, {"jsonrpc": "2.0", "result": "on time", "id": again["id"]}) == {
        "jsonrpc": "2.0",
        "result": "on time",
        "id": 4,
    }


async def test_a_reply_to_no_call_is_ignored(ws: ClientConnection) -> None:
    await send_json(ws, {"jsonrpc": "2.0", "result": "who asked?", "id": 424242})
    await send_json(ws, {"jsonrpc": "2.0", "error": {"code": -1, "message": "nobody"}, "id": "nope"})
    await assert_silent(ws)


async def test_the_server_notifies_its_caller(ws: ClientConnection) -> None:
    await send_json(ws, {"jsonrpc": "2.0", "method": "notify_back", "params": ["client.hello", ["hi", 1]], "id": 5})
    assert await recv_json(ws) == {"jsonrpc": "2.0", "method": "client.hello", "params": ["hi", 1]}
    assert await recv_json(ws) == {"jsonrpc": "2.0", "result": True, "id": 5}
