"""JSON-RPC 2.0 section 5: the Response object.

https://www.jsonrpc.org/specification#response_object

Every reply carries ``jsonrpc`` "2.0", the ``id`` of the request (null when
it could not be read), and exactly one of ``result`` and ``error``. The same
rules decide whether a frame from the peer is a valid response to a call this
side made.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.peer import Peer
from wsrpc_app import RpcError
from wsrpc_app.core import protocol
from wsrpc_app.core.protocol import Invalid, Response
from wsrpc_app.errors import ErrorCode


def answer() -> int:
    return 42


def nothing() -> None:
    return None


def refuse() -> None:
    raise RpcError("no", code=-32050)


@pytest.fixture
def peer() -> Peer:
    return Peer(answer, nothing, refuse)


# Replies this side sends.


async def test_success_has_result_and_no_error(peer: Peer) -> None:
    reply = await peer.exchange({"jsonrpc": "2.0", "method": "answer", "id": 1})
    assert set(reply) == {"jsonrpc", "result", "id"}


async def test_failure_has_error_and_no_result(peer: Peer) -> None:
    reply = await peer.exchange({"jsonrpc": "2.0", "method": "refuse", "id": 1})
    assert set(reply) == {"jsonrpc", "error", "id"}


async def test_jsonrpc_member_is_exactly_2_0(peer: Peer) -> None:
    reply = await peer.exchange({"jsonrpc": "2.0", "method": "answer", "id": 1})
    assert reply["jsonrpc"] == "2.0"


async def test_null_result_is_sent_as_a_result_member(peer: Peer) -> None:
    reply = await peer.exchange({"jsonrpc": "2.0", "method": "nothing", "id": 1})
    assert reply == {"jsonrpc": "2.0", "result": None, "id": 1}


async def test_reply_id_keeps_the_type_of_the_request_id(peer: Peer) -> None:
    by_string = await peer.exchange({"jsonrpc": "2.0", "method": "answer", "id": "7"})
    by_number = await peer.exchange({"jsonrpc": "2.0", "method": "answer", "id": 7})
    assert by_string["id"] == "7"
    assert by_number["id"] == 7


async def test_error_reply_carries_the_request_id(peer: Peer) -> None:
    reply = await peer.exchange({"jsonrpc": "2.0", "method": "refuse", "id": "abc"})
    assert reply["id"] == "abc"


async def test_id_is_null_when_the_frame_is_not_json(peer: Peer) -> None:
    reply = await peer.exchange('{"jsonrpc": "2.0", "method": "answer", "id": 1')
    assert reply["id"] is None
    assert reply["error"]["code"] == -32700


async def test_id_is_null_when_it_cannot_be_read(peer: Peer) -> None:
    reply = await peer.exchange({"jsonrpc": "2.0", "method": "answer", "id": {"not": "an id"}})
    assert reply["id"] is None
    assert reply["error"]["code"] == -32600


# Responses received from the peer, to calls this side made.


def test_peer_result_is_classified_as_a_response() -> None:
    assert protocol.classify({"jsonrpc": "2.0", "result": 19, "id": 1}) == Response(1, 19)


def test_peer_null_result_is_a_response() -> None:
    assert protocol.classify({"jsonrpc": "2.0", "result": None, "id": 1}) == Response(1, None)


def test_peer_error_becomes_an_rpc_error() -> None:
    message = protocol.classify(
        {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found", "data": "x"}, "id": 2}
    )
    assert isinstance(message, Response)
    assert message.id == 2
    assert isinstance(message.error, RpcError)
    assert (message.error.code, message.error.message, message.error.data) == (-32601, "Method not found", "x")


def test_peer_response_with_null_id_is_a_response() -> None:
    message = protocol.classify({"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": None})
    assert isinstance(message, Response)
    assert message.id is None


@pytest.mark.parametrize(
    ("frame", "problem"),
    [
        ({"jsonrpc": "2.0", "result": 1, "error": {"code": 1, "message": "m"}, "id": 1}, "both"),
        ({"jsonrpc": "2.0", "result": 1}, "no id"),
        ({"result": 1, "id": 1}, "no jsonrpc"),
        ({"jsonrpc": "1.0", "result": 1, "id": 1}, "wrong version"),
        ({"jsonrpc": "2.0", "result": 1, "id": True}, "boolean id"),
        ({"jsonrpc": "2.0", "error": "bad", "id": 1}, "error not an object"),
        ({"jsonrpc": "2.0", "error": {"code": "1", "message": "m"}, "id": 1}, "code not an integer"),
        ({"jsonrpc": "2.0", "error": {"code": 1.5, "message": "m"}, "id": 1}, "fractional code"),
        ({"jsonrpc": "2.0", "error": {"code": True, "message": "m"}, "id": 1}, "boolean code"),
        ({"jsonrpc": "2.0", "error": {"code": 1}, "id": 1}, "no message"),
        ({"jsonrpc": "2.0", "error": {"code": 1, "message": 2}, "id": 1}, "message not a string"),
    ],
)
def test_malformed_peer_response_is_invalid_and_marked_as_a_response(frame: dict[str, Any], problem: str) -> None:
    message = protocol.classify(frame)
    assert isinstance(message, Invalid), problem
    assert message.response, problem
    assert message.error.code == ErrorCode.INVALID_REQUEST


async def test_stray_response_is_never_answered(peer: Peer) -> None:
    # Answering a response with an error could make two peers bounce errors forever.
    assert await peer.exchange({"jsonrpc": "2.0", "result": 1, "id": 99}) is None


async def test_malformed_response_is_never_answered(peer: Peer) -> None:
    frame = {"jsonrpc": "2.0", "result": 1, "error": {"code": 1, "message": "m"}, "id": 99}
    assert await peer.exchange(frame) is None


async def test_error_response_with_null_id_is_never_answered(peer: Peer) -> None:
    frame = {"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": None}
    assert await peer.exchange(frame) is None
