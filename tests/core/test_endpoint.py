"""One side of a connection (``wsrpc_app.core.endpoint``): the peer's requests, and calls to the peer."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from tests.support.peer import PROMPTLY, Peer, settle
from wsrpc_app import RpcError
from wsrpc_app.core.endpoint import Endpoint
from wsrpc_app.core.protocol import params_of
from wsrpc_app.errors import PeerDisconnected


class Gate:
    """Holds methods until the test opens it, and records who got through."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.someone_entered = asyncio.Event()
        self.entered = 0
        self.cancelled = 0

    async def wait(self) -> str:
        self.entered += 1
        self.someone_entered.set()
        try:
            await self.open.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return "through"

    async def reached(self) -> None:
        """Wait until a method is held at the gate."""
        async with asyncio.timeout(PROMPTLY):
            await self.someone_entered.wait()


def echo(value: Any) -> Any:
    return value


def _request(method: str, id_: Any, params: Any = None) -> dict[str, Any]:
    request: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": id_}
    if params is not None:
        request["params"] = params
    return request


@pytest.fixture
def gate() -> Gate:
    return Gate()


@pytest.fixture
def peer(gate: Gate) -> Peer:
    # A function of the test's own gate, registered under the name "wait".
    async def wait() -> str:
        return await gate.wait()

    return Peer(wait, echo, call_timeout=PROMPTLY)


async def _outgoing(peer: Peer) -> Any:
    """The next frame the endpoint sent, once it has sent it."""
    await peer.wait_for_frames()
    [message] = peer.take()
    return message


# Requests from the peer


async def test_receive_returns_before_the_method_finishes(peer: Peer, gate: Gate) -> None:
    await peer.endpoint.receive(json.dumps(_request("wait", 1)))
    await gate.reached()
    assert peer.frames == []
    gate.open.set()
    await settle(peer.endpoint)
    assert peer.take() == [{"jsonrpc": "2.0", "result": "through", "id": 1}]


async def test_requests_are_answered_as_they_finish(peer: Peer, gate: Gate) -> None:
    await peer.endpoint.receive(json.dumps(_request("wait", 1)))
    await gate.reached()
    await peer.endpoint.receive(json.dumps(_request("echo", 2, ["quick"])))
    assert await _outgoing(peer) == {"jsonrpc": "2.0", "result": "quick", "id": 2}
    gate.open.set()
    await settle(peer.endpoint)
    assert peer.take() == [{"jsonrpc": "2.0", "result": "through", "id": 1}]


async def test_parse_error_leaves_the_endpoint_working(peer: Peer) -> None:
    assert (await peer.exchange("{not json"))["error"]["code"] == -32700
    assert await peer.exchange(_request("echo", 1, [1])) == {"jsonrpc": "2.0", "result": 1, "id": 1}
    assert not peer.endpoint.closed


async def test_bytes_frame_is_accepted(peer: Peer) -> None:
    reply = await peer.exchange(json.dumps(_request("echo", 1, ["é"])).encode())
    assert reply == {"jsonrpc": "2.0", "result": "é", "id": 1}


async def test_frames_sent_are_text(peer: Peer) -> None:
    await peer.exchange(_request("echo", 1, ["x"]))  # Peer.send asserts str


# In-flight bound


async def test_request_over_the_in_flight_bound_is_too_many_requests(gate: Gate) -> None:
    async def wait() -> str:
        return await gate.wait()

    peer = Peer(wait, max_in_flight=1)
    await peer.endpoint.receive(json.dumps(_request("wait", 1)))
    await gate.reached()
    reply = await _outgoing_after(peer, _request("wait", 2))
    assert reply["id"] == 2
    assert reply["error"]["code"] == -32029
    assert reply["error"]["data"] == {"max_in_flight": 1}
    assert gate.entered == 1  # the refused request never ran
    gate.open.set()
    await settle(peer.endpoint)
    assert peer.take() == [{"jsonrpc": "2.0", "result": "through", "id": 1}]


async def _outgoing_after(peer: Peer, request: Any) -> Any:
    await peer.endpoint.receive(json.dumps(request))
    return await _outgoing(peer)


async def test_in_flight_slot_is_freed_when_a_request_finishes(gate: Gate) -> None:
    peer = Peer(echo, max_in_flight=1)
    for id_ in range(3):
        assert (await peer.exchange(_request("echo", id_, [id_])))["result"] == id_
    assert peer.endpoint.in_flight == 0


async def test_in_flight_slot_is_freed_when_a_request_fails() -> None:
    def crash() -> None:
        raise ValueError("boom")

    peer = Peer(crash, echo, max_in_flight=1)
    assert (await peer.exchange(_request("crash", 1)))["error"]["code"] == -32603
    assert (await peer.exchange(_request("echo", 2, [2])))["result"] == 2
    assert peer.endpoint.in_flight == 0


async def test_notification_over_the_in_flight_bound_is_dropped_silently(gate: Gate) -> None:
    async def wait() -> str:
        return await gate.wait()

    peer = Peer(wait, max_in_flight=1)
    await peer.endpoint.receive(json.dumps(_request("wait", 1)))
    await gate.reached()
    await peer.endpoint.receive(json.dumps({"jsonrpc": "2.0", "method": "wait"}))
    await asyncio.sleep(0.01)
    assert gate.entered == 1
    assert peer.frames == []
    gate.open.set()
    await settle(peer.endpoint)


async def test_batch_over_the_in_flight_bound_is_partly_refused(gate: Gate) -> None:
    peer = Peer(echo, max_in_flight=2)
    reply = await peer.exchange([_request("echo", i, [i]) for i in range(3)])
    assert isinstance(reply, list)
    replies = {r["id"]: r for r in reply}
    assert {replies[0]["result"], replies[1]["result"]} == {0, 1}
    assert replies[2]["error"]["code"] == -32029


async def test_batch_wholly_over_the_in_flight_bound_is_an_array_of_refusals(gate: Gate) -> None:
    async def wait() -> str:
        return await gate.wait()

    peer = Peer(wait, echo, max_in_flight=1)
    await peer.endpoint.receive(json.dumps(_request("wait", 1)))
    await gate.reached()
    reply = await _outgoing_after(peer, [_request("echo", "a", [1]), _request("echo", "b", [2])])
    assert isinstance(reply, list)
    assert sorted((r["id"], r["error"]["code"]) for r in reply) == [("a", -32029), ("b", -32029)]
    gate.open.set()
    await settle(peer.endpoint)


async def test_invalid_elements_do_not_count_against_the_in_flight_bound() -> None:
    peer = Peer(echo, max_in_flight=1)
    reply = await peer.exchange([{"foo": "boo"}, _request("echo", 1, [1]), {"bar": 1}])
    assert {"jsonrpc": "2.0", "result": 1, "id": 1} in reply
    assert sorted(r["error"]["code"] for r in reply if "error" in r) == [-32600, -32600]


# Calls to the peer


async def test_call_sends_a_request_and_returns_the_result(peer: Peer) -> None:
    call = asyncio.ensure_future(peer.endpoint.call("add", [1, 2]))
    request = await _outgoing(peer)
    assert request == {"jsonrpc": "2.0", "method": "add", "params": [1, 2], "id": request["id"]}
    await peer.endpoint.receive(json.dumps({"jsonrpc": "2.0", "result": 3, "id": request["id"]}))
    assert await call == 3
    assert peer.endpoint.pending == {}


async def test_call_without_params_omits_params(peer: Peer) -> None:
    call = asyncio.ensure_future(peer.endpoint.call("ping"))
    request = await _outgoing(peer)
    assert "params" not in request
    await peer.endpoint.receive(json.dumps({"jsonrpc": "2.0", "result": "pong", "id": request["id"]}))
    assert await call == "pong"


async def test_each_call_gets_its_own_id(peer: Peer) -> None:
    calls = [asyncio.ensure_future(peer.endpoint.call("f", [i])) for i in range(3)]
    await peer.wait_for_frames(3)
    ids = [request["id"] for request in peer.take()]
    assert len(set(ids)) == 3
    for id_ in ids:
        await peer.endpoint.receive(json.dumps({"jsonrpc": "2.0", "result": None, "id": id_}))
    await asyncio.gather(*calls)


async def test_replies_out_of_order_reach_their_own_calls(peer: Peer) -> None:
    first = asyncio.ensure_future(peer.endpoint.call("f", ["first"]))
    second = asyncio.ensure_future(peer.endpoint.call("f", ["second"]))
    await peer.wait_for_frames(2)
    requests = {request["params"][0]: request["id"] for request in peer.take()}
    await peer.endpoint.receive(json.dumps({"jsonrpc": "2.0", "result": "2nd", "id": requests["second"]}))
    await peer.endpoint.receive(json.dumps({"jsonrpc": "2.0", "result": "1st", "id": requests["first"]}))
    assert (await first, await second) == ("1st", "2nd")


async def test_replies_in_a_batch_reach_their_calls(peer: Peer) -> None:
    first = asyncio.ensure_future(peer.endpoint.call("f"))
    second = asyncio.ensure_future(peer.endpoint.call("g"))
    await peer.wait_for_frames(2)
    ids = {request["method"]: request["id"] for request in peer.take()}
    await peer.endpoint.receive(json.dumps([{"jsonrpc": "2.0", "result": m, "id": id_} for m, id_ in ids.items()]))
    assert (await first, await second) == ("f", "g")
    assert peer.frames == []


async def test_error_reply_raises_rpc_error(peer: Peer) -> None:
    call = asyncio.ensure_future(peer.endpoint.call("f"))
    request = await _outgoing(peer)
    error = {"code": -32050, "message": "Out of stock", "data": {"sku": "X1"}}
    await peer.endpoint.receive(json.dumps({"jsonrpc": "2.0", "error": error, "id": request["id"]}))
    with pytest.raises(RpcError) as caught:
        await call
    assert (caught.value.code, caught.value.message, caught.value.data) == (-32050, "Out of stock", {"sku": "X1"})
    assert peer.endpoint.pending == {}


async def test_malformed_reply_fails_the_call_it_names(peer: Peer) -> None:
    call = asyncio.ensure_future(peer.endpoint.call("f"))
    request = await _outgoing(peer)
    malformed = {"jsonrpc": "2.0", "result": 1, "error": {"code": 1, "message": "m"}, "id": request["id"]}
    await peer.endpoint.receive(json.dumps(malformed))
    with pytest.raises(RpcError) as caught:
        await call
    assert caught.value.code == -32600
    assert peer.frames == []  # and it is not answered
    assert peer.endpoint.pending == {}


async def test_call_without_reply_times_out(peer: Peer) -> None:
    with pytest.raises(TimeoutError):
        await peer.endpoint.call("f", timeout=0.05)
    assert peer.endpoint.pending == {}


async def test_default_call_timeout_applies() -> None:
    peer = Peer(call_timeout=0.05)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await peer.endpoint.call("f")
    assert time.monotonic() - started < 1
    assert peer.endpoint.pending == {}


async def test_timeout_none_waits_past_the_default(peer: Peer) -> None:
    peer.endpoint.call_timeout = 0.01
    call = asyncio.ensure_future(peer.endpoint.call("f", timeout=None))
    request = await _outgoing(peer)
    await asyncio.sleep(0.05)
    await peer.endpoint.receive(json.dumps({"jsonrpc": "2.0", "result": "late", "id": request["id"]}))
    assert await call == "late"


async def test_reply_after_the_timeout_is_dropped(peer: Peer) -> None:
    with pytest.raises(TimeoutError):
        await peer.endpoint.call("f", timeout=0.01)
    [request, cancel] = peer.take()
    assert cancel == {"jsonrpc": "2.0", "method": "rpc.cancel", "params": {"id": request["id"]}}
    await peer.endpoint.receive(json.dumps({"jsonrpc": "2.0", "result": "late", "id": request["id"]}))
    await settle(peer.endpoint)
    assert peer.frames == []
    assert peer.endpoint.pending == {}


@pytest.mark.parametrize("id_", [999, "1", None])
async def test_reply_to_no_pending_call_is_dropped(peer: Peer, id_: Any) -> None:
    assert await peer.exchange({"jsonrpc": "2.0", "result": "stray", "id": id_}) is None


async def test_second_reply_to_the_same_call_is_dropped(peer: Peer) -> None:
    call = asyncio.ensure_future(peer.endpoint.call("f"))
    request = await _outgoing(peer)
    await peer.endpoint.receive(json.dumps({"jsonrpc": "2.0", "result": 1, "id": request["id"]}))
    await peer.endpoint.receive(json.dumps({"jsonrpc": "2.0", "result": 2, "id": request["id"]}))
    assert await call == 1
    assert peer.frames == []


async def test_call_fails_when_the_frame_cannot_be_written() -> None:
    async def broken(text: str) -> None:
        raise OSError("socket gone")

    endpoint = Endpoint(broken, Peer().dispatcher, None)
    with pytest.raises(PeerDisconnected):
        await endpoint.call("f")
    assert endpoint.pending == {}


async def test_notify_sends_a_notification(peer: Peer) -> None:
    await peer.endpoint.notify("event", {"topic": "t"})
    assert peer.take() == [{"jsonrpc": "2.0", "method": "event", "params": {"topic": "t"}}]


async def test_peer_and_endpoint_id_spaces_are_separate(peer: Peer) -> None:
    # The peer's request with id 1 is answered; this side's call with id 1 still waits for its own reply.
    call = asyncio.ensure_future(peer.endpoint.call("f"))
    request = await _outgoing(peer)
    reply = await peer.exchange(_request("echo", request["id"], ["mine"]))
    assert reply == {"jsonrpc": "2.0", "result": "mine", "id": request["id"]}
    assert not call.done()
    await peer.endpoint.receive(json.dumps({"jsonrpc": "2.0", "result": "theirs", "id": request["id"]}))
    assert await call == "theirs"


# Closing


async def test_close_fails_pending_calls_at_once(peer: Peer) -> None:
    call = asyncio.ensure_future(peer.endpoint.call("f", timeout=None))
    await _outgoing(peer)
    started = time.monotonic()
    await peer.endpoint.close()
    with pytest.raises(PeerDisconnected):
        async with asyncio.timeout(PROMPTLY):
            await call
    assert time.monotonic() - started < 0.5
    assert peer.endpoint.pending == {}


async def test_close_cancels_running_methods(peer: Peer, gate: Gate) -> None:
    await peer.endpoint.receive(json.dumps(_request("wait", 1)))
    await gate.reached()
    await peer.endpoint.close()
    assert gate.cancelled == 1
    assert peer.endpoint.running == {}
    assert peer.frames == []


async def test_call_after_close_fails_at_once(peer: Peer) -> None:
    await peer.endpoint.close()
    with pytest.raises(PeerDisconnected):
        await peer.endpoint.call("f")
    assert peer.endpoint.pending == {}
    assert peer.frames == []


async def test_notify_after_close_fails(peer: Peer) -> None:
    await peer.endpoint.close()
    with pytest.raises(PeerDisconnected):
        await peer.endpoint.notify("f")


async def test_close_twice_is_harmless(peer: Peer) -> None:
    await peer.endpoint.close()
    await peer.endpoint.close()
    assert peer.endpoint.closed


async def test_frame_received_after_close_runs_nothing(peer: Peer, gate: Gate) -> None:
    await peer.endpoint.close()
    await peer.endpoint.receive(json.dumps(_request("wait", 1)))
    await asyncio.sleep(0.01)
    assert gate.entered == 0
    assert peer.endpoint.running == {}
    assert peer.frames == []


async def test_nothing_is_written_after_close(peer: Peer) -> None:
    await peer.endpoint.close()
    await peer.endpoint.send(b'{"jsonrpc": "2.0", "method": "late"}')
    assert peer.frames == []


async def test_write_failure_of_a_reply_does_not_break_the_endpoint() -> None:
    failures = [OSError("flaky")]
    frames: list[str] = []

    async def flaky(text: str) -> None:
        if failures:
            raise failures.pop()
        frames.append(text)

    endpoint = Endpoint(flaky, Peer(echo).dispatcher, None)
    await endpoint.receive(json.dumps(_request("echo", 1, [1])))
    await settle(endpoint)
    await endpoint.receive(json.dumps(_request("echo", 2, [2])))
    await settle(endpoint)
    assert [json.loads(frame)["id"] for frame in frames] == [2]


# params_of


def test_params_of_positional_arguments_is_an_array() -> None:
    assert params_of((1, 2), {}) == [1, 2]


def test_params_of_keyword_arguments_is_an_object() -> None:
    assert params_of((), {"a": 1}) == {"a": 1}


def test_params_of_no_arguments_is_none() -> None:
    assert params_of((), {}) is None


def test_params_of_both_kinds_is_refused() -> None:
    with pytest.raises(TypeError):
        params_of((1,), {"a": 1})
