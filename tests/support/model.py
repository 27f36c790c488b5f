"""What JSON-RPC 2.0 says a peer must answer, as a model independent of ``wsrpc_app.core.protocol``,
and hypothesis strategies for what a hostile peer may send.

Used by the fuzz tests of the protocol core (tests/protocol/test_fuzz.py) and
of a live server (tests/e2e/test_hostile.py).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from hypothesis import strategies as st

from tests.support.peer import strict_loads

__all__ = [
    "MAX_BATCH",
    "numbers",
    "text",
    "scalars",
    "json_values",
    "messages",
    "payloads",
    "encode",
    "valid_id",
    "reply_id",
    "expected_replies",
    "check_response",
    "check_frame",
    "same_ids",
]

#: The batch limit the models assume (the test settings' MAX_BATCH_LENGTH is 50).
MAX_BATCH = 8

# Strategies -------------------------------------------------------------------------------------

#: Numbers JSON carries and a double holds: orjson reads larger integers as
#: floats and refuses what overflows a double (see test_huge_numbers).
numbers = st.integers(min_value=-(2**63), max_value=2**64 - 1) | st.floats(allow_nan=False, allow_infinity=False)
#: Text a WebSocket text frame can carry: no lone surrogates.
text = st.text(st.characters(codec="utf-8"), max_size=20)
keys = st.text(st.characters(codec="utf-8"), max_size=5)
scalars = st.none() | st.booleans() | numbers | text
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=3),
    max_leaves=8,
)
ids = st.none() | numbers | text | st.booleans() | st.lists(scalars, max_size=2) | st.dictionaries(text, scalars)
methods = st.sampled_from(["echo", "fail", "add", "rpc.ping", "nope", "rpc.nope"]) | text | scalars
error_objects = st.fixed_dictionaries(
    {"code": st.integers(-33000, 0) | scalars, "message": text | scalars}, optional={"data": json_values}
)
#: Objects with any subset of the members a message may have, each right or wrong.
messages = st.fixed_dictionaries(
    {},
    optional={
        "jsonrpc": st.sampled_from(["2.0", "2.0", "2.0", "1.0", "2", 2.0, None]),
        "method": methods,
        "params": st.lists(json_values, max_size=3) | st.dictionaries(text, json_values, max_size=3) | scalars,
        "id": ids,
        "result": json_values,
        "error": error_objects | json_values,
    },
)
payloads = messages | json_values | st.lists(messages | json_values, min_size=0, max_size=MAX_BATCH + 2)


def encode(payload: Any) -> str:
    return json.dumps(payload, allow_nan=False)


# The model: what the specification says the replies must be -----------------------------------------


def valid_id(value: Any) -> bool:
    return value is None or (isinstance(value, str | int | float) and not isinstance(value, bool))


def reply_id(element: Any) -> tuple[bool, Any]:
    """(owes a reply, the id it carries) for one element of a frame, per sections 4, 5 and 6."""
    if not isinstance(element, dict):
        return True, None
    id_ = element.get("id") if valid_id(element.get("id")) else None
    if "method" in element:
        well_formed = (
            element.get("jsonrpc") == "2.0"
            and isinstance(element["method"], str)
            and ("params" not in element or isinstance(element["params"], list | dict))
            and valid_id(element.get("id"))
        )
        if well_formed and "id" not in element:
            return False, None  # a notification: never answered, even when it fails
        return True, id_
    if "result" in element or "error" in element:
        return False, None  # a response: this side made no call, so it is dropped, never answered
    return True, id_


def expected_replies(payload: Any, max_batch: int | None = MAX_BATCH) -> tuple[str, list[Any]]:
    """("none" | "single" | "batch", the ids of the reply objects, in any order)."""
    if isinstance(payload, list):
        if not payload or (max_batch is not None and len(payload) > max_batch):
            return "single", [None]
        owed = [id_ for owes, id_ in map(reply_id, payload) if owes]
        return ("batch", owed) if owed else ("none", [])
    owes, id_ = reply_id(payload)
    return ("single", [id_]) if owes else ("none", [])


def check_response(reply: Any) -> None:
    """Section 5: one response object."""
    assert isinstance(reply, dict), reply
    assert reply.get("jsonrpc") == "2.0", reply
    assert "id" in reply, reply
    assert valid_id(reply["id"]), reply
    assert ("result" in reply) != ("error" in reply), reply
    assert set(reply) <= {"jsonrpc", "result", "error", "id"}, reply
    if "error" in reply:
        error = reply["error"]
        assert isinstance(error, dict), reply
        assert set(error) <= {"code", "message", "data"}, reply
        assert isinstance(error["code"], int) and not isinstance(error["code"], bool), reply
        assert isinstance(error["message"], str), reply
        if error["code"] == -32603:
            assert "data" not in error or "Traceback" not in json.dumps(error["data"]), reply


def check_frame(frame: str) -> tuple[str, list[Any]]:
    """A reply frame: strict JSON, a response or a non-empty array of them; its shape and ids."""
    reply = strict_loads(frame)
    if isinstance(reply, list):
        assert reply, "an empty array is never a reply (section 6)"
        for item in reply:
            check_response(item)
        return "batch", [item["id"] for item in reply]
    check_response(reply)
    return "single", [reply["id"]]


def same_ids(got: list[Any], expected: list[Any]) -> bool:
    """Equal as multisets, comparing numbers as JSON does (1 == 1.0)."""

    def key(value: Any) -> Any:
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            return int(value)
        return value if not isinstance(value, float) else repr(value)

    return Counter(map(key, got)) == Counter(map(key, expected))
