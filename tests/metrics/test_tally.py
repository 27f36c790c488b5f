"""Frames, bytes and calls reach the instruments a quarter second late, summed, in the right buckets."""

from __future__ import annotations

import asyncio
import threading

import pytest
from prometheus_client import REGISTRY

from wsrpc_app.metrics.recorder import FLUSH_INTERVAL, Recorder


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def durations(method: str) -> dict[str, float]:
    le = ("0.0005", "0.001", "0.005", "+Inf")
    found = {bound: sample("wsrpc_call_duration_seconds_bucket", method=method, le=bound) for bound in le}
    found["count"] = sample("wsrpc_call_duration_seconds_count", method=method)
    found["sum"] = sample("wsrpc_call_duration_seconds_sum", method=method)
    return found


async def test_on_a_loop_counts_arrive_after_the_flush_interval_with_their_buckets() -> None:
    recorder = Recorder()
    observe = recorder.call_observer({"tally.add"})
    frames, calls, before = (
        sample("wsrpc_frames_received_total"),
        sample("wsrpc_calls_total", method="tally.add", outcome="ok"),
        durations("tally.add"),
    )
    for seconds in (0.0001, 0.0007, 0.003, 100.0):
        recorder.frame_received('{"jsonrpc":"2.0"}')
        observe("tally.add", 0, seconds)
    assert sample("wsrpc_frames_received_total") == frames  # not yet: tallied
    await asyncio.sleep(FLUSH_INTERVAL * 2)
    assert sample("wsrpc_frames_received_total") == frames + 4
    assert sample("wsrpc_calls_total", method="tally.add", outcome="ok") == calls + 4
    after = durations("tally.add")
    grew = {key: after[key] - before[key] for key in after}
    # Buckets are cumulative in the exposition, as if each call had been observed alone.
    assert grew == pytest.approx({"0.0005": 1, "0.001": 2, "0.005": 3, "+Inf": 4, "count": 4, "sum": 100.0038})


def test_without_a_loop_counts_arrive_at_once() -> None:
    recorder = Recorder()
    before = sample("wsrpc_frames_sent_total"), sample("wsrpc_sent_bytes_total")
    done = threading.Event()

    def worker() -> None:
        recorder.frame_sent("héllo")  # 6 bytes in UTF-8
        done.set()

    threading.Thread(target=worker).start()
    assert done.wait(5)
    assert (sample("wsrpc_frames_sent_total"), sample("wsrpc_sent_bytes_total")) == (before[0] + 1, before[1] + 6)


def test_a_thread_whose_loop_ended_flushes_on_its_next_loop() -> None:
    recorder = Recorder()
    before = sample("wsrpc_frames_received_total")

    async def receive_one() -> None:
        recorder.frame_received("x")

    asyncio.run(receive_one())  # the loop ends before its flush is due
    assert sample("wsrpc_frames_received_total") == before

    async def receive_and_wait() -> None:
        recorder.frame_received("y")
        await asyncio.sleep(FLUSH_INTERVAL * 2)

    asyncio.run(receive_and_wait())
    assert sample("wsrpc_frames_received_total") == before + 2
