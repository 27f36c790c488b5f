"""Bad input on a live server: each gets its error, and a second connection never notices.

Every test runs under :func:`keeps_answering`: another connection pings the
same server throughout and must get "pong" promptly each time.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from tests.support.servers import ServerProcess

from .wire import assert_silent, call, keeps_answering, loads, open_socket, recv_json, send_json

pytestmark = pytest.mark.e2e

MAX_MESSAGE_BYTES = 64 * 1024
MAX_BATCH_LENGTH = 50
MAX_IN_FLIGHT = 16


def error_of(reply: dict[str, Any], code: int, id_: Any) -> dict[str, Any]:
    """The error object of ``reply``, checked to carry ``code`` and to answer ``id_``."""
    assert reply["jsonrpc"] == "2.0"
    assert reply["id"] == id_
    assert "result" not in reply
    assert reply["error"]["code"] == code, reply
    return dict(reply["error"])


async def test_invalid_json(server: ServerProcess) -> None:
    async with keeps_answering(server), open_socket(server) as ws:
        reply = await call(ws, '{"jsonrpc": "2.0", "method": "subtract", "params": [1, 2], "id": 1')
        error_of(reply, -32700, None)
        await assert_silent(ws)


async def test_binary_frame(server: ServerProcess) -> None:
    async with keeps_answering(server), open_socket(server) as ws:
        await ws.send(json.dumps({"jsonrpc": "2.0", "method": "rpc.ping", "id": 1}).encode())
        error = error_of(await recv_json(ws), -32600, None)
        assert "binary" in json.dumps(error).lower(), error
        await assert_silent(ws)


#: The close code for a frame over the limit: 1009, except under daphne, whose
#: WebSocket layer (autobahn) lets an application send only 1000 and 3000-4999.
MESSAGE_TOO_BIG = {"daphne": 4009, "uvicorn": 1009}


async def test_frame_over_the_size_limit_closes_the_connection(server: ServerProcess) -> None:
    async with keeps_answering(server), open_socket(server) as ws:
        fits = "x" * (MAX_MESSAGE_BYTES - 100)
        reply = await call(ws, {"jsonrpc": "2.0", "method": "echo", "params": [fits], "id": 1})
        assert reply == {"jsonrpc": "2.0", "result": fits, "id": 1}

        await send_json(ws, {"jsonrpc": "2.0", "method": "echo", "params": ["x" * MAX_MESSAGE_BYTES], "id": 2})
        with pytest.raises(ConnectionClosed) as closed:
            await recv_json(ws)
        assert closed.value.rcvd is not None, "the server dropped the connection without a close frame"
        assert closed.value.rcvd.code == MESSAGE_TOO_BIG[server.name]


async def test_unknown_method(server: ServerProcess) -> None:
    async with keeps_answering(server), open_socket(server) as ws:
        error = error_of(await call(ws, {"jsonrpc": "2.0", "method": "no.such.method", "id": "u"}), -32601, "u")
        assert error["message"] == "Method not found"
        assert "no.such.method" in json.dumps(error.get("data"))


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ([42], "subtrahend"),  # missing
        ([42, 23, 1], "too many"),
        ({"minuend": 42, "subtrahend": 23, "bogus": 1}, "bogus"),
    ],
)
async def test_invalid_params(server: ServerProcess, params: Any, problem: str) -> None:
    async with keeps_answering(server), open_socket(server) as ws:
        reply = await call(ws, {"jsonrpc": "2.0", "method": "subtract", "params": params, "id": 1})
        error = error_of(reply, -32602, 1)
        assert problem in json.dumps(error["data"]), error


@pytest.mark.parametrize(
    ("method", "params", "field"),
    [
        ("subtract", {"minuend": "forty-two", "subtrahend": 23}, ["minuend"]),
        ("shapes.area", ["wide", 2], ["width"]),
        ("typed", {"when": "2024-01-02", "point": {"x": 1}, "box": {"label": "b", "size": "1"}}, ["point", "y"]),
    ],
)
async def test_wrong_types(server: ServerProcess, method: str, params: Any, field: list[str]) -> None:
    async with keeps_answering(server), open_socket(server) as ws:
        reply = await call(ws, {"jsonrpc": "2.0", "method": method, "params": params, "id": 1})
        error = error_of(reply, -32602, 1)
        assert [e["loc"] for e in error["data"]["errors"]] == [field], error


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
async def test_non_finite_number_in_input(server: ServerProcess, constant: str) -> None:
    async with keeps_answering(server), open_socket(server) as ws:
        reply = await call(ws, f'{{"jsonrpc": "2.0", "method": "echo", "params": [{constant}], "id": 1}}')
        error_of(reply, -32700, None)
        await assert_silent(ws)


async def test_flood_beyond_the_in_flight_limit(server: ServerProcess) -> None:
    """100 slow calls at once: 16 run, the other 84 are refused at once, and the 16 complete."""
    calls, seconds = 100, 0.5
    async with keeps_answering(server), open_socket(server) as ws:
        started = time.monotonic()
        for n in range(calls):
            await send_json(ws, {"jsonrpc": "2.0", "method": "sleep", "params": [seconds], "id": n})
        arrivals: list[tuple[float, dict[str, Any]]] = []
        for _ in range(calls):
            reply = await recv_json(ws)
            arrivals.append((time.monotonic() - started, reply))

        refused = [(t, r) for t, r in arrivals if "error" in r]
        done = [(t, r) for t, r in arrivals if "result" in r]
        assert sorted(r["id"] for _, r in done) == list(range(MAX_IN_FLIGHT)), "the first 16 calls are the ones run"
        assert sorted(r["id"] for _, r in refused) == list(range(MAX_IN_FLIGHT, calls))
        for _, reply in refused:
            assert error_of(reply, -32029, reply["id"])["message"]
        assert all(r["result"] == seconds for _, r in done)
        # Refused at once: every refusal came before the first admitted call finished.
        assert max(t for t, _ in refused) < min(t for t, _ in done)
        assert max(t for t, _ in refused) < seconds
        assert max(t for t, _ in done) < seconds + 1.0

        # Capacity comes back once they are done.
        assert (await call(ws, {"jsonrpc": "2.0", "method": "sleep", "params": [0], "id": "after"}))["result"] == 0


async def test_batch_over_the_length_limit(server: ServerProcess) -> None:
    ping = {"jsonrpc": "2.0", "method": "rpc.ping"}
    async with keeps_answering(server), open_socket(server) as ws:
        reply = await call(ws, [ping | {"id": n} for n in range(MAX_BATCH_LENGTH + 1)])
        assert isinstance(reply, dict), "a batch refused whole is answered with one error object"
        error_of(reply, -32600, None)

        # A batch of exactly the limit is taken, each element answered; its requests
        # also count against MAX_IN_FLIGHT, so those beyond 16 are refused one by one.
        reply = await call(ws, [ping | {"id": n} for n in range(MAX_BATCH_LENGTH)])
        assert sorted(r["id"] for r in reply) == list(range(MAX_BATCH_LENGTH))
        answered = sorted(r["id"] for r in reply if r.get("result") == "pong")
        assert answered == list(range(MAX_IN_FLIGHT))
        for r in reply:
            if r["id"] >= MAX_IN_FLIGHT:
                error_of(r, -32029, r["id"])


async def test_method_raising(server: ServerProcess) -> None:
    async with keeps_answering(server), open_socket(server) as ws:
        await send_json(ws, {"jsonrpc": "2.0", "method": "fail", "id": 1})
        text = await asyncio.wait_for(ws.recv(), 5)
        assert isinstance(text, str)
        error = error_of(loads(text), -32603, 1)
        assert error["message"] == "Internal error"
        for leak in ("secret internals", "ValueError", "Traceback", "methods.py"):
            assert leak not in text, f"the reply leaks {leak!r}: {text}"
        await assert_silent(ws)


async def test_application_error_keeps_its_code_and_data(server: ServerProcess) -> None:
    async with keeps_answering(server), open_socket(server) as ws:
        reply = await call(ws, {"jsonrpc": "2.0", "method": "fail_rpc", "id": 1})
        assert reply == {
            "jsonrpc": "2.0",
            "error": {"code": -32050, "message": "Out of stock", "data": {"sku": "X1"}},
            "id": 1,
        }


async def test_results_json_cannot_carry(server: ServerProcess) -> None:
    """NaN is never written as a bare NaN, and an unserializable result is an internal error."""
    async with keeps_answering(server), open_socket(server) as ws:
        # loads() fails the test on NaN or Infinity in a frame.
        reply = await call(ws, {"jsonrpc": "2.0", "method": "fail_nan", "id": 1})
        assert reply["id"] == 1
        error_of(await call(ws, {"jsonrpc": "2.0", "method": "unserializable", "id": 2}), -32603, 2)


@pytest.mark.parametrize("how", ["close", "abort"])
async def test_client_leaves_during_a_server_call(server: ServerProcess, how: str) -> None:
    log_mark = len(server.output())
    async with keeps_answering(server):
        async with open_socket(server) as leaving:
            await send_json(leaving, {"jsonrpc": "2.0", "method": "call_back", "params": ["client.slow", []], "id": 1})
            request = await recv_json(leaving)
            assert request["method"] == "client.slow"
            if how == "close":
                await leaving.close()
            else:
                leaving.transport.abort()  # no close frame: the TCP connection just drops

        # New connections are served, server calls included.
        async with open_socket(server) as ws:
            await send_json(ws, {"jsonrpc": "2.0", "method": "call_back", "params": ["client.echo", ["hi"]], "id": 2})
            request = await recv_json(ws)
            assert request["method"] == "client.echo"
            reply = await call(ws, {"jsonrpc": "2.0", "result": "hi", "id": request["id"]})
            assert reply == {"jsonrpc": "2.0", "result": "hi", "id": 2}
    await asyncio.sleep(0.1)  # let the server write its log
    assert "Traceback" not in server.output()[log_mark:]
