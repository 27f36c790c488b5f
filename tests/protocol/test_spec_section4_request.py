"""JSON-RPC 2.0 section 4: the Request object.

https://www.jsonrpc.org/specification#request_object

A request has ``jsonrpc`` exactly "2.0", a string ``method``, optional
structured ``params`` and an ``id`` that is a string, a number or null.
Anything else is answered -32600 Invalid Request, with the request's id when
it could be read and null otherwise (section 5).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.peer import Peer
from wsrpc_app.core import protocol
from wsrpc_app.core.protocol import Invalid, Request


def echo(*values: Any) -> list[Any]:
    return list(values)


@pytest.fixture
def peer() -> Peer:
    return Peer(echo)


def _error_code(reply: dict[str, Any]) -> int:
    assert "result" not in reply
    return int(reply["error"]["code"])


async def test_valid_request_is_answered_with_its_result(peer: Peer) -> None:
    reply = await peer.exchange({"jsonrpc": "2.0", "method": "echo", "params": [1, "a"], "id": 1})
    assert reply == {"jsonrpc": "2.0", "result": [1, "a"], "id": 1}


def test_valid_request_is_classified_as_request() -> None:
    message = protocol.classify({"jsonrpc": "2.0", "method": "echo", "params": [1], "id": 7})
    assert message == Request("echo", [1], 7, notification=False)


async def test_missing_jsonrpc_member_is_invalid_request(peer: Peer) -> None:
    reply = await peer.exchange({"method": "echo", "id": 1})
    assert _error_code(reply) == -32600
    assert reply["id"] == 1


@pytest.mark.parametrize("version", ["1.0", "2", 2.0, 2, None])
async def test_jsonrpc_other_than_the_string_2_0_is_invalid_request(peer: Peer, version: Any) -> None:
    reply = await peer.exchange({"jsonrpc": version, "method": "echo", "id": 1})
    assert _error_code(reply) == -32600


@pytest.mark.parametrize("method", [1, None, ["echo"], {"name": "echo"}, True])
async def test_method_that_is_not_a_string_is_invalid_request(peer: Peer, method: Any) -> None:
    reply = await peer.exchange({"jsonrpc": "2.0", "method": method, "id": 1})
    assert _error_code(reply) == -32600
    assert reply["id"] == 1


async def test_method_names_are_case_sensitive(peer: Peer) -> None:
    reply = await peer.exchange({"jsonrpc": "2.0", "method": "Echo", "id": 1})
    assert _error_code(reply) == -32601


async def test_empty_method_name_is_method_not_found(peer: Peer) -> None:
    reply = await peer.exchange({"jsonrpc": "2.0", "method": "", "id": 1})
    assert _error_code(reply) == -32601


async def test_unknown_method_in_the_reserved_rpc_namespace_is_method_not_found(peer: Peer) -> None:
    reply = await peer.exchange({"jsonrpc": "2.0", "method": "rpc.nothing", "id": 1})
    assert _error_code(reply) == -32601


def test_rpc_prefix_is_reserved() -> None:
    assert protocol.is_reserved("rpc.ping")
    assert not protocol.is_reserved("rpcping")
    assert not protocol.is_reserved("app.rpc.ping")


@pytest.mark.parametrize("params", ["bar", 1, True, None])
async def test_params_that_are_not_an_array_or_object_are_invalid_request(peer: Peer, params: Any) -> None:
    reply = await peer.exchange({"jsonrpc": "2.0", "method": "echo", "params": params, "id": 1})
    assert _error_code(reply) == -32600
    assert reply["id"] == 1


async def test_string_id_is_echoed_as_a_string(peer: Peer) -> None:
    reply = await peer.exchange({"jsonrpc": "2.0", "method": "echo", "id": "1"})
    assert reply == {"jsonrpc": "2.0", "result": [], "id": "1"}


async def test_integer_id_is_echoed_as_an_integer(peer: Peer) -> None:
    reply = await peer.exchange({"jsonrpc": "2.0", "method": "echo", "id": 1})
    assert reply == {"jsonrpc": "2.0", "result": [], "id": 1}


async def test_large_integer_id_is_echoed_exactly(peer: Peer) -> None:
    reply = await peer.exchange({"jsonrpc": "2.0", "method": "echo", "id": 2**53 + 1})
    assert reply["id"] == 2**53 + 1


async def test_fractional_id_is_echoed(peer: Peer) -> None:
    # "Numbers SHOULD NOT contain fractional parts": discouraged, yet a Number,
    # which the id "MUST contain"; such a request is valid and answered.
    reply = await peer.exchange('{"jsonrpc": "2.0", "method": "echo", "id": 1.5}')
    assert reply == {"jsonrpc": "2.0", "result": [], "id": 1.5}


async def test_null_id_is_a_request_answered_with_null_id(peer: Peer) -> None:
    reply = await peer.exchange({"jsonrpc": "2.0", "method": "echo", "params": [1], "id": None})
    assert reply == {"jsonrpc": "2.0", "result": [1], "id": None}


@pytest.mark.parametrize("id_", [True, False, [1], {"n": 1}])
async def test_id_of_another_type_is_invalid_request_with_null_id(peer: Peer, id_: Any) -> None:
    reply = await peer.exchange({"jsonrpc": "2.0", "method": "echo", "id": id_})
    assert _error_code(reply) == -32600
    assert reply["id"] is None


@pytest.mark.parametrize("frame", ["1", '"echo"', "null", "true"])
async def test_frame_that_is_not_an_object_is_invalid_request(peer: Peer, frame: str) -> None:
    reply = await peer.exchange(frame)
    assert _error_code(reply) == -32600
    assert reply["id"] is None


async def test_object_without_method_result_or_error_is_invalid_request(peer: Peer) -> None:
    reply = await peer.exchange({"jsonrpc": "2.0", "id": 4})
    assert _error_code(reply) == -32600
    assert reply["id"] == 4


async def test_invalid_request_error_says_what_is_wrong(peer: Peer) -> None:
    reply = await peer.exchange({"jsonrpc": "2.0", "method": "echo", "params": "bar", "id": 1})
    assert "params" in reply["error"]["data"]


def test_invalid_request_is_classified_as_invalid_not_as_a_response() -> None:
    message = protocol.classify({"jsonrpc": "2.0", "method": 1, "id": 3})
    assert isinstance(message, Invalid)
    assert message.id == 3
    assert not message.response
