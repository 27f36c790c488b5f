"""JSON-RPC 2.0 section 6: batches.

https://www.jsonrpc.org/specification#batch

An array of requests is answered by an array holding one reply per request
that is not a notification, in any order; the requests may run concurrently.
An empty array is one -32600 error object, not an array; a batch of only
notifications gets nothing back.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.support.peer import Peer
from wsrpc_app.core import protocol
from wsrpc_app.core.protocol import Batch, Request
from wsrpc_app.errors import InvalidRequest


def double(value: int) -> int:
    return value * 2


def crash() -> None:
    raise ValueError("boom")


@pytest.fixture
def peer() -> Peer:
    return Peer(double, crash)


def _request(value: int, id_: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": "double", "params": [value], "id": id_}


def _by_id(replies: list[dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    return {reply["id"]: reply for reply in replies}


async def test_empty_batch_is_invalid_request(peer: Peer) -> None:
    reply = await peer.exchange("[]")
    assert isinstance(reply, dict)  # one error object, not an array
    assert reply["error"]["code"] == -32600
    assert reply["id"] is None


def test_empty_batch_is_refused_by_the_parser() -> None:
    with pytest.raises(InvalidRequest):
        protocol.parse("[]")


async def test_batch_is_answered_with_an_array(peer: Peer) -> None:
    reply = await peer.exchange([_request(1, 1), _request(2, 2)])
    assert isinstance(reply, list)
    assert _by_id(reply) == {
        1: {"jsonrpc": "2.0", "result": 2, "id": 1},
        2: {"jsonrpc": "2.0", "result": 4, "id": 2},
    }


async def test_batch_of_one_is_answered_with_an_array_of_one(peer: Peer) -> None:
    assert await peer.exchange([_request(3, "a")]) == [{"jsonrpc": "2.0", "result": 6, "id": "a"}]


async def test_batch_of_notifications_gets_no_reply(peer: Peer) -> None:
    notification = {"jsonrpc": "2.0", "method": "double", "params": [1]}
    assert await peer.exchange([notification, notification]) is None


async def test_notifications_in_a_batch_get_no_reply_element(peer: Peer) -> None:
    reply = await peer.exchange([_request(1, 1), {"jsonrpc": "2.0", "method": "double", "params": [5]}])
    assert reply == [{"jsonrpc": "2.0", "result": 2, "id": 1}]


async def test_failing_notification_in_a_batch_gets_no_reply_element(peer: Peer) -> None:
    reply = await peer.exchange([_request(1, 1), {"jsonrpc": "2.0", "method": "crash"}])
    assert reply == [{"jsonrpc": "2.0", "result": 2, "id": 1}]


async def test_one_failure_does_not_spoil_the_batch(peer: Peer) -> None:
    reply = await peer.exchange([_request(1, 1), {"jsonrpc": "2.0", "method": "crash", "id": 2}, _request(3, 3)])
    replies = _by_id(reply)
    assert replies[1]["result"] == 2
    assert replies[2]["error"]["code"] == -32603
    assert replies[3]["result"] == 6


async def test_invalid_element_is_answered_inside_the_array(peer: Peer) -> None:
    reply = await peer.exchange([_request(1, 1), {"foo": "boo"}])
    assert len(reply) == 2
    invalid = [r for r in reply if r["id"] is None]
    assert invalid[0]["error"]["code"] == -32600


async def test_nested_batch_is_an_invalid_element(peer: Peer) -> None:
    reply = await peer.exchange([[_request(1, 1)]])
    assert isinstance(reply, list)
    assert len(reply) == 1
    assert reply[0]["error"]["code"] == -32600


async def test_same_id_twice_in_a_batch_is_answered_twice(peer: Peer) -> None:
    reply = await peer.exchange([_request(1, 7), _request(2, 7)])
    assert sorted(r["result"] for r in reply) == [2, 4]


async def test_batch_longer_than_the_limit_is_one_invalid_request() -> None:
    peer = Peer(double, max_batch=2)
    reply = await peer.exchange([_request(1, 1), _request(2, 2), _request(3, 3)])
    assert isinstance(reply, dict)
    assert reply["error"]["code"] == -32600
    assert reply["id"] is None


async def test_batch_at_the_limit_is_answered() -> None:
    peer = Peer(double, max_batch=2)
    assert len(await peer.exchange([_request(1, 1), _request(2, 2)])) == 2


def test_batch_parses_into_its_messages_in_order() -> None:
    frame = json.dumps([_request(1, 1), {"jsonrpc": "2.0", "method": "double", "params": [2]}])
    assert protocol.parse(frame) == Batch([Request("double", [1], 1), Request("double", [2], None, notification=True)])


async def test_batch_requests_run_concurrently() -> None:
    # The first request can only finish once the second has started: run one
    # after the other, the batch would never be answered.
    second_started = asyncio.Event()

    async def first() -> str:
        await second_started.wait()
        return "first"

    async def second() -> str:
        second_started.set()
        return "second"

    peer = Peer(first, second)
    reply = await peer.exchange(
        [{"jsonrpc": "2.0", "method": "first", "id": 1}, {"jsonrpc": "2.0", "method": "second", "id": 2}]
    )
    assert _by_id(reply) == {
        1: {"jsonrpc": "2.0", "result": "first", "id": 1},
        2: {"jsonrpc": "2.0", "result": "second", "id": 2},
    }


async def test_responses_in_a_batch_are_not_answered(peer: Peer) -> None:
    reply = await peer.exchange([_request(1, 1), {"jsonrpc": "2.0", "result": 0, "id": 50}])
    assert reply == [{"jsonrpc": "2.0", "result": 2, "id": 1}]
