"""The batcher: what many tasks submit while a flush is under way goes out together, in order, bounded."""

from __future__ import annotations

import asyncio

import pytest

from wsrpc_app.pubsub.batching import Batcher, Overloaded


class Recorder:
    """A flush that records its batches and answers each item doubled, after ``gate`` opens."""

    def __init__(self, *, held: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.gate = asyncio.Event()
        if not held:
            self.gate.set()

    def batcher(self, limit: int = 100) -> Batcher[int, int]:
        return Batcher(self.flush, limit=limit, timeout=5)

    async def flush(self, items: list[int]) -> list[int]:
        self.batches.append(list(items))
        await self.gate.wait()
        return [item * 2 for item in items]


async def test_items_of_one_loop_turn_go_out_in_one_flush_in_order() -> None:
    recorder = Recorder()
    batcher = recorder.batcher()
    futures = [batcher.submit(i) for i in range(10)]
    assert await asyncio.gather(*futures) == [i * 2 for i in range(10)]
    assert recorder.batches == [list(range(10))]


async def test_what_arrives_during_a_flush_goes_out_next_together() -> None:
    recorder = Recorder(held=True)
    batcher = recorder.batcher()
    first = batcher.submit(0)
    await asyncio.sleep(0)  # the first flush is under way, held at the gate
    later = [batcher.submit(i) for i in range(1, 6)]
    assert batcher.waiting == 5
    recorder.gate.set()
    assert await first == 0
    assert await asyncio.gather(*later) == [2, 4, 6, 8, 10]
    assert recorder.batches == [[0], [1, 2, 3, 4, 5]]
    assert batcher.waiting == 0


async def test_a_failed_flush_fails_its_batch_only() -> None:
    calls = 0

    async def flaky(items: list[int]) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("Redis went away")
        return items

    batcher = Batcher(flaky, limit=100, timeout=5)
    failed = [batcher.submit(i) for i in range(3)]
    results = await asyncio.gather(*failed, return_exceptions=True)
    assert all(isinstance(result, ConnectionError) for result in results)
    assert await batcher.submit(7) == 7


async def test_a_flush_that_hangs_times_out_and_the_next_goes_on() -> None:
    hang = True

    async def slow(items: list[int]) -> list[int]:
        if hang:
            await asyncio.sleep(60)
        return items

    batcher = Batcher(slow, limit=100, timeout=0.2)
    with pytest.raises(TimeoutError):
        await batcher.submit(1)
    hang = False
    assert await batcher.submit(2) == 2


async def test_past_the_limit_submit_refuses_at_once() -> None:
    recorder = Recorder(held=True)
    batcher = recorder.batcher(limit=3)
    under_way = batcher.submit(0)
    await asyncio.sleep(0)
    waiting = [batcher.submit(i) for i in (1, 2, 3)]
    with pytest.raises(Overloaded):
        batcher.submit(4)
    recorder.gate.set()
    assert await under_way == 0
    assert await asyncio.gather(*waiting) == [2, 4, 6]
    assert await batcher.submit(5) == 10  # room again once the batch left


async def test_a_waiter_that_gives_up_does_not_disturb_the_others() -> None:
    recorder = Recorder(held=True)
    batcher = recorder.batcher()
    impatient = asyncio.ensure_future(batcher.submit(1))
    patient = batcher.submit(2)
    await asyncio.sleep(0)
    impatient.cancel()
    recorder.gate.set()
    assert await patient == 4
    assert recorder.batches == [[1, 2]]  # the item was still sent: it was already handed in


async def test_closing_the_loop_cancels_the_waiters() -> None:
    recorder = Recorder(held=True)
    batcher = recorder.batcher()
    first = batcher.submit(1)
    await asyncio.sleep(0)
    second = batcher.submit(2)
    runner = batcher._runner
    assert runner is not None
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner
    assert first.cancelled() and second.cancelled()
    recorder.gate.set()
    assert await batcher.submit(3) == 6  # a new runner starts
