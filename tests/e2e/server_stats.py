"""What a live server holds, through the test-only ``server_stats`` method (tests/secured_methods.py).

A leak shows as tasks, endpoints or hub routes that stay after their
connections have gone: :func:`settled` waits for the server to come back to
a baseline and fails with what stayed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.servers import ServerProcess

from .wire import call, open_socket

__all__ = ["Stats", "server_stats", "quiet_baseline", "settled", "no_crash", "MB", "POOL_THREADS"]

MB = 1024 * 1024
#: The threads sync methods may start and keep (THREAD_POOL_SIZE, unset in the test settings).
POOL_THREADS = 32

#: tasks, routes, user_routes, threads, endpoints (the asking connection's own is one), rss.
Stats = dict[str, int]


async def server_stats(server: ServerProcess, **options: Any) -> Stats:
    async with open_socket(server) as ws:
        reply = await call(ws, {"jsonrpc": "2.0", "method": "server_stats", "params": options, "id": "stats"})
    stats: Stats = reply["result"]
    return stats


async def quiet_baseline(server: ServerProcess, *, within: float = 10.0) -> Stats:
    """The server's stats once what earlier tests started has ended: one endpoint, a stable task count.

    The process's hub (two tasks for good) is started first, by a subscription.
    """
    async with open_socket(server) as ws:
        reply = await call(ws, {"jsonrpc": "2.0", "method": "rpc.subscribe", "params": ["chat.lobby"], "id": 1})
        assert "result" in reply, reply
    deadline = time.monotonic() + within
    previous: Stats | None = None
    while True:
        stats = await server_stats(server)
        if stats["endpoints"] == 1 and previous is not None and stats["tasks"] == previous["tasks"]:
            return stats
        if time.monotonic() > deadline:
            raise AssertionError(f"the server did not quieten down: {stats}")
        previous = stats
        await asyncio.sleep(0.2)


async def settled(
    server: ServerProcess,
    baseline: Stats,
    *,
    extra_tasks: int = 0,
    extra_threads: int = POOL_THREADS,
    within: float = 5.0,
) -> Stats:
    """Wait until the server holds no more than ``baseline``; the stats then. Fails with what stayed."""
    deadline = time.monotonic() + within
    while True:
        stats = await server_stats(server)
        leftovers = {
            "tasks": stats["tasks"] - baseline["tasks"] - extra_tasks,
            "endpoints": stats["endpoints"] - 1,
            "routes": stats["routes"] - baseline["routes"],
            "user_routes": stats["user_routes"] - baseline["user_routes"],
            "threads": stats["threads"] - baseline["threads"] - extra_threads,
        }
        if all(value <= 0 for value in leftovers.values()):
            return stats
        if time.monotonic() > deadline:
            raise AssertionError(f"left behind after {within} s: {leftovers} (baseline {baseline}, now {stats})")
        await asyncio.sleep(0.2)


#: What daphne, uvicorn and asyncio print when an application or a task dies.
CRASHES = (
    "Exception inside application",
    "Exception in ASGI application",
    "Task exception was never retrieved",
    "Task was destroyed but it is pending",
    "took too long to shut down",
)


@pytest.fixture(autouse=True)
def no_crash(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fails a test after which a server it used logged a crash (import it into a test module to use it)."""
    names = [name for name in request.fixturenames if name.endswith("server")]
    servers = [request.getfixturevalue(name) for name in names]
    marks = [len(server.output()) for server in servers]
    yield
    time.sleep(0.1)  # let the servers write their logs
    for server, mark in zip(servers, marks, strict=True):
        output = server.output()[mark:]
        found = [crash for crash in CRASHES if crash in output]
        assert not found, f"{server!r} logged {found}:\n{output[-3000:]}"
