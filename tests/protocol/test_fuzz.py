"""Property-based fuzzing of the protocol core with hypothesis.

Whatever a peer sends (any JSON value, anything shaped almost like a
request, arbitrary text or bytes), ``protocol.parse`` raises nothing but a
parse error or an invalid request, ``Endpoint.receive`` raises nothing at
all, and every reply is a valid JSON-RPC 2.0 response whose ids follow the
specification: the request's own id, null when it could not be read, none
for notifications and for responses. The expected ids come from a model of
sections 4 to 6 (tests/protocol/model.py), independent of ``wsrpc_app.core.protocol``.

Example counts are bounded so that the whole module takes a few seconds;
run with ``--hypothesis-seed`` to reproduce a failure.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.support.model import (
    MAX_BATCH,
    check_frame,
    encode,
    expected_replies,
    json_values,
    messages,
    payloads,
    reply_id,
    same_ids,
)
from tests.support.peer import Peer, strict_loads
from wsrpc_app.core import protocol
from wsrpc_app.core.protocol import Batch, Invalid, Request, Response
from wsrpc_app.core.registry import Method, Registry
from wsrpc_app.errors import InvalidRequest, ParseError, PeerDisconnected, RpcError

FUZZ = settings(
    max_examples=100,
    deadline=1000,  # milliseconds, per example
    database=None,  # leave nothing behind in the working tree
    suppress_health_check=[HealthCheck.too_slow],
)


# The registry the endpoint under test serves ----------------------------------------------------------


async def echo(value: Any = None) -> Any:
    return value


async def fail() -> None:
    raise ValueError("secret internals")


async def add(a: int, b: int) -> int:
    return a + b


REGISTRY = Registry(
    [Method.from_callable("echo", echo), Method.from_callable("fail", fail), Method.from_callable("add", add)]
)


async def replies_to(frame: str | bytes, *, max_in_flight: int | None = None) -> list[str]:
    peer = Peer(registry=REGISTRY, max_batch=MAX_BATCH, max_in_flight=max_in_flight)
    await peer.endpoint.receive(frame)
    async with asyncio.timeout(2):
        while peer.endpoint.running:
            await asyncio.gather(*list(peer.endpoint.running.values()))
    frames = list(peer.frames)
    await peer.endpoint.close()
    return frames


# protocol.parse --------------------------------------------------------------------------------------


@FUZZ
@given(st.text() | st.binary())
@example("\ud800")  # a lone surrogate: no UTF-8 form
@example(b"\xff\xfe\x00")
@example("[" * 100_000)
@example('{"jsonrpc": "2.0", "method": "echo", "params": [NaN], "id": 1}')
def test_parse_any_text_or_bytes(frame: str | bytes) -> None:
    try:
        parsed = protocol.parse(frame, max_batch=MAX_BATCH)
    except (ParseError, InvalidRequest) as error:
        assert error.code in (-32700, -32600)
        assert protocol.error_reply(None, error)  # and it can be answered
    else:
        assert isinstance(parsed, Batch | Request | Response | Invalid)


@FUZZ
@given(payloads)
def test_parse_any_json_follows_the_model(payload: Any) -> None:
    try:
        parsed = protocol.parse(encode(payload), max_batch=MAX_BATCH)
    except InvalidRequest:
        assert isinstance(payload, list) and not (0 < len(payload) <= MAX_BATCH)
        return
    elements = parsed.messages if isinstance(parsed, Batch) else [parsed]
    originals = payload if isinstance(payload, list) else [payload]
    assert len(elements) == len(originals)
    for element, original in zip(elements, originals, strict=True):
        owes, id_ = reply_id(original)
        if isinstance(element, Request):
            assert owes is not element.notification
            if owes:
                assert same_ids([element.id], [id_])
        elif isinstance(element, Invalid):
            assert owes is not element.response
            if owes:
                assert same_ids([element.id], [id_])
        else:
            assert not owes


# Endpoint.receive ------------------------------------------------------------------------------------


@FUZZ
@given(payloads)
def test_endpoint_replies_per_spec_to_any_json(payload: Any) -> None:
    frames = asyncio.run(replies_to(encode(payload)))
    shape, expected_ids = expected_replies(payload)
    if shape == "none":
        assert frames == []
        return
    assert len(frames) == 1, frames
    got_shape, got_ids = check_frame(frames[0])
    assert got_shape == shape, (payload, frames)
    assert same_ids(got_ids, expected_ids), (payload, frames)


@FUZZ
@given(st.text() | st.binary())
@example("[" * 100_000)
@example("[]")
@example("[1e400]")
@example(b"\xff\xfe[\x00]\x00")  # UTF-16 with a byte order mark: not UTF-8, not JSON here
def test_endpoint_replies_per_spec_to_any_text(frame: str | bytes) -> None:
    frames = asyncio.run(replies_to(frame))
    assert len(frames) <= 1
    for reply in frames:
        check_frame(reply)


@FUZZ
@given(st.text(max_size=50).filter(lambda s: not is_json(s)))
def test_endpoint_answers_non_json_with_a_parse_error(frame: str) -> None:
    [reply] = asyncio.run(replies_to(frame))
    parsed = strict_loads(reply)
    assert parsed["error"]["code"] == -32700
    assert parsed["id"] is None


@settings(FUZZ, max_examples=60)
@given(st.lists(messages, min_size=1, max_size=MAX_BATCH))
def test_in_flight_limit_refusals_keep_their_ids(batch: list[Any]) -> None:
    frames = asyncio.run(replies_to(encode(batch), max_in_flight=2))
    shape, expected_ids = expected_replies(batch)
    if shape == "none":
        assert frames == []
        return
    [frame] = frames
    got_shape, got_ids = check_frame(frame)
    assert got_shape == "batch"
    assert same_ids(got_ids, expected_ids)


def is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


# Replies to this side's own calls -------------------------------------------------------------------------


@settings(FUZZ, max_examples=80)
@given(st.lists(messages | json_values, min_size=1, max_size=6))
def test_a_pending_call_ends_only_with_a_result_an_rpc_error_or_a_disconnect(frames: list[Any]) -> None:
    async def scenario() -> None:
        peer = Peer(registry=REGISTRY, max_batch=MAX_BATCH)
        call = asyncio.ensure_future(peer.endpoint.call("remote", timeout=5))
        await asyncio.sleep(0)  # the request is out, with id 1
        for frame in frames:
            # Aim some at the pending call: id 1 is the one it uses.
            if isinstance(frame, dict) and ("result" in frame or "error" in frame):
                frame = {**frame, "id": 1}
            await peer.endpoint.receive(encode(frame))
        await peer.endpoint.close()
        try:
            await call
        except (RpcError, PeerDisconnected):
            pass
        assert not peer.endpoint.pending
        assert not peer.endpoint.running
        for reply in peer.frames[1:]:  # the first is the call itself
            check_frame(reply)

    asyncio.run(scenario())


# Examples worth naming ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("[" * 100_000, -32700),
        ('{"a":' * 50_000 + "1" + "}" * 50_000, -32700),
        ("[1e400]", -32700),  # overflows a double: Infinity
        ("[" + "9" * 400 + "]", -32700),
        ('{"jsonrpc":"2.0","method":"echo","params":[NaN],"id":1}', -32700),
        ('{"jsonrpc":"2.0","method":"echo","params":[-Infinity],"id":1}', -32700),
        ("[" + ",".join(["{}"] * 50_000) + "]", -32600),
        ("[]", -32600),
    ],
    ids=["nested-100k", "nested-objects-50k", "1e400", "400-digits", "NaN", "-Infinity", "batch-50k", "[]"],
)
async def test_hostile_frames(frame: str, code: int) -> None:
    [reply] = await replies_to(frame)
    parsed = strict_loads(reply)
    assert parsed["error"]["code"] == code
    assert parsed["id"] is None


@pytest.mark.parametrize(
    ("number", "echoed"),
    [
        ("18446744073709551615", 18446744073709551615),  # the largest integer kept exact
        ("-9223372036854775808", -9223372036854775808),
        ("18446744073709551616", 18446744073709551616.0),  # beyond 64 bits: read as a double
        ("1e308", 1e308),
        ("1e-400", 0.0),
    ],
)
async def test_huge_numbers(number: str, echoed: Any) -> None:
    [reply] = await replies_to(f'{{"jsonrpc":"2.0","method":"echo","params":[{number}],"id":1}}')
    assert strict_loads(reply) == {"jsonrpc": "2.0", "result": echoed, "id": 1}


async def test_a_result_beyond_64_bits_is_an_internal_error_not_a_crash() -> None:
    [reply] = await replies_to('{"jsonrpc":"2.0","method":"add","params":[18446744073709551615, 1],"id":1}')
    assert strict_loads(reply)["error"]["code"] == -32603
