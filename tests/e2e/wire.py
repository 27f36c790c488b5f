"""A plain WebSocket peer for the end-to-end tests: raw JSON frames, nothing hidden.

The tests speak the wire protocol themselves with ``websockets`` so that what
they assert is exactly what any client would see.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from tests.support.servers import ServerProcess

__all__ = ["REPLY_TIMEOUT", "open_socket", "send_json", "recv_json", "call", "assert_silent", "keeps_answering"]

#: How long a test waits for a frame it expects.
REPLY_TIMEOUT = 5.0


def _strict_constant(name: str) -> Any:
    raise AssertionError(f"the server sent {name}, which is not JSON")


def loads(text: str | bytes) -> Any:
    """Decode a frame as strict JSON: NaN and Infinity fail the test."""
    assert isinstance(text, str), f"expected a text frame, got {type(text).__name__}"
    return json.loads(text, parse_constant=_strict_constant)


@contextlib.asynccontextmanager
async def open_socket(server: ServerProcess, **kwargs: Any) -> AsyncIterator[ClientConnection]:
    """A WebSocket connection to ``server``'s ``ws/rpc/`` endpoint."""
    options: dict[str, Any] = {
        "origin": server.origin,
        "proxy": None,
        "open_timeout": REPLY_TIMEOUT,
        "close_timeout": 2,
    }
    async with connect(server.ws_url, **(options | kwargs)) as ws:
        yield ws


async def send_json(ws: ClientConnection, message: Any) -> None:
    """Send one text frame holding ``message`` as JSON (or ``message`` itself when it is a str)."""
    await ws.send(message if isinstance(message, str) else json.dumps(message))


async def recv_json(ws: ClientConnection, within: float = REPLY_TIMEOUT) -> Any:
    """The next frame, decoded; fails unless it comes ``within`` seconds."""
    async with asyncio.timeout(within):
        return loads(await ws.recv())


async def call(ws: ClientConnection, message: Any, within: float = REPLY_TIMEOUT) -> Any:
    """Send one frame and return the next frame received (``within`` seconds)."""
    await send_json(ws, message)
    return await recv_json(ws, within)


async def assert_silent(ws: ClientConnection, quiet: float = 0.25) -> None:
    """Prove the server owes nothing: a ping is answered next, and nothing else arrives.

    The ping's reply being the next frame shows that nothing was sent before
    it; a short quiet window afterwards catches a reply that was merely slower.
    """
    reply = await call(ws, {"jsonrpc": "2.0", "method": "rpc.ping", "id": "silent-ping"})
    assert reply == {"jsonrpc": "2.0", "result": "pong", "id": "silent-ping"}
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(quiet):
            extra = await ws.recv()
            raise AssertionError(f"unexpected frame: {extra!r}")


@contextlib.asynccontextmanager
async def keeps_answering(
    server: ServerProcess, *, interval: float = 0.05, max_latency: float = 1.0
) -> AsyncIterator[list[float]]:
    """A second connection pinging the server throughout the block.

    Fails unless every ping is answered with "pong" within ``max_latency``
    seconds, and unless the connection still answers at the end. Yields the
    list of latencies measured so far.
    """
    latencies: list[float] = []
    async with open_socket(server) as ws:

        async def ping_forever() -> None:
            for n in itertools.count():
                started = time.monotonic()
                reply = await call(ws, {"jsonrpc": "2.0", "method": "rpc.ping", "id": n}, within=max_latency)
                assert reply == {"jsonrpc": "2.0", "result": "pong", "id": n}
                latencies.append(time.monotonic() - started)
                await asyncio.sleep(interval)

        pinger = asyncio.create_task(ping_forever())
        try:
            yield latencies
        finally:
            if pinger.done():
                pinger.result()  # re-raises a late or wrong pong
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinger
        # The pinger may have been cancelled mid-call: the connection must still answer.
        await recv_pending(ws)
        reply = await call(ws, {"jsonrpc": "2.0", "method": "rpc.ping", "id": "last"}, within=max_latency)
        assert reply["result"] == "pong"
    assert latencies, "the second connection was never answered"
    assert max(latencies) < max_latency


async def recv_pending(ws: ClientConnection, quiet: float = 0.1) -> list[Any]:
    """Read the frames that arrive until ``quiet`` seconds pass without one."""
    frames = []
    with contextlib.suppress(TimeoutError):
        while True:
            async with asyncio.timeout(quiet):
                frames.append(loads(await ws.recv()))
    return frames
