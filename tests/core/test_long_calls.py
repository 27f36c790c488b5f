"""Cancellation and progress on the asyncio endpoint (``wsrpc_app.core.endpoint``), against a recording peer."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.long_calls import JOBS, long_job
from tests.support.peer import Peer, settle
from wsrpc_app.core.progress import Progress
from wsrpc_app.core.registry import Method, Registry

#: What the methods saw, by name: "wait" is long_job, which notes "running", "cancelled", "finally", "done".
seen = JOBS


def note(name: str, what: str) -> None:
    seen.setdefault(name, []).append(what)


async def stubborn(name: str) -> str:
    """Catches its cancellation and finishes anyway."""
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        note(name, "caught")
    await asyncio.sleep(0)  # the task is not left cancelling
    return "finished anyway"


def blocking(name: str, release: Any) -> str:
    note(name, "running")
    release.wait(5)
    note(name, "thread done")
    return "late"


async def count(total: int, progress: Progress) -> str:
    for n in range(1, total + 1):
        await progress(n)
    return "counted"


async def count_slowly(total: int, progress: Progress) -> str:
    for n in range(1, total + 1):
        progress(n)  # not awaited: reporting never needs to be
        await asyncio.sleep(0.12)
    return "counted"


def count_in_a_thread(total: int, progress: Progress) -> str:
    for n in range(1, total + 1):
        progress(n)
    return "counted"


async def hold_progress(progress: Progress) -> str:
    progress(1)
    progress(2)  # held for its turn
    await asyncio.sleep(30)
    return "never"


def peer(rate: float | None = 10.0) -> Peer:
    entries: list[Callable[..., object]] = [stubborn, count, count_slowly, count_in_a_thread, hold_progress]
    registry = Registry(
        [Method.from_callable("wait", long_job), *(Method.from_callable(f.__name__, f) for f in entries)]
    )
    return Peer(registry=registry, progress_rate=rate)


def request(method: str, params: Any, id_: Any) -> str:
    message = {"jsonrpc": "2.0", "method": method, "id": id_}
    if params is not None:
        message["params"] = params
    return json.dumps(message)


def cancel(id_: Any) -> str:
    return json.dumps({"jsonrpc": "2.0", "method": "rpc.cancel", "params": {"id": id_}})


async def until(condition: Callable[[], bool], within: float = 2.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "not in time"
        await asyncio.sleep(0.005)


async def started(name: str) -> None:
    await until(lambda: "running" in seen.get(name, []))


@pytest.fixture(autouse=True)
def fresh() -> None:
    seen.clear()


# Cancel ------------------------------------------------------------------------------------------------


async def test_a_cancelled_method_sees_cancelled_error_and_is_answered_32800() -> None:
    p = peer()
    await p.endpoint.receive(request("wait", ["a"], 1))
    await started("a")
    await p.endpoint.receive(cancel(1))
    await settle(p.endpoint)
    assert seen["a"] == ["running", "cancelled", "finally"]
    [reply] = p.take()
    assert reply == {
        "jsonrpc": "2.0",
        "error": {"code": -32800, "message": "Request cancelled", "data": {"id": 1}},
        "id": 1,
    }
    assert p.endpoint.in_flight == 0 and p.endpoint.session.running == {}


async def test_one_member_of_a_batch_is_cancelled_alone() -> None:
    p = peer()
    batch = [json.loads(request("wait", ["short", 0.3], "s")), json.loads(request("wait", ["long"], "l"))]
    await p.endpoint.receive(json.dumps(batch))
    await started("long")
    await p.endpoint.receive(cancel("l"))
    await settle(p.endpoint)
    [replies] = p.take()
    assert sorted(replies, key=lambda r: r["id"]) == [
        {"jsonrpc": "2.0", "error": {"code": -32800, "message": "Request cancelled", "data": {"id": "l"}}, "id": "l"},
        {"jsonrpc": "2.0", "result": "done", "id": "s"},
    ]
    assert seen["short"] == ["running", "finally", "done"]
    assert seen["long"] == ["running", "cancelled", "finally"]


async def test_a_cancel_after_the_reply_and_a_cancel_of_another_id_are_ignored() -> None:
    p = peer()
    await p.endpoint.receive(request("wait", ["a", 0], 1))
    await settle(p.endpoint)
    assert p.take() == [{"jsonrpc": "2.0", "result": "done", "id": 1}]
    await p.endpoint.receive(request("wait", ["b"], 2))
    await started("b")
    for frame in (cancel(1), cancel("2"), cancel(3)):
        await p.endpoint.receive(frame)
    await asyncio.sleep(0.05)
    assert p.take() == [] and seen["b"] == ["running"]
    await p.endpoint.receive(cancel(2))
    await settle(p.endpoint)
    assert [r["error"]["code"] for r in p.take()] == [-32800]


async def test_a_cancel_racing_the_reply_gets_one_answer() -> None:
    # The cancel arrives in the same turn as the method's result: one reply, whichever won.
    p = peer()
    await p.endpoint.receive(request("wait", ["a", 0.01], 1))
    await started("a")
    await asyncio.sleep(0.01)
    await p.endpoint.receive(cancel(1))
    await p.endpoint.receive(cancel(1))
    await settle(p.endpoint)
    replies = p.take()
    assert len(replies) == 1 and replies[0]["id"] == 1
    assert p.endpoint.session.running == {}


async def test_a_method_that_swallows_the_cancel_is_answered_with_its_result() -> None:
    p = peer()
    await p.endpoint.receive(request("stubborn", ["s"], 1))
    await asyncio.sleep(0.02)
    await p.endpoint.receive(cancel(1))
    await settle(p.endpoint)
    assert p.take() == [{"jsonrpc": "2.0", "result": "finished anyway", "id": 1}]
    assert seen["s"] == ["caught"]


async def test_a_sync_method_is_not_interrupted_its_result_is_dropped() -> None:
    release = threading.Event()

    def blocking_t() -> str:
        return blocking("t", release)

    registry = Registry([Method.from_callable("blocking", blocking_t)])
    p = Peer(registry=registry)
    await p.endpoint.receive(request("blocking", None, 1))
    await started("t")
    await p.endpoint.receive(cancel(1))
    await settle(p.endpoint)
    assert [r["error"]["code"] for r in p.take()] == [-32800]
    assert seen["t"] == ["running"]  # answered while the thread still runs
    release.set()
    await until(lambda: seen["t"] == ["running", "thread done"])
    await asyncio.sleep(0.05)
    assert p.take() == []


async def test_close_ends_cancelled_and_running_requests_alike() -> None:
    p = peer()
    await p.endpoint.receive(request("wait", ["a"], 1))
    await p.endpoint.receive(request("hold_progress", None, 2))
    await started("a")
    await p.endpoint.close()
    assert p.endpoint.running == {} and p.endpoint.session.running == {}
    assert seen["a"] == ["running", "cancelled", "finally"]


# Progress ----------------------------------------------------------------------------------------------


async def test_progress_comes_in_order_before_the_reply() -> None:
    p = peer(rate=None)
    await p.endpoint.receive(request("count", [5], "c"))
    await settle(p.endpoint)
    frames = p.take()
    assert frames[:-1] == [
        {"jsonrpc": "2.0", "method": "rpc.progress", "params": {"id": "c", "value": n}} for n in range(1, 6)
    ]
    assert frames[-1] == {"jsonrpc": "2.0", "result": "counted", "id": "c"}


async def test_reports_at_the_rate_all_get_through() -> None:
    p = peer(rate=10.0)
    await p.endpoint.receive(request("count_slowly", [4], 1))
    await settle(p.endpoint)
    assert [f.get("params", {}).get("value") for f in p.take()] == [1, 2, 3, 4, None]


async def test_faster_reports_are_coalesced_and_the_latest_goes_before_the_reply() -> None:
    p = peer(rate=10.0)
    await p.endpoint.receive(request("count", [50], 1))
    await settle(p.endpoint)
    frames = p.take()
    values = [f["params"]["value"] for f in frames[:-1]]
    assert values[0] == 1 and values[-1] == 50 and values == sorted(values)
    assert len(values) < 50
    assert frames[-1]["result"] == "counted"


async def test_progress_from_a_worker_thread_comes_before_the_reply() -> None:
    p = peer(rate=None)
    await p.endpoint.receive(request("count_in_a_thread", [3], 1))
    await settle(p.endpoint)
    assert [f.get("params", {}).get("value", f.get("result")) for f in p.take()] == [1, 2, 3, "counted"]


async def test_a_cancelled_request_sends_no_progress_after_its_reply() -> None:
    p = peer(rate=10.0)
    await p.endpoint.receive(request("hold_progress", None, 1))
    await asyncio.sleep(0.02)
    await p.endpoint.receive(cancel(1))
    await settle(p.endpoint)
    await asyncio.sleep(0.2)  # past the held report's turn: its timer was cancelled
    frames = p.take()
    assert [f.get("params", {}).get("value") for f in frames[:-1]] == [1]
    assert frames[-1]["error"]["code"] == -32800


async def test_a_notification_reports_nowhere() -> None:
    p = peer(rate=None)
    await p.endpoint.receive(json.dumps({"jsonrpc": "2.0", "method": "count", "params": [3]}))
    await settle(p.endpoint)
    assert p.take() == []


# This side's calls ----------------------------------------------------------------------------------------


async def test_a_call_hears_the_peers_progress_then_its_result() -> None:
    p = Peer()
    heard: list[Any] = []
    call = asyncio.ensure_future(p.endpoint.call("job", progress=heard.append))
    await p.wait_for_frames()
    [outgoing] = p.take()
    for value in (1, 2):
        await p.endpoint.receive(
            json.dumps({"jsonrpc": "2.0", "method": "rpc.progress", "params": {"id": outgoing["id"], "value": value}})
        )
    await p.endpoint.receive(json.dumps({"jsonrpc": "2.0", "result": "ok", "id": outgoing["id"]}))
    assert await call == "ok"
    assert heard == [1, 2]


async def test_an_async_progress_callback_is_cancelled_with_the_connection() -> None:
    p = Peer()
    stopped = asyncio.Event()

    async def slow_callback(value: Any) -> None:
        try:
            await asyncio.sleep(30)
        finally:
            stopped.set()

    call = asyncio.ensure_future(p.endpoint.call("job", progress=slow_callback))
    await p.wait_for_frames()
    [outgoing] = p.take()
    await p.endpoint.receive(
        json.dumps({"jsonrpc": "2.0", "method": "rpc.progress", "params": {"id": outgoing["id"], "value": 1}})
    )
    assert len(p.endpoint.callbacks.tasks) == 1
    await asyncio.sleep(0.01)  # the callback runs, and waits
    await p.endpoint.close()
    async with asyncio.timeout(2):
        await stopped.wait()
    await asyncio.sleep(0)  # its done callback
    assert p.endpoint.callbacks.tasks == set()
    with pytest.raises(ConnectionError):
        await call


@pytest.mark.parametrize("how", ["timeout", "task cancelled"])
async def test_a_call_that_stops_waiting_cancels_the_peers_work(how: str) -> None:
    p = Peer()
    if how == "timeout":
        call = asyncio.ensure_future(p.endpoint.call("job", timeout=0.05))
    else:
        call = asyncio.ensure_future(p.endpoint.call("job", timeout=None))
        await p.wait_for_frames()
        call.cancel()
    with pytest.raises(TimeoutError if how == "timeout" else asyncio.CancelledError):
        await call
    outgoing, cancelled = p.take()
    assert cancelled == {"jsonrpc": "2.0", "method": "rpc.cancel", "params": {"id": outgoing["id"]}}
    assert p.endpoint.pending == {}
    # Its late progress and reply are dropped.
    await p.endpoint.receive(
        json.dumps({"jsonrpc": "2.0", "method": "rpc.progress", "params": {"id": outgoing["id"], "value": 1}})
    )
    await p.endpoint.receive(json.dumps({"jsonrpc": "2.0", "result": "late", "id": outgoing["id"]}))
    assert p.take() == []


async def test_a_batch_that_times_out_cancels_only_its_unanswered_calls() -> None:
    p = Peer()
    batch = asyncio.ensure_future(p.endpoint.call_batch([("a", None), ("b", None)], timeout=0.2))
    await p.wait_for_frames()
    [[first, second]] = p.take()
    await p.endpoint.receive(json.dumps({"jsonrpc": "2.0", "result": 1, "id": first["id"]}))
    with pytest.raises(TimeoutError):
        await batch
    assert p.take() == [{"jsonrpc": "2.0", "method": "rpc.cancel", "params": {"id": second["id"]}}]


async def test_an_answered_call_sends_no_cancel() -> None:
    p = Peer()
    call = asyncio.ensure_future(p.endpoint.call("job"))
    await p.wait_for_frames()
    [outgoing] = p.take()
    started_at = time.monotonic()
    await p.endpoint.receive(json.dumps({"jsonrpc": "2.0", "result": 1, "id": outgoing["id"]}))
    assert await call == 1
    assert time.monotonic() - started_at < 2
    assert p.take() == []
