"""Every limit of WSRPC, hit, in process: the right error code or close code, nothing left behind,
no other connection disturbed, and ``None`` turning it off.

============================  =====================================================
limit                         when hit
============================  =====================================================
MAX_MESSAGE_BYTES             close 1009 (4009 where the server refuses 1009)
MAX_BATCH_LENGTH              -32600, one error object for the whole batch
MAX_IN_FLIGHT                 -32029 for each request beyond it
MAX_SUBSCRIPTIONS             -32029
PUBLISH_RATE                  -32029
MAX_OUTBOUND_QUEUE            close 4008
METHOD_TIME_LIMIT             -32008
IDLE_TIMEOUT                  close 4010 (rpc.ping heartbeats keep a connection)
MAX_LIFESPAN                  close 4011
============================  =====================================================
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client, override_settings

import wsrpc_app
from tests.support.pubsub import PATH, Peer, fresh_permissions, wsrpc  # noqa: F401
from wsrpc_app.consumers import CloseCode, RpcConsumer
from wsrpc_app.pubsub.process import current_hub
from wsrpc_app.server.idle import idle_sweep

pytestmark = pytest.mark.django_db(transaction=True)


class Tracked(RpcConsumer):
    """Keeps its instances, so a test can look inside once a connection is gone."""

    instances: list[Tracked] = []

    async def connect(self) -> None:
        Tracked.instances.append(self)
        await super().connect()


@pytest.fixture(autouse=True)
def _forget_instances() -> None:
    Tracked.instances.clear()


@contextlib.asynccontextmanager
async def opened(application: Any = None) -> AsyncIterator[tuple[Peer, Tracked]]:
    """A connected peer and the consumer serving it."""
    communicator = WebsocketCommunicator(application or Tracked.as_asgi(), PATH)
    accepted, _ = await communicator.connect()
    assert accepted
    try:
        yield Peer(communicator), Tracked.instances[-1]
    finally:
        await communicator.disconnect()


def left_nothing_behind(consumer: Tracked) -> None:
    """The connection's methods, calls, queue, timers and subscriptions are all gone."""
    endpoint = consumer.endpoint
    assert endpoint.closed
    assert not endpoint.running, endpoint.running
    assert not endpoint.pending
    assert endpoint.in_flight == 0
    assert len(endpoint.outbox) == 0
    assert consumer.connection.closed
    assert not consumer.connection.subscriptions
    assert consumer not in idle_sweep().watched
    assert consumer._lifespan_timer is None or consumer._lifespan_timer.cancelled()
    hub = current_hub()
    if hub is not None:
        routed = {s for names in hub.routes.topics.values() for subs in names.values() for s in subs}
        assert consumer.connection.member not in routed


async def closed_with(peer: Peer, timeout: float = 2.0) -> int:
    """The code of the close frame the server sends next (skipping other frames)."""
    while True:
        message = await peer.ws.receive_output(timeout=timeout)
        if message["type"] == "websocket.close":
            return int(message.get("code", 1000))


async def still_answers(peer: Peer) -> None:
    assert await peer.result("rpc.ping") == "pong"


def limits(**overrides: Any) -> override_settings:
    return override_settings(WSRPC=wsrpc(**overrides))


# MAX_MESSAGE_BYTES ---------------------------------------------------------------------------------


async def test_max_message_bytes_counts_utf8_bytes() -> None:
    with limits(MAX_MESSAGE_BYTES=1000):
        async with opened() as (other, _), opened() as (peer, consumer):
            fits = json.dumps({"jsonrpc": "2.0", "method": "echo", "params": ["é" * 450], "id": 1}, ensure_ascii=False)
            assert len(fits.encode()) <= 1000 < len(fits) * 2
            await peer.ws.send_to(text_data=fits)
            assert (await peer.ws.receive_json_from())["result"] == "é" * 450
            # Under 1000 characters, over 1000 bytes.
            too_big = json.dumps({"jsonrpc": "2.0", "method": "echo", "params": ["é" * 560]}, ensure_ascii=False)
            await peer.ws.send_to(text_data=too_big)
            assert await closed_with(peer) == CloseCode.MESSAGE_TOO_BIG == 1009
            await still_answers(other)
        left_nothing_behind(consumer)


async def test_max_message_bytes_applies_to_binary_frames() -> None:
    with limits(MAX_MESSAGE_BYTES=1000):
        async with opened() as (peer, consumer):
            await peer.ws.send_to(bytes_data=b"x" * 1000)
            assert (await peer.ws.receive_json_from())["error"]["code"] == -32600  # binary: refused, answered
            await peer.ws.send_to(bytes_data=b"x" * 1001)
            assert await closed_with(peer) == 1009
        left_nothing_behind(consumer)


def test_max_message_bytes_over_http() -> None:
    body = json.dumps({"jsonrpc": "2.0", "method": "echo", "params": ["x" * 2000], "id": 1})
    with limits(MAX_MESSAGE_BYTES=1000):
        reply = Client().post("/wsrpc/rpc/", data=body, content_type="application/json").json()
    assert reply["error"]["code"] == -32600
    assert reply["id"] is None


async def test_max_message_bytes_none() -> None:
    with limits(MAX_MESSAGE_BYTES=None):
        async with opened() as (peer, _):
            big = "x" * (4 * 1024 * 1024)
            assert await peer.result("echo", [big]) == big


# MAX_BATCH_LENGTH ----------------------------------------------------------------------------------


async def test_max_batch_length() -> None:
    with limits(MAX_BATCH_LENGTH=5):
        async with opened() as (peer, _):
            await peer.ws.send_json_to([{"jsonrpc": "2.0", "method": "rpc.ping", "id": n} for n in range(6)])
            reply = await peer.ws.receive_json_from()
            assert reply["error"]["code"] == -32600
            assert reply["id"] is None
            assert "6" in reply["error"]["data"]
            await peer.ws.send_json_to([{"jsonrpc": "2.0", "method": "rpc.ping", "id": n} for n in range(5)])
            assert [r["result"] for r in await peer.ws.receive_json_from()] == ["pong"] * 5


async def test_max_batch_length_none() -> None:
    with limits(MAX_BATCH_LENGTH=None, MAX_IN_FLIGHT=None):
        async with opened() as (peer, _):
            await peer.ws.send_json_to([{"jsonrpc": "2.0", "method": "rpc.ping", "id": n} for n in range(500)])
            assert len(await peer.ws.receive_json_from()) == 500


# MAX_IN_FLIGHT ------------------------------------------------------------------------------------


async def test_max_in_flight() -> None:
    with limits(MAX_IN_FLIGHT=3):
        async with opened() as (other, _), opened() as (peer, consumer):
            for n in range(5):
                await peer.ws.send_json_to({"jsonrpc": "2.0", "method": "sleep", "params": [0.3], "id": n})
            refused = [await peer.ws.receive_json_from(timeout=0.2) for _ in range(2)]
            assert [(r["id"], r["error"]["code"], r["error"]["data"]) for r in refused] == [
                (3, -32029, {"max_in_flight": 3}),
                (4, -32029, {"max_in_flight": 3}),
            ]
            assert consumer.endpoint.in_flight == 3
            await still_answers(other)  # its own budget
            assert sorted([(await peer.ws.receive_json_from())["id"] for _ in range(3)]) == [0, 1, 2]
            assert consumer.endpoint.in_flight == 0
            await still_answers(peer)  # capacity came back


async def test_max_in_flight_none() -> None:
    with limits(MAX_IN_FLIGHT=None):
        async with opened() as (peer, _):
            started = time.monotonic()
            for n in range(200):
                await peer.ws.send_json_to({"jsonrpc": "2.0", "method": "sleep", "params": [0.3], "id": n})
            replies = [await peer.ws.receive_json_from() for _ in range(200)]
            assert all(r["result"] == 0.3 for r in replies)
            assert time.monotonic() - started < 2


# MAX_SUBSCRIPTIONS ----------------------------------------------------------------------------------


async def test_max_subscriptions() -> None:
    with limits(MAX_SUBSCRIPTIONS=3, TOPIC_DEFAULT_POLICY="allow"):
        async with opened() as (peer, consumer):
            for n in range(3):
                assert (await peer.result("rpc.subscribe", [f"t.{n}"]))["subscribed"]
            error = await peer.error("rpc.subscribe", ["t.3"])
            assert (error["code"], error["data"]) == (-32029, {"max_subscriptions": 3})
            assert (await peer.result("rpc.subscribe", ["t.0"]))["subscribed"]  # again: harmless, not counted
            await peer.result("rpc.unsubscribe", ["t.0"])
            assert (await peer.result("rpc.subscribe", ["t.3"]))["subscribed"]  # room again
        left_nothing_behind(consumer)


async def test_max_subscriptions_none() -> None:
    with limits(MAX_SUBSCRIPTIONS=None, TOPIC_DEFAULT_POLICY="allow"):
        async with opened() as (peer, consumer):
            for n in range(60):
                await peer.result("rpc.subscribe", [f"t.{n}"])
            assert len(consumer.connection.subscriptions) == 60
        left_nothing_behind(consumer)


# PUBLISH_RATE -------------------------------------------------------------------------------------


async def test_publish_rate() -> None:
    with limits(PUBLISH_RATE=5, TOPIC_DEFAULT_POLICY="allow"):
        async with opened() as (other, _), opened() as (peer, _):
            for n in range(5):
                assert await peer.result("rpc.publish", ["t.rate", n]) == {"topic": "t.rate"}
            error = await peer.error("rpc.publish", ["t.rate", 5])
            assert (error["code"], error["message"]) == (-32029, "Publishing too fast")
            # Per connection: another one still has its burst.
            assert await other.result("rpc.publish", ["t.rate", 6]) == {"topic": "t.rate"}
            await asyncio.sleep(0.25)  # 5 a second: one token back
            assert await peer.result("rpc.publish", ["t.rate", 7]) == {"topic": "t.rate"}


async def test_publish_rate_none() -> None:
    with limits(PUBLISH_RATE=None, TOPIC_DEFAULT_POLICY="allow"):
        async with opened() as (peer, _):
            for n in range(300):
                await peer.result("rpc.publish", ["t.rate", n])


# MAX_OUTBOUND_QUEUE -------------------------------------------------------------------------------


def stalling(application: Any, reading: asyncio.Event) -> Any:
    """An ASGI wrapper whose client stops reading text frames while ``reading`` is cleared."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def gated_send(message: dict[str, Any]) -> None:
            if message["type"] == "websocket.send":
                await reading.wait()
            await send(message)

        await application(scope, receive, gated_send)

    return wrapped


async def test_max_outbound_queue() -> None:
    reading = asyncio.Event()
    reading.set()
    with limits(MAX_OUTBOUND_QUEUE=5, TOPIC_DEFAULT_POLICY="allow"):
        async with opened() as (reader, _), opened(stalling(Tracked.as_asgi(), reading)) as (slow, consumer):
            await slow.result("rpc.subscribe", ["t.flood"])
            await reader.result("rpc.subscribe", ["t.flood"])
            await slow.ws.send_json_to({"jsonrpc": "2.0", "method": "sleep", "params": [30], "id": "running"})
            reading.clear()
            for n in range(20):
                await wsrpc_app.apublish("t.flood", n)
            assert await closed_with(slow) == CloseCode.SLOW_CONSUMER == 4008
            left_nothing_behind(consumer)  # the running method was cancelled too
            assert [(await reader.notification())["params"]["data"] for _ in range(20)] == list(range(20))


# METHOD_TIME_LIMIT ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["sleep", "sleep_sync"])
async def test_method_time_limit(method: str) -> None:
    with limits(METHOD_TIME_LIMIT=0.2):
        async with opened() as (peer, consumer):
            started = time.monotonic()
            error = await peer.error(method, [2])
            assert (error["code"], error["data"]) == (-32008, {"method": method})
            assert time.monotonic() - started < 1
            assert consumer.endpoint.in_flight == 0
            await still_answers(peer)


async def test_method_time_limit_none() -> None:
    with limits(METHOD_TIME_LIMIT=None):
        async with opened() as (peer, _):
            assert await peer.result("sleep", [0.3]) == 0.3


# IDLE_TIMEOUT -------------------------------------------------------------------------------------


async def test_idle_timeout_closes_a_silent_connection() -> None:
    with limits(IDLE_TIMEOUT=0.3, TOPIC_DEFAULT_POLICY="allow"):
        async with opened() as (peer, consumer):
            await peer.result("rpc.subscribe", ["t.idle"])
            started = time.monotonic()
            assert await closed_with(peer) == CloseCode.IDLE_TIMEOUT == 4010
            assert 0.25 < time.monotonic() - started < 1.0
            left_nothing_behind(consumer)


async def test_idle_timeout_counts_from_the_last_frame() -> None:
    with limits(IDLE_TIMEOUT=0.3):
        async with opened() as (peer, _):
            for _ in range(8):  # 0.8 s of heartbeats, notifications at that
                await peer.ws.send_json_to({"jsonrpc": "2.0", "method": "rpc.ping"})
                last = time.monotonic()
                await asyncio.sleep(0.1)
            assert await closed_with(peer) == 4010
            assert time.monotonic() - last > 0.25


async def test_idle_timeout_none() -> None:
    with limits(IDLE_TIMEOUT=None):
        async with opened() as (peer, consumer):
            assert await peer.ws.receive_nothing(timeout=0.5)
            assert consumer not in idle_sweep().watched
            await still_answers(peer)


# MAX_LIFESPAN -------------------------------------------------------------------------------------


async def test_max_lifespan_closes_even_a_busy_connection() -> None:
    async with opened() as (other, _):  # opened first: settings are read at the handshake
        with limits(MAX_LIFESPAN=0.5):
            async with opened() as (peer, consumer):
                await peer.ws.send_json_to({"jsonrpc": "2.0", "method": "call_back", "params": ["c.wait"], "id": 1})
                request = await peer.ws.receive_json_from()
                assert request["method"] == "c.wait"  # left unanswered: a pending server call
                started = time.monotonic()
                assert await closed_with(peer) == CloseCode.LIFESPAN_REACHED == 4011
                assert time.monotonic() - started < 0.6
                left_nothing_behind(consumer)
        await still_answers(other)


async def test_max_lifespan_none() -> None:
    with limits(MAX_LIFESPAN=None, IDLE_TIMEOUT=None):
        async with opened() as (peer, consumer):
            assert consumer._lifespan_timer is None
            assert await peer.ws.receive_nothing(timeout=0.3)
