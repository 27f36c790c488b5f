"""Hostile input against live servers (daphne and uvicorn): nothing crashes, no other
connection is disturbed, and nothing is left behind.

Every test runs under :func:`keeps_answering` (a second connection pinging
throughout, answered within a second each time), and the ones that could
leave something behind compare the server's tasks, endpoints and hub routes
with a baseline (``server_stats``, a test-only method).

``roomy_server`` raises the servers' own frame limits to 32 MiB (daphne: 1 MiB
by default, uvicorn: 16 MiB) and the app's ``MAX_MESSAGE_BYTES`` to 4 MiB, so
that large frames reach the application; the session ``server`` keeps the
test settings' 64 KiB.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.support.model import check_frame, encode, expected_replies, payloads, same_ids
from tests.support.servers import SERVERS, ServerProcess

from .server_stats import MB, no_crash, quiet_baseline, server_stats, settled  # noqa: F401
from .wire import assert_silent, call, keeps_answering, open_socket, recv_json, send_json

pytestmark = pytest.mark.e2e

MAX_MESSAGE_BYTES = 64 * 1024
MAX_BATCH_LENGTH = 50
MAX_IN_FLIGHT = 16
#: How the app closes for a frame over MAX_MESSAGE_BYTES (daphne refuses 1009 from an application).
MESSAGE_TOO_BIG = {"daphne": 4009, "uvicorn": 1009}

ROOMY_SERVER_LIMIT = 32 * MB
ROOMY_APP_LIMIT = 4 * MB


class RoomyServer(ServerProcess):
    """A server whose own frame limit is 32 MiB."""

    def command(self) -> list[str]:
        size = str(ROOMY_SERVER_LIMIT)
        if self.name == "daphne":
            return [*super().command(), "--websocket-max-message-size", size, "--websocket-max-frame-size", size]
        return [*super().command(), "--ws-max-size", size]


@pytest.fixture(scope="module", params=SERVERS)
def roomy_server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    with RoomyServer(request.param, env={"WSRPC_TEST_MAX_MESSAGE_BYTES": str(ROOMY_APP_LIMIT)}) as process:
        yield process


def error_of(reply: dict[str, Any], code: int, id_: Any) -> dict[str, Any]:
    assert reply["jsonrpc"] == "2.0"
    assert reply["id"] == id_
    assert "result" not in reply
    assert reply["error"]["code"] == code, reply
    return dict(reply["error"])


async def closed_by(ws: ClientConnection, frame: str | bytes, within: float = 10.0) -> int | None:
    """Send ``frame``; the close code the server answered with, or None when it dropped the TCP connection.

    A server that drops the connection may do so while the frame is still being sent.
    """
    with pytest.raises(ConnectionClosed) as closed:
        await ws.send(frame)
        await recv_json(ws, within)
    return None if closed.value.rcvd is None else closed.value.rcvd.code


# Parse errors that must not take the connection down ----------------------------------------------------


async def test_deeply_nested_json(roomy_server: ServerProcess) -> None:
    async with keeps_answering(roomy_server), open_socket(roomy_server, max_size=None) as ws:
        for frame in ["[" * 100_000, "[" * 100_000 + "]" * 100_000, '{"a":' * 100_000 + "1" + "}" * 100_000]:
            error = error_of(await call(ws, frame), -32700, None)
            assert "depth" in json.dumps(error.get("data", "")), error
        await assert_silent(ws)


async def test_50000_element_batch_is_refused_at_once(roomy_server: ServerProcess) -> None:
    baseline = await quiet_baseline(roomy_server)
    requests = [{"jsonrpc": "2.0", "method": "sleep", "params": [10], "id": n} for n in range(50_000)]
    notifications = [{"jsonrpc": "2.0", "method": "sleep", "params": [10]} for n in range(50_000)]
    async with keeps_answering(roomy_server), open_socket(roomy_server) as ws:
        for batch in (requests, notifications):
            frame = json.dumps(batch)
            assert MAX_MESSAGE_BYTES < len(frame) < ROOMY_APP_LIMIT
            started = time.monotonic()
            error = error_of(await call(ws, frame), -32600, None)
            assert time.monotonic() - started < 2.0, "refused after parsing, before running anything"
            assert error["data"] == f"batch of 50000 exceeds the limit of {MAX_BATCH_LENGTH}"
        await assert_silent(ws)
    await settled(roomy_server, baseline)  # nothing of them runs


async def test_16_mib_frame_is_closed_by_the_app(roomy_server: ServerProcess) -> None:
    baseline = await quiet_baseline(roomy_server)
    async with keeps_answering(roomy_server), open_socket(roomy_server, max_size=None) as ws:
        frame = json.dumps({"jsonrpc": "2.0", "method": "echo", "params": ["x" * (16 * MB)], "id": 1})
        assert await closed_by(ws, frame) == MESSAGE_TOO_BIG[roomy_server.name]
    await settled(roomy_server, baseline)


@pytest.mark.parametrize("size", [MB + 1, 16 * MB, 16 * MB + 1], ids=["1MiB+1", "16MiB", "16MiB+1"])
async def test_the_servers_own_frame_limit(server: ServerProcess, size: int) -> None:
    """Over its own limit, daphne (autobahn) drops the TCP connection; uvicorn closes with 1009.

    daphne's limit is 1 MiB (``--websocket-max-message-size``) and it fails a
    connection "by drop", without a close frame; uvicorn's is 16 MiB
    (``--ws-max-size``), and a frame of exactly 16 MiB reaches the app, which
    closes with 1009 as well.
    """
    baseline = await quiet_baseline(server)
    async with keeps_answering(server), open_socket(server, max_size=None) as ws:
        assert await closed_by(ws, "x" * size) == {"daphne": None, "uvicorn": 1009}[server.name]
    await settled(server, baseline)


async def test_huge_numbers(server: ServerProcess) -> None:
    cases = [
        ("18446744073709551615", {"result": 18446744073709551615}),  # the largest integer kept exact
        ("-9223372036854775808", {"result": -9223372036854775808}),
        ("18446744073709551616", {"result": 18446744073709551616.0}),  # beyond 64 bits: a double
        ("1e308", {"result": 1e308}),
        ("-1.5e-320", {"result": -1.5e-320}),
        ("1e-400", {"result": 0.0}),
        ("1e400", -32700),  # overflows a double: Infinity, which JSON does not have
        ("9" * 400, -32700),
        ('[1, [2, {"x": -Infinity}]]', -32700),
        ("NaN", -32700),
    ]
    async with keeps_answering(server), open_socket(server) as ws:
        for number, expected in cases:
            reply = await call(ws, f'{{"jsonrpc": "2.0", "method": "echo", "params": [{number}], "id": 1}}')
            if isinstance(expected, int):
                error_of(reply, expected, None)
            else:
                assert reply == {"jsonrpc": "2.0", **expected, "id": 1}, number
        # Huge ids are echoed; a result beyond 64 bits has no JSON form here: an internal error.
        reply = await call(ws, '{"jsonrpc": "2.0", "method": "rpc.ping", "id": 1e300}')
        assert reply == {"jsonrpc": "2.0", "result": "pong", "id": 1e300}
        reply = await call(
            ws, '{"jsonrpc": "2.0", "method": "sum", "params": [9223372036854775808, 9223372036854775808], "id": 2}'
        )
        error_of(reply, -32603, 2)
        await assert_silent(ws)


# Frames that are not JSON text ------------------------------------------------------------------------------


async def test_binary_frames(server: ServerProcess) -> None:
    rng = random.Random(1)
    frames = [
        b"",
        json.dumps({"jsonrpc": "2.0", "method": "rpc.ping", "id": 1}).encode(),
        bytes(rng.randrange(256) for _ in range(1000)),
        b"\x00" * MAX_MESSAGE_BYTES,
    ]
    async with keeps_answering(server), open_socket(server) as ws:
        for frame in frames:
            await ws.send(frame)
            error_of(await recv_json(ws), -32600, None)
        await assert_silent(ws)
        # Over the limit, a binary frame closes the connection as a text frame does.
        assert await closed_by(ws, b"\x00" * (MAX_MESSAGE_BYTES + 1)) == MESSAGE_TOO_BIG[server.name]


async def test_invalid_utf8_in_a_text_frame(server: ServerProcess) -> None:
    """The WebSocket layer refuses it: uvicorn closes with 1007, daphne drops the connection."""
    log_mark = len(server.output())
    async with keeps_answering(server), open_socket(server) as ws:
        frame = b'{"jsonrpc": "2.0", "method": "echo", "params": ["\xff\xfe"], "id": 1}'
        with pytest.raises(ConnectionClosed) as closed:
            await ws.send(frame, text=True)  # bytes sent as a text frame, unchecked
            await recv_json(ws)
        assert (closed.value.rcvd and closed.value.rcvd.code) == {"daphne": None, "uvicorn": 1007}[server.name]
    await asyncio.sleep(0.1)
    assert "wsrpc_app" not in server.output()[log_mark:]  # never reached the app (uvicorn logs its own error)


# Floods ------------------------------------------------------------------------------------------------------


async def test_3000_slow_calls_on_one_connection(server: ServerProcess) -> None:
    """The first 16 run and the rest are refused at once with -32029; another connection is answered within a second.

    2984 are refused, unless sending them all outlasts a call: those sent after
    the first calls finished may run too.
    """
    calls, seconds = 3000, 1.0
    baseline = await quiet_baseline(server)
    async with keeps_answering(server, max_latency=1.0) as latencies, open_socket(server) as ws:
        started = time.monotonic()
        for n in range(calls):
            await send_json(ws, {"jsonrpc": "2.0", "method": "sleep", "params": [seconds], "id": n})
        replies = [await recv_json(ws, within=10) for _ in range(calls)]
        elapsed = time.monotonic() - started
        assert sorted(r["id"] for r in replies) == list(range(calls))  # each answered once
        refused = [r for r in replies if "error" in r]
        done = sorted(r["id"] for r in replies if "result" in r)
        assert all(r["error"]["code"] == -32029 for r in refused)
        assert done[:MAX_IN_FLIGHT] == list(range(MAX_IN_FLIGHT))
        assert len(refused) > calls * 0.9, f"only {len(refused)} refused"
        assert elapsed < seconds + 5
        assert await call(ws, {"jsonrpc": "2.0", "method": "sleep", "params": [0], "id": "after"}) == {
            "jsonrpc": "2.0",
            "result": 0,
            "id": "after",
        }
    assert len(latencies) >= 5
    await settled(server, baseline)


async def one_cycle(server: ServerProcess, n: int) -> None:
    """One short-lived connection, of six kinds."""
    kind = n % 6
    if kind == 5:  # refused at the handshake
        with pytest.raises(InvalidStatus):
            async with open_socket(server, origin="http://evil.example"):
                pass
        return
    async with open_socket(server) as ws:
        if kind == 0:
            assert (await call(ws, {"jsonrpc": "2.0", "method": "rpc.ping", "id": 1}))["result"] == "pong"
        elif kind == 1:
            reply = await call(ws, {"jsonrpc": "2.0", "method": "rpc.subscribe", "params": ["chat.lobby"], "id": 1})
            assert reply["result"]["subscribed"] is True
        elif kind == 2:  # a method still running, then the TCP connection drops
            await send_json(ws, {"jsonrpc": "2.0", "method": "sleep", "params": [30], "id": 1})
            assert (await call(ws, {"jsonrpc": "2.0", "method": "rpc.ping", "id": 2}))["result"] == "pong"
            ws.transport.abort()
        elif kind == 3:  # a server-to-client call left unanswered
            request = await call(ws, {"jsonrpc": "2.0", "method": "call_back", "params": ["client.wait"], "id": 1})
            assert request["method"] == "client.wait"
        else:  # garbage
            assert (await call(ws, "{nope"))["error"]["code"] == -32700


async def test_3000_connect_disconnect_cycles(server: ServerProcess) -> None:
    """Tasks, endpoints and hub routes come back to the baseline; memory stops growing.

    Measured on 2 busy CPUs after the warm-up: tasks back to exactly the
    baseline (5 on daphne, 6 on uvicorn: the hub's two, the server's own, the
    asking connection's), one endpoint (the asking one), no route, no new
    thread. RSS grows in steps as allocator arenas fill: on daphne +10 to
    +17 MiB over the first 4,000 cycles, then flat for 10,000 more; a step
    of 1 to 3 MiB can still land in any stretch of 500 cycles after the
    warm-up of 3,000, and most stretches add 0 to 0.5 MiB. A leak of 4 KiB a connection would add 2 MiB
    to every stretch; the exact counts above catch smaller ones of whole objects.
    """
    for start in range(0, 3000, 10):  # warm up: thread pool, caches, allocator arenas
        await asyncio.gather(*(one_cycle(server, n) for n in range(start, start + 10)))
    baseline = await quiet_baseline(server)
    rss = [baseline["rss"]]
    async with keeps_answering(server, max_latency=1.0):
        for stretch in range(6):
            for start in range(stretch * 500, stretch * 500 + 500, 10):
                await asyncio.gather(*(one_cycle(server, n) for n in range(start, start + 10)))
            rss.append((await server_stats(server))["rss"])
    after = await settled(server, baseline, within=10)
    print(
        f"\n{server.name}: tasks {baseline['tasks']} -> {after['tasks']}, endpoints {after['endpoints']}, "
        f"routes {after['routes']}, threads {baseline['threads']} -> {after['threads']}, "
        f"rss {' -> '.join(f'{r / MB:.1f}' for r in rss)} MiB"
    )
    growths = sorted(later - earlier for earlier, later in itertools.pairwise(rss))
    assert growths[len(growths) // 2] < 2 * MB, growths  # the median stretch
    assert rss[-1] - rss[0] < 24 * MB
    assert after["tasks"] == baseline["tasks"]


@pytest.mark.parametrize("how", ["close", "abort"])
async def test_client_leaves_in_the_middle_of_a_server_call(server: ServerProcess, how: str) -> None:
    baseline = await quiet_baseline(server)
    async with keeps_answering(server):
        for _ in range(20):
            async with open_socket(server) as leaving:
                await send_json(leaving, {"jsonrpc": "2.0", "method": "call_back", "params": ["c.slow"], "id": 1})
                assert (await recv_json(leaving))["method"] == "c.slow"
                if how == "close":
                    await leaving.close()
                else:
                    leaving.transport.abort()
        # This one and keeps_answering's, once the server has seen the last leaver go.
        deadline = time.monotonic() + 2.0
        for _ in range(40):
            during = await server_stats(server)
            if during["endpoints"] <= 2 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        assert during["endpoints"] <= 2, during
    await settled(server, baseline)


# Fuzzing a live connection --------------------------------------------------------------------------------------


#: One frame: JSON-RPC-shaped or any JSON (text), any text, or any bytes.
frames = payloads.map(encode) | st.text(st.characters(codec="utf-8"), max_size=200) | st.binary(max_size=200)


async def exchange(server: ServerProcess, batch: list[str | bytes], witness: ClientConnection) -> None:
    """Send the frames on a fresh connection: every reply per the model, nothing more; the witness still answers."""
    owed: list[tuple[str, list[Any]]] = []
    for frame in batch:
        if isinstance(frame, bytes):
            owed.append(("single", [None]))  # -32600
            continue
        try:
            payload = orjson.loads(frame)
        except orjson.JSONDecodeError:
            owed.append(("single", [None]))  # -32700
            continue
        shape, ids = expected_replies(payload, max_batch=MAX_BATCH_LENGTH)
        if shape != "none":
            owed.append((shape, ids))
    async with open_socket(server) as ws:
        for frame in batch:
            await ws.send(frame)
        got = [check_frame(await ws.recv()) for _ in owed]
        # Replies run concurrently: compare as multisets.
        assert sorted(shape for shape, _ in got) == sorted(shape for shape, _ in owed)
        assert same_ids([i for _, ids in got for i in ids], [i for _, ids in owed for i in ids])
        await assert_silent(ws, quiet=0.05)
    assert (await call(witness, {"jsonrpc": "2.0", "method": "rpc.ping", "id": "w"}, within=1.0))["result"] == "pong"


def test_random_frames_to_a_live_server(server: ServerProcess) -> None:
    """Any frames: answered per the specification (tests/protocol/model.py), or refused; never a crash."""
    with asyncio.Runner() as runner:
        baseline = runner.run(quiet_baseline(server))
        witness_cm = open_socket(server)
        witness = runner.run(witness_cm.__aenter__())

        @settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(st.lists(frames, min_size=1, max_size=4))
        def sends(batch: list[str | bytes]) -> None:
            runner.run(exchange(server, batch, witness))

        try:
            sends()
        finally:
            runner.run(witness_cm.__aexit__(None, None, None))
        runner.run(settled(server, baseline))
