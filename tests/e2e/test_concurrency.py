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
