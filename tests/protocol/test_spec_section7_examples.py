"""JSON-RPC 2.0 section 7: every example of the specification, frame for frame.

https://www.jsonrpc.org/specification#examples

The request frames are the specification's text. Replies are compared as
parsed JSON, with error objects' optional ``data`` set aside (see
``spec_form``); the replies to a batch may come in any order (section 6), so
they are compared sorted.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from tests.support.peer import Peer, spec_form
from wsrpc_app import rpc_method
from wsrpc_app.core.registry import Registry

# The methods the examples call; each notes that it ran.

CALLS: list[tuple[str, tuple[Any, ...]]] = []
_calls_lock = threading.Lock()


def _ran(name: str, *args: Any) -> None:
    with _calls_lock:
        CALLS.append((name, args))


def subtract(minuend: int, subtrahend: int) -> int:
    _ran("subtract", minuend, subtrahend)
    return minuend - subtrahend


@rpc_method(name="sum")
def sum_(*numbers: int) -> int:
    _ran("sum", *numbers)
    return sum(numbers)


def update(*values: int) -> None:
    _ran("update", *values)


def get_data() -> list[Any]:
    _ran("get_data")
    return ["hello", 5]


def notify_hello(*values: int) -> None:
    _ran("notify_hello", *values)


def notify_sum(*values: int) -> None:
    _ran("notify_sum", *values)


@pytest.fixture(autouse=True)
def _forget_calls() -> None:
    CALLS.clear()


@pytest.fixture
def peer() -> Peer:
    # "foobar" and "foo.get" are deliberately absent: the examples call them to get -32601.
    return Peer(registry=Registry.from_entries([subtract, sum_, update, get_data, notify_hello, notify_sum]))


def _sorted(replies: list[Any]) -> list[Any]:
    return sorted(replies, key=lambda reply: json.dumps(reply, sort_keys=True))


# rpc call with positional parameters


async def test_positional_subtract_42_23(peer: Peer) -> None:
    reply = await peer.exchange('{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}')
    assert reply == {"jsonrpc": "2.0", "result": 19, "id": 1}


async def test_positional_subtract_23_42(peer: Peer) -> None:
    reply = await peer.exchange('{"jsonrpc": "2.0", "method": "subtract", "params": [23, 42], "id": 2}')
    assert reply == {"jsonrpc": "2.0", "result": -19, "id": 2}


# rpc call with named parameters


async def test_named_subtract_subtrahend_first(peer: Peer) -> None:
    reply = await peer.exchange(
        '{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}'
    )
    assert reply == {"jsonrpc": "2.0", "result": 19, "id": 3}


async def test_named_subtract_minuend_first(peer: Peer) -> None:
    reply = await peer.exchange(
        '{"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 42, "subtrahend": 23}, "id": 4}'
    )
    assert reply == {"jsonrpc": "2.0", "result": 19, "id": 4}


# a Notification


async def test_notification_update_gets_no_reply(peer: Peer) -> None:
    reply = await peer.exchange('{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}')
    assert reply is None
    assert CALLS == [("update", (1, 2, 3, 4, 5))]


async def test_notification_foobar_gets_no_reply(peer: Peer) -> None:
    assert await peer.exchange('{"jsonrpc": "2.0", "method": "foobar"}') is None


# rpc call of non-existent method


async def test_call_of_nonexistent_method(peer: Peer) -> None:
    reply = await peer.exchange('{"jsonrpc": "2.0", "method": "foobar", "id": "1"}')
    assert spec_form(reply) == {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "1"}


# rpc call with invalid JSON


async def test_call_with_invalid_json(peer: Peer) -> None:
    reply = await peer.exchange('{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]')
    assert spec_form(reply) == {"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": None}


# rpc call with invalid Request object


async def test_call_with_invalid_request_object(peer: Peer) -> None:
    reply = await peer.exchange('{"jsonrpc": "2.0", "method": 1, "params": "bar"}')
    assert spec_form(reply) == {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": None}


# rpc call Batch, invalid JSON


async def test_batch_with_invalid_json(peer: Peer) -> None:
    reply = await peer.exchange(
        """[
  {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
  {"jsonrpc": "2.0", "method"
]"""
    )
    assert spec_form(reply) == {"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": None}
    assert CALLS == []


# rpc call with an empty Array


async def test_empty_array(peer: Peer) -> None:
    reply = await peer.exchange("[]")
    assert spec_form(reply) == {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": None}


# rpc call with an invalid Batch (but not empty)


async def test_invalid_batch_of_one(peer: Peer) -> None:
    reply = await peer.exchange("[1]")
    assert spec_form(reply) == [
        {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": None},
    ]


# rpc call with invalid Batch


async def test_invalid_batch_of_three(peer: Peer) -> None:
    reply = await peer.exchange("[1,2,3]")
    assert spec_form(reply) == [
        {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": None},
        {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": None},
        {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": None},
    ]


# rpc call Batch


async def test_batch(peer: Peer) -> None:
    reply = await peer.exchange(
        """[
        {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
        {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
        {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},
        {"foo": "boo"},
        {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
        {"jsonrpc": "2.0", "method": "get_data", "id": "9"} 
    ]"""  # noqa: W291 - the specification's frame, trailing space included
    )
    assert isinstance(reply, list)
    assert _sorted(spec_form(reply)) == _sorted(
        [
            {"jsonrpc": "2.0", "result": 7, "id": "1"},
            {"jsonrpc": "2.0", "result": 19, "id": "2"},
            {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": None},
            {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "5"},
            {"jsonrpc": "2.0", "result": ["hello", 5], "id": "9"},
        ]
    )
    assert ("notify_hello", (7,)) in CALLS


# rpc call Batch (all notifications)


async def test_batch_of_notifications_gets_nothing(peer: Peer) -> None:
    reply = await peer.exchange(
        """[
        {"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]},
        {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}
    ]"""
    )
    assert reply is None  # "Nothing is returned for all notification batches"
    assert sorted(CALLS) == [("notify_hello", (7,)), ("notify_sum", (1, 2, 4))]
