"""Strict JSON both ways, and the Python values a method may return (``wsrpc_app.core.protocol``).

NaN and Infinity are not JSON (RFC 8259 section 6): a frame holding them is a
parse error, and no frame this side sends ever holds them.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import uuid
from typing import Any

import pydantic
import pytest

from tests.support.peer import Peer, strict_loads
from wsrpc_app.core import protocol
from wsrpc_app.errors import ParseError


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Box(pydantic.BaseModel):
    label: str
    size: decimal.Decimal
    made: datetime.date


class Color(enum.Enum):
    RED = "red"


class TaggedUUID(uuid.UUID):
    """A UUID subclass, as some libraries return."""


def _returning(value: Any) -> Peer:
    def value_of() -> Any:
        return value

    return Peer(value_of)


async def _result(value: Any) -> Any:
    reply = await _returning(value).exchange({"jsonrpc": "2.0", "method": "value_of", "id": 1})
    assert "error" not in reply, reply
    return reply["result"]


async def _error(value: Any) -> dict[str, Any]:
    reply = await _returning(value).exchange({"jsonrpc": "2.0", "method": "value_of", "id": 1})
    assert "result" not in reply, reply
    error: dict[str, Any] = reply["error"]
    return error


# Input


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
async def test_non_finite_number_in_a_request_is_parse_error(literal: str) -> None:
    reply = await _returning(None).exchange(
        f'{{"jsonrpc": "2.0", "method": "value_of", "params": [{literal}], "id": 1}}'
    )
    assert reply["id"] is None
    assert reply["error"]["code"] == -32700


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_number_is_refused_by_the_parser(literal: str) -> None:
    with pytest.raises(ParseError):
        protocol.parse(f"[{literal}]")


def test_invalid_utf8_is_parse_error() -> None:
    with pytest.raises(ParseError):
        protocol.parse(b'{"jsonrpc": "2.0", "method": "\xff", "id": 1}')


def test_empty_frame_is_parse_error() -> None:
    with pytest.raises(ParseError):
        protocol.parse("")


def test_trailing_garbage_is_parse_error() -> None:
    with pytest.raises(ParseError):
        protocol.parse('{"jsonrpc": "2.0", "method": "f", "id": 1} x')


def test_parse_error_data_says_where() -> None:
    with pytest.raises(ParseError) as caught:
        protocol.parse('{"jsonrpc": "2.0", "method": ')
    assert isinstance(caught.value.data, str)
    assert caught.value.data


def test_unicode_survives_the_round_trip() -> None:
    message = protocol.parse('{"jsonrpc": "2.0", "method": "say", "params": ["h\\u00e9llo \U0001f600"], "id": 1}')
    assert isinstance(message, protocol.Request)
    assert message.params == ["héllo \U0001f600"]
    assert strict_loads(protocol.result_reply(1, message.params))["result"] == ["héllo \U0001f600"]


# Output


async def test_nan_result_is_never_emitted() -> None:
    # strict_loads refuses NaN: reaching the asserts means the frame was strict JSON.
    reply = await _returning(float("nan")).exchange({"jsonrpc": "2.0", "method": "value_of", "id": 1})
    assert reply.get("result") is None


async def test_infinite_result_is_never_emitted() -> None:
    reply = await _returning([float("inf"), float("-inf")]).exchange({"jsonrpc": "2.0", "method": "value_of", "id": 1})
    assert "Infinity" not in str(reply)


def test_encode_never_emits_nan_or_infinity() -> None:
    frame = protocol.encode({"values": [float("nan"), float("inf"), float("-inf")]})
    assert b"NaN" not in frame
    assert b"Infinity" not in frame
    strict_loads(frame)


async def test_dataclass_is_encoded_as_an_object() -> None:
    assert await _result(Point(1, 2)) == {"x": 1, "y": 2}


async def test_pydantic_model_is_encoded_as_its_json_dump() -> None:
    box = Box(label="b", size=decimal.Decimal("1.50"), made=datetime.date(2024, 1, 2))
    assert await _result(box) == {"label": "b", "size": "1.50", "made": "2024-01-02"}


async def test_aware_datetime_is_encoded_as_rfc3339() -> None:
    when = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    assert await _result(when) == "2024-01-02T03:04:05+00:00"


async def test_date_is_encoded_as_iso_8601() -> None:
    assert await _result(datetime.date(2024, 1, 2)) == "2024-01-02"


async def test_time_is_encoded_as_iso_8601() -> None:
    assert await _result(datetime.time(3, 4, 5)) == "03:04:05"


async def test_timedelta_is_encoded_as_seconds() -> None:
    assert await _result(datetime.timedelta(minutes=1, milliseconds=500)) == 60.5


async def test_decimal_is_encoded_as_a_string_keeping_its_digits() -> None:
    assert await _result(decimal.Decimal("9.990")) == "9.990"


async def test_non_finite_decimal_is_internal_error() -> None:
    assert (await _error(decimal.Decimal("NaN")))["code"] == -32603


async def test_uuid_is_encoded_as_a_string() -> None:
    value = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert await _result(value) == "12345678-1234-5678-1234-567812345678"


async def test_uuid_subclass_is_encoded_as_a_string() -> None:
    value = TaggedUUID("12345678-1234-5678-1234-567812345678")
    assert await _result(value) == "12345678-1234-5678-1234-567812345678"


async def test_set_is_encoded_as_an_array() -> None:
    assert sorted(await _result({3, 1, 2})) == [1, 2, 3]


async def test_frozenset_is_encoded_as_an_array() -> None:
    assert await _result(frozenset({"a"})) == ["a"]


async def test_tuple_is_encoded_as_an_array() -> None:
    assert await _result((1, "two")) == [1, "two"]


async def test_enum_is_encoded_as_its_value() -> None:
    assert await _result(Color.RED) == "red"


async def test_values_nested_in_containers_are_encoded() -> None:
    value = {"points": [Point(0, 1)], "ids": {uuid.UUID(int=1)}, "price": decimal.Decimal("1.5")}
    assert await _result(value) == {
        "points": [{"x": 0, "y": 1}],
        "ids": ["00000000-0000-0000-0000-000000000001"],
        "price": "1.5",
    }


async def test_unserializable_result_is_internal_error() -> None:
    error = await _error(object())
    assert error["code"] == -32603
    assert "not JSON serializable" in error["data"]


async def test_bytes_result_is_internal_error() -> None:
    error = await _error(b"raw")
    assert error["code"] == -32603


async def test_unserializable_result_keeps_the_request_id() -> None:
    reply = await _returning(object()).exchange({"jsonrpc": "2.0", "method": "value_of", "id": "abc"})
    assert reply["id"] == "abc"


def test_result_reply_falls_back_to_internal_error() -> None:
    assert strict_loads(protocol.result_reply(7, {"bad": object()}))["error"]["code"] == -32603


def test_encode_raises_type_error_for_unserializable_values() -> None:
    with pytest.raises(TypeError):
        protocol.encode({"bad": object()})


def test_request_frame_is_compact_json() -> None:
    assert protocol.request("add", [1, 2], 5) == b'{"jsonrpc":"2.0","method":"add","id":5,"params":[1,2]}'


def test_batch_of_encoded_replies_is_a_json_array() -> None:
    frame = protocol.join_batch([protocol.result_reply(1, 1), protocol.result_reply(2, 2)])
    assert strict_loads(frame) == [{"jsonrpc": "2.0", "result": 1, "id": 1}, {"jsonrpc": "2.0", "result": 2, "id": 2}]
