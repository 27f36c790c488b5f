"""One idle sweep per event loop closes the connections that went quiet (wsrpc_app/idle.py)."""

from __future__ import annotations

import asyncio

from wsrpc_app.server.idle import IdleSweep, idle_sweep


class Quiet:
    """A watched connection that records when it was found idle."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.last_seen = loop.time()
        self.idled_at: float | None = None

    def idled(self) -> None:
        self.idled_at = self.loop.time()


async def test_quiet_connections_are_found_between_idle_and_a_quarter_more() -> None:
    loop = asyncio.get_running_loop()
    sweep = IdleSweep(loop)
    connections = [Quiet(loop) for _ in range(100)]
    for connection in connections:
        sweep.watch(connection, 0.2)
    await asyncio.sleep(0.4)
    for connection in connections:
        assert connection.idled_at is not None
        assert 0.2 <= connection.idled_at - connection.last_seen <= 0.25 + 0.05
    assert sweep.watched == {}


async def test_a_connection_that_keeps_talking_is_left_alone() -> None:
    loop = asyncio.get_running_loop()
    sweep = IdleSweep(loop)
    talker, quiet = Quiet(loop), Quiet(loop)
    sweep.watch(talker, 0.2)
    sweep.watch(quiet, 0.2)
    for _ in range(8):
        await asyncio.sleep(0.05)
        talker.last_seen = loop.time()
    assert talker.idled_at is None
    assert quiet.idled_at is not None
    assert list(sweep.watched) == [talker]
    sweep.forget(talker)
    await asyncio.sleep(0.3)
    assert talker.idled_at is None  # forgotten: never closed


async def test_the_shortest_timeout_sets_the_pace() -> None:
    loop = asyncio.get_running_loop()
    sweep = IdleSweep(loop)
    slow, fast = Quiet(loop), Quiet(loop)
    sweep.watch(slow, 60.0)
    sweep.watch(fast, 0.1)
    await asyncio.sleep(0.2)
    assert fast.idled_at is not None
    assert slow.idled_at is None
    sweep.forget(slow)


async def test_one_sweep_per_event_loop() -> None:
    assert idle_sweep() is idle_sweep()
    assert idle_sweep().loop is asyncio.get_running_loop()
