"""Calls on one connection run concurrently: async methods and sync ones alike."""

from __future__ import annotations

import time

import pytest
from websockets.asyncio.client import ClientConnection

from .wire import recv_json, send_json

pytestmark = pytest.mark.e2e

CALLS = 5
SECONDS = 0.5
#: Five half-second calls run one after another would take 2.5 s.
BOUND = 1.5


@pytest.mark.parametrize("method", ["sleep", "sleep_sync"])
async def test_five_slow_calls_at_once_overlap(ws: ClientConnection, method: str) -> None:
    started = time.monotonic()
    for n in range(CALLS):
        await send_json(ws, {"jsonrpc": "2.0", "method": method, "params": [SECONDS], "id": n})
    replies = [await recv_json(ws) for _ in range(CALLS)]
    elapsed = time.monotonic() - started

    assert sorted(reply["id"] for reply in replies) == list(range(CALLS))
    assert all(reply["result"] == SECONDS for reply in replies), replies
    assert elapsed < BOUND, f"{CALLS} calls of {SECONDS} s took {elapsed:.2f} s: they were serialized"
    assert elapsed >= SECONDS


async def test_the_calls_of_a_batch_overlap(ws: ClientConnection) -> None:
    batch = [{"jsonrpc": "2.0", "method": "sleep_sync", "params": [SECONDS], "id": n} for n in range(CALLS)]
    started = time.monotonic()
    await send_json(ws, batch)
    reply = await recv_json(ws)
    elapsed = time.monotonic() - started

    assert sorted(element["id"] for element in reply) == list(range(CALLS))
    assert all(element["result"] == SECONDS for element in reply)
    assert elapsed < BOUND


async def test_a_fast_call_is_not_held_up_by_a_slow_one(ws: ClientConnection) -> None:
    await send_json(ws, {"jsonrpc": "2.0", "method": "sleep", "params": [1.0], "id": "slow"})
    await send_json(ws, {"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": "fast"})
    assert await recv_json(ws, within=0.8) == {"jsonrpc": "2.0", "result": 19, "id": "fast"}
    assert await recv_json(ws) == {"jsonrpc": "2.0", "result": 1.0, "id": "slow"}


# A request runs on the task that read it until it first waits; then reading
# moves to a new task. What a method sees must be what it would see on a task
# of its own.


async def test_methods_that_wait_and_methods_that_do_not_interleave(ws: ClientConnection) -> None:
    # Six waiting calls, each followed by an instant one: the instant ones are
    # answered while the waiting ones still run, and every waiting call is
    # answered once, with its own result. Twelve requests stay within the test
    # settings' MAX_IN_FLIGHT (16) however slowly the thread pool answers.
    pairs = 6
    for n in range(pairs):
        await send_json(ws, {"jsonrpc": "2.0", "method": "sleep", "params": [1.0], "id": f"slow{n}"})
        await send_json(ws, {"jsonrpc": "2.0", "method": "subtract", "params": [n, 1], "id": f"fast{n}"})
    # subtract is sync: it runs in the thread pool, so the instant ones may finish in any order.
    replies = [await recv_json(ws) for _ in range(2 * pairs)]
    ids = [reply["id"] for reply in replies]
    assert sorted(ids[:pairs]) == sorted(f"fast{n}" for n in range(pairs)), replies
    assert sorted(ids[pairs:]) == sorted(f"slow{n}" for n in range(pairs)), replies
    assert {reply["id"]: reply.get("result") for reply in replies[:pairs]} == {f"fast{n}": n - 1 for n in range(pairs)}


async def test_a_context_variable_set_by_a_method_stays_in_its_request(ws: ClientConnection) -> None:
    # "tag" returns the value the variable held when it started (None for a
    # request of its own) and fails if another request's value shows up later.
    for n in range(6):
        await send_json(ws, {"jsonrpc": "2.0", "method": "tag", "params": [f"t{n}", 0.05 * (n % 2)], "id": n})
    replies = [await recv_json(ws) for _ in range(6)]
    assert sorted(reply["id"] for reply in replies) == list(range(6))
    assert all(reply.get("result", "error") is None for reply in replies), replies


async def test_asyncio_timeout_in_a_method_cancels_that_method_only(ws: ClientConnection) -> None:
    await send_json(ws, {"jsonrpc": "2.0", "method": "own_timeout", "params": [5, 0.1], "id": "short"})
    await send_json(ws, {"jsonrpc": "2.0", "method": "own_timeout", "params": [0.3, 2], "id": "long"})
    assert await recv_json(ws) == {"jsonrpc": "2.0", "result": "timed out", "id": "short"}
    assert await recv_json(ws) == {"jsonrpc": "2.0", "result": "finished", "id": "long"}
    # The connection keeps reading and answering.
    await send_json(ws, {"jsonrpc": "2.0", "method": "subtract", "params": [3, 1], "id": "after"})
    assert await recv_json(ws) == {"jsonrpc": "2.0", "result": 2, "id": "after"}


async def test_a_task_group_in_a_method(ws: ClientConnection) -> None:
    await send_json(ws, {"jsonrpc": "2.0", "method": "squares", "params": [5], "id": 1})
    await send_json(ws, {"jsonrpc": "2.0", "method": "subtract", "params": [3, 1], "id": 2})
    assert await recv_json(ws) == {"jsonrpc": "2.0", "result": 2, "id": 2}
    assert await recv_json(ws) == {"jsonrpc": "2.0", "result": [0, 1, 4, 9, 16], "id": 1}
