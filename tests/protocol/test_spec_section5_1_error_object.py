"""JSON-RPC 2.0 section 5.1: the Error object.

https://www.jsonrpc.org/specification#error_object

``code`` is an integer, ``message`` a short string, ``data`` optional. The
codes -32768..-32000 are reserved; this server uses the predefined ones and
its own in -32099..-32000 (SPEC.md). An unexpected exception is -32603 and
shows nothing of itself outside debug mode.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.peer import Peer, settle, strict_loads
from wsrpc_app import RpcError
from wsrpc_app.core import protocol
from wsrpc_app.errors import (
    ErrorCode,
    InternalError,
    InvalidParams,
    InvalidRequest,
    MethodNotFound,
    NoSuchTopic,
    NotAuthenticated,
    ParseError,
    PermissionDenied,
    TimedOut,
    TooManyRequests,
)


def refuse() -> None:
    raise RpcError("Out of stock", code=-32050, data={"sku": "X1"})


def forbid() -> None:
    raise PermissionDenied(data={"topic": "news"})


def plain() -> None:
    raise RpcError()


def crash() -> None:
    raise ValueError("secret internals")


def crash_with_opaque_data() -> None:
    raise RpcError("with data", data=object())


@pytest.fixture
def peer() -> Peer:
    return Peer(refuse, forbid, plain, crash, crash_with_opaque_data)


async def _error(peer: Peer, method: str, *, id_: Any = 1) -> dict[str, Any]:
    reply = await peer.exchange({"jsonrpc": "2.0", "method": method, "id": id_})
    assert "result" not in reply
    error: dict[str, Any] = reply["error"]
    return error


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        (ParseError(), -32700, "Parse error"),
        (InvalidRequest(), -32600, "Invalid Request"),
        (MethodNotFound(), -32601, "Method not found"),
        (InvalidParams(), -32602, "Invalid params"),
        (InternalError(), -32603, "Internal error"),
    ],
)
def test_predefined_errors_use_the_specification_code_and_message(error: RpcError, code: int, message: str) -> None:
    assert error.to_object() == {"code": code, "message": message}


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (RpcError(), -32000),
        (NotAuthenticated(), -32001),
        (PermissionDenied(), -32003),
        (NoSuchTopic(), -32004),
        (TimedOut(), -32008),
        (TooManyRequests(), -32029),
    ],
)
def test_server_errors_use_the_codes_of_the_contract(error: RpcError, code: int) -> None:
    assert error.code == code
    assert -32099 <= error.code <= -32000


def test_error_code_is_a_plain_integer_on_the_wire() -> None:
    frame = protocol.error_reply(1, MethodNotFound())
    assert strict_loads(frame)["error"]["code"] == -32601
    assert type(MethodNotFound().code) is int


def test_data_is_omitted_when_there_is_none() -> None:
    assert "data" not in strict_loads(protocol.error_reply(1, InvalidParams()))["error"]


def test_data_may_be_any_json_value() -> None:
    error = strict_loads(protocol.error_reply(1, InvalidParams(data=[1, "two", {"three": None}])))["error"]
    assert error["data"] == [1, "two", {"three": None}]


def test_falsy_data_is_kept() -> None:
    assert strict_loads(protocol.error_reply(1, RpcError(data=0)))["error"]["data"] == 0


def test_rpc_error_message_and_code_can_be_overridden() -> None:
    error = RpcError("Out of stock", code=-32050)
    assert (error.code, error.message, str(error)) == (-32050, "Out of stock", "Out of stock")


def test_rpc_error_subclass_keeps_its_code_with_a_custom_message() -> None:
    assert PermissionDenied("Staff only").to_object() == {"code": -32003, "message": "Staff only"}


def test_error_codes_are_an_int_enum() -> None:
    assert int(ErrorCode.METHOD_NOT_FOUND) == -32601
    assert ErrorCode(-32008) is ErrorCode.TIMED_OUT


async def test_application_error_keeps_its_code_message_and_data(peer: Peer) -> None:
    assert await _error(peer, "refuse") == {"code": -32050, "message": "Out of stock", "data": {"sku": "X1"}}


async def test_rpc_error_subclass_raised_by_a_method_keeps_its_code(peer: Peer) -> None:
    assert await _error(peer, "forbid") == {"code": -32003, "message": "Permission denied", "data": {"topic": "news"}}


async def test_bare_rpc_error_is_application_error(peer: Peer) -> None:
    assert await _error(peer, "plain") == {"code": -32000, "message": "Application error"}


async def test_unexpected_exception_is_internal_error(peer: Peer) -> None:
    error = await _error(peer, "crash")
    assert error["code"] == -32603
    assert error["message"] == "Internal error"


async def test_internal_error_shows_no_exception_text_outside_debug(peer: Peer) -> None:
    await peer.endpoint.receive(json.dumps({"jsonrpc": "2.0", "method": "crash", "id": 1}))
    await settle(peer.endpoint)
    [frame] = peer.frames
    assert strict_loads(frame) == {"jsonrpc": "2.0", "error": {"code": -32603, "message": "Internal error"}, "id": 1}
    assert "secret internals" not in frame
    assert "ValueError" not in frame


async def test_internal_error_shows_the_exception_in_debug_mode() -> None:
    peer = Peer(crash, debug=True)
    error = (await peer.exchange({"jsonrpc": "2.0", "method": "crash", "id": 1}))["error"]
    assert error["code"] == -32603
    assert error["data"]["exception"] == "ValueError: secret internals"
    assert any("secret internals" in line for line in error["data"]["traceback"])


async def test_unserializable_error_data_becomes_internal_error(peer: Peer) -> None:
    error = await _error(peer, "crash_with_opaque_data")
    assert error["code"] == -32603


def test_error_object_from_a_peer_round_trips() -> None:
    original = RpcError("Out of stock", code=-32050, data={"sku": "X1"})
    rebuilt = RpcError.from_object(original.to_object())
    assert (rebuilt.code, rebuilt.message, rebuilt.data) == (-32050, "Out of stock", {"sku": "X1"})


@pytest.mark.parametrize("error", ["boom", None, [1], 5])
def test_error_that_is_not_an_object_becomes_internal_error(error: Any) -> None:
    rebuilt = RpcError.from_object(error)
    assert rebuilt.code == -32603
    assert rebuilt.data == error


def test_error_object_with_a_boolean_code_becomes_internal_error() -> None:
    assert RpcError.from_object({"code": True, "message": "m"}).code == -32603


def test_error_repr_names_code_message_and_data() -> None:
    assert repr(TimedOut(data=1)) == "TimedOut(code=-32008, message='Timed out', data=1)"
