"""JSON-RPC 2.0 section 4.2: parameter structures.

https://www.jsonrpc.org/specification#parameter_structures

``params`` is by-position (an array, in the order the method expects) or
by-name (an object whose member names match the method's parameter names
exactly, case included). Params that do not fit the method are -32602.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.peer import Peer


def divide(dividend: float, divisor: float) -> float:
    return dividend / divisor


def nothing() -> str:
    return "nothing"


def greet(name: str, greeting: str = "hello") -> str:
    return f"{greeting} {name}"


def pair(first: int, second: int, /) -> list[int]:
    return [first, second]


def tagged(value: int, *, tag: str = "none") -> list[Any]:
    return [value, tag]


def collect(*items: Any) -> list[Any]:
    return list(items)


def options(**named: Any) -> dict[str, Any]:
    return named


@pytest.fixture
def peer() -> Peer:
    return Peer(divide, nothing, greet, pair, tagged, collect, options)


async def _call(peer: Peer, method: str, params: Any = None, *, omit: bool = False) -> dict[str, Any]:
    request: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": 1}
    if not omit:
        request["params"] = params
    reply = await peer.exchange(request)
    assert isinstance(reply, dict)
    return reply


async def test_by_position_follows_the_order_of_the_signature(peer: Peer) -> None:
    assert (await _call(peer, "divide", [1, 4]))["result"] == 0.25


async def test_by_name_ignores_the_order_of_members(peer: Peer) -> None:
    assert (await _call(peer, "divide", {"divisor": 4, "dividend": 1}))["result"] == 0.25


async def test_omitted_params_call_a_method_without_parameters(peer: Peer) -> None:
    assert (await _call(peer, "nothing", omit=True))["result"] == "nothing"


async def test_empty_array_calls_a_method_without_parameters(peer: Peer) -> None:
    assert (await _call(peer, "nothing", []))["result"] == "nothing"


async def test_empty_object_calls_a_method_without_parameters(peer: Peer) -> None:
    assert (await _call(peer, "nothing", {}))["result"] == "nothing"


async def test_omitted_params_leave_defaults(peer: Peer) -> None:
    assert (await _call(peer, "greet", {"name": "ann"}))["result"] == "hello ann"


async def test_by_position_may_fill_a_parameter_with_a_default(peer: Peer) -> None:
    assert (await _call(peer, "greet", ["ann", "hi"]))["result"] == "hi ann"


async def test_by_name_member_names_are_case_sensitive(peer: Peer) -> None:
    reply = await _call(peer, "divide", {"Dividend": 1, "divisor": 4})
    assert reply["error"]["code"] == -32602


async def test_unknown_member_name_is_invalid_params(peer: Peer) -> None:
    reply = await _call(peer, "divide", {"dividend": 1, "divisor": 4, "extra": 0})
    assert reply["error"]["code"] == -32602


async def test_missing_argument_is_invalid_params(peer: Peer) -> None:
    reply = await _call(peer, "divide", [1])
    assert reply["error"]["code"] == -32602


async def test_too_many_positional_arguments_is_invalid_params(peer: Peer) -> None:
    reply = await _call(peer, "divide", [1, 2, 3])
    assert reply["error"]["code"] == -32602


async def test_params_for_a_method_without_parameters_is_invalid_params(peer: Peer) -> None:
    reply = await _call(peer, "nothing", [1])
    assert reply["error"]["code"] == -32602


async def test_positional_only_parameters_cannot_be_named(peer: Peer) -> None:
    reply = await _call(peer, "pair", {"first": 1, "second": 2})
    assert reply["error"]["code"] == -32602


async def test_positional_only_parameters_by_position(peer: Peer) -> None:
    assert (await _call(peer, "pair", [1, 2]))["result"] == [1, 2]


async def test_keyword_only_parameter_cannot_be_given_by_position(peer: Peer) -> None:
    reply = await _call(peer, "tagged", [1, "x"])
    assert reply["error"]["code"] == -32602


async def test_keyword_only_parameter_by_name(peer: Peer) -> None:
    assert (await _call(peer, "tagged", {"value": 1, "tag": "x"}))["result"] == [1, "x"]


async def test_var_positional_takes_any_number_of_positional_params(peer: Peer) -> None:
    assert (await _call(peer, "collect", [1, "two", None]))["result"] == [1, "two", None]


async def test_var_keyword_takes_any_member_names(peer: Peer) -> None:
    assert (await _call(peer, "options", {"a": 1, "b": [2]}))["result"] == {"a": 1, "b": [2]}


async def test_invalid_params_names_the_signature(peer: Peer) -> None:
    reply = await _call(peer, "divide", [1])
    assert "divisor" in reply["error"]["data"]["signature"]
    assert reply["error"]["message"] == "Invalid params"


async def test_structured_values_pass_through_unchanged(peer: Peer) -> None:
    value = {"nested": [1, {"deep": None}], "flag": False}
    assert (await _call(peer, "collect", [value]))["result"] == [value]
