"""JSON-RPC 2.0 section 4.1: notifications.

https://www.jsonrpc.org/specification#notification

A request without an ``id`` member is a notification: it runs, and "the
Server MUST NOT reply to a Notification", not even with an error.
"""

from __future__ import annotations

import threading

import pytest

from tests.support.peer import Peer
from wsrpc_app import RpcError
from wsrpc_app.core import protocol

RECEIVED: list[int] = []
_lock = threading.Lock()


def record(value: int) -> None:
    with _lock:
        RECEIVED.append(value)


async def record_async(value: int) -> None:
    RECEIVED.append(value)


def refuse() -> None:
    raise RpcError("refused", code=-32050)


def crash() -> None:
    raise ValueError("boom")


@pytest.fixture(autouse=True)
def _forget() -> None:
    RECEIVED.clear()


@pytest.fixture
def peer() -> Peer:
    return Peer(record, record_async, refuse, crash)


def test_request_without_id_is_a_notification() -> None:
    message = protocol.classify({"jsonrpc": "2.0", "method": "record", "params": [1]})
    assert isinstance(message, protocol.Request)
    assert message.notification


def test_request_with_null_id_is_not_a_notification() -> None:
    message = protocol.classify({"jsonrpc": "2.0", "method": "record", "params": [1], "id": None})
    assert isinstance(message, protocol.Request)
    assert not message.notification


async def test_notification_runs_the_method(peer: Peer) -> None:
    assert await peer.exchange({"jsonrpc": "2.0", "method": "record", "params": [5]}) is None
    assert RECEIVED == [5]


async def test_notification_runs_an_async_method(peer: Peer) -> None:
    assert await peer.exchange({"jsonrpc": "2.0", "method": "record_async", "params": [6]}) is None
    assert RECEIVED == [6]


async def test_notification_of_unknown_method_is_not_answered(peer: Peer) -> None:
    assert await peer.exchange({"jsonrpc": "2.0", "method": "nope"}) is None


async def test_notification_with_invalid_params_is_not_answered(peer: Peer) -> None:
    assert await peer.exchange({"jsonrpc": "2.0", "method": "record", "params": ["x", "y"]}) is None
    assert RECEIVED == []


async def test_notification_raising_rpc_error_is_not_answered(peer: Peer) -> None:
    assert await peer.exchange({"jsonrpc": "2.0", "method": "refuse"}) is None


async def test_notification_raising_an_exception_is_not_answered(peer: Peer) -> None:
    assert await peer.exchange({"jsonrpc": "2.0", "method": "crash"}) is None


async def test_request_with_null_id_is_answered(peer: Peer) -> None:
    reply = await peer.exchange({"jsonrpc": "2.0", "method": "record", "params": [1], "id": None})
    assert reply == {"jsonrpc": "2.0", "result": None, "id": None}


async def test_malformed_notification_is_answered_as_invalid_request(peer: Peer) -> None:
    # Not a valid Request object, so not a notification either: section 5
    # answers it with id null.
    reply = await peer.exchange({"jsonrpc": "1.0", "method": "record", "params": [1]})
    assert reply["error"]["code"] == -32600
    assert reply["id"] is None
    assert RECEIVED == []


async def test_notification_sent_to_the_peer_has_no_id() -> None:
    peer = Peer()
    await peer.endpoint.notify("hello", ["world"])
    assert peer.take() == [{"jsonrpc": "2.0", "method": "hello", "params": ["world"]}]


async def test_notification_without_params_omits_params() -> None:
    peer = Peer()
    await peer.endpoint.notify("tick")
    assert peer.take() == [{"jsonrpc": "2.0", "method": "tick"}]
