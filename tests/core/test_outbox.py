"""The outbound queue of one peer (order, fast path, overflow, close), and dropping a peer that does not read."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import override_settings

import wsrpc_app
from tests.support.pubsub import PATH, Peer, connected, event, fresh_permissions, make_topic, wsrpc  # noqa: F401
from wsrpc_app.consumers import CloseCode, RpcConsumer
from wsrpc_app.core.endpoint import Endpoint
from wsrpc_app.core.outbox import Outbox
from wsrpc_app.errors import PeerDisconnected
from wsrpc_app.models import Topic
from wsrpc_app.pubsub.process import current_hub


class Writer:
    """A fake transport: records what is written; ``gate`` cleared makes writes block."""

    def __init__(self) -> None:
        self.written: list[str] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.started: list[str] = []

    async def __call__(self, frame: str) -> None:
        self.started.append(frame)
        await self.gate.wait()
        self.written.append(frame)


class Overflows:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_send_when_idle_writes_at_once_without_a_task() -> None:
    writer = Writer()
    outbox = Outbox(writer, limit=10, on_overflow=Overflows())
    await outbox.send("a")
    assert writer.written == ["a"]  # written before send() returned
    assert outbox._drainer is None  # no task was needed
    assert len(outbox) == 0


async def test_frames_are_written_in_order() -> None:
    writer = Writer()
    writer.gate.clear()
    outbox = Outbox(writer, limit=None, on_overflow=Overflows())
    assert outbox.push("e1")
    assert outbox.push("e2")
    await settle()
    assert writer.started == ["e1"]  # one write at a time
    await outbox.send("reply")  # queued behind the events, returns without waiting
    assert outbox.push("e3")
    assert len(outbox) == 3
    writer.gate.set()
    await settle()
    assert writer.written == ["e1", "e2", "reply", "e3"]
    assert len(outbox) == 0


async def test_send_waits_for_its_own_write_when_nothing_is_queued() -> None:
    writer = Writer()
    writer.gate.clear()
    outbox = Outbox(writer, limit=None, on_overflow=Overflows())
    sending = asyncio.ensure_future(outbox.send("reply"))
    await settle()
    assert not sending.done()
    assert outbox.push("event")  # queued behind the reply being written
    writer.gate.set()
    await sending
    await settle()
    assert writer.written == ["reply", "event"]


async def test_overflow_calls_on_overflow_once_and_drops() -> None:
    writer = Writer()
    writer.gate.clear()  # the peer stopped reading
    overflows = Overflows()
    outbox = Outbox(writer, limit=2, on_overflow=overflows)
    assert outbox.push("1")
    await settle()  # "1" is being written; the queue is empty again
    assert outbox.push("2")
    assert outbox.push("3")
    assert overflows.calls == 0
    assert outbox.push("4") is False
    assert overflows.calls == 1
    assert outbox.closed
    assert len(outbox) == 0  # what waited is dropped
    assert outbox.push("5") is False
    assert overflows.calls == 1
    with pytest.raises(PeerDisconnected):
        await outbox.send("reply")
    writer.gate.set()
    await settle()
    assert "2" not in writer.written and "5" not in writer.written


async def test_no_limit_never_overflows() -> None:
    writer = Writer()
    writer.gate.clear()
    overflows = Overflows()
    outbox = Outbox(writer, limit=None, on_overflow=overflows)
    for i in range(5000):
        assert outbox.push(str(i))
    assert overflows.calls == 0
    writer.gate.set()
    await asyncio.sleep(0.05)
    assert writer.written == [str(i) for i in range(5000)]


async def test_close_drops_the_queue_and_stops_the_writer() -> None:
    writer = Writer()
    writer.gate.clear()
    outbox = Outbox(writer, limit=None, on_overflow=Overflows())
    outbox.push("a")
    outbox.push("b")
    await settle()
    drainer = outbox._drainer
    assert drainer is not None and not drainer.done()
    outbox.close()
    await settle()
    assert drainer.cancelled()
    assert len(outbox) == 0
    assert outbox.push("c") is False
    with pytest.raises(PeerDisconnected):
        await outbox.send("d")
    writer.gate.set()
    await settle()
    assert writer.written == []


async def test_a_failing_write_closes_the_outbox_quietly() -> None:
    written: list[str] = []

    async def write(frame: str) -> None:
        if frame == "bad":
            raise ConnectionResetError("gone")
        written.append(frame)

    outbox = Outbox(write, limit=None, on_overflow=Overflows())
    outbox.push("ok")
    outbox.push("bad")
    outbox.push("never")
    await settle()
    assert written == ["ok"]
    assert outbox.closed
    assert outbox.push("more") is False


async def test_send_reports_a_failing_write() -> None:
    async def write(frame: str) -> None:
        raise ConnectionResetError("gone")

    outbox = Outbox(write, limit=None, on_overflow=Overflows())
    with pytest.raises(ConnectionResetError):
        await outbox.send("reply")
    # The next send is tried again rather than queued behind nothing forever.
    with pytest.raises(ConnectionResetError):
        await outbox.send("reply")


# Endpoint -----------------------------------------------------------------------


async def test_endpoint_deliver_overflows_once_on_a_peer_that_does_not_read() -> None:
    writer = Writer()
    writer.gate.clear()
    overflows = Overflows()
    endpoint = Endpoint(writer, None, None, max_outbound=3, on_overflow=overflows)  # type: ignore[arg-type]
    results = []
    for i in range(10):
        results.append(endpoint.deliver(f"e{i}"))
        await asyncio.sleep(0)
    assert results[:4] == [True] * 4  # one being written, three waiting
    assert results[4:] == [False] * 6
    assert overflows.calls == 1
    assert writer.started == ["e0"]
    await endpoint.close()


async def test_endpoint_deliver_after_close_is_dropped() -> None:
    writer = Writer()
    endpoint = Endpoint(writer, None, None, max_outbound=3)  # type: ignore[arg-type]
    await endpoint.close()
    assert endpoint.deliver("late") is False
    await settle()
    assert writer.written == []


# The consumer ---------------------------------------------------------------------


def stalling(application: Any, gate: asyncio.Event) -> Any:
    """An ASGI wrapper whose client stops reading text frames while ``gate`` is cleared."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def gated_send(message: dict[str, Any]) -> None:
            if message["type"] == "websocket.send":
                await gate.wait()
            await send(message)

        await application(scope, receive, gated_send)

    return wrapped


@pytest.mark.django_db(transaction=True)
async def test_a_connection_that_does_not_read_is_closed_with_4008() -> None:
    await Topic.objects.all().adelete()
    await sync_to_async(make_topic)("news", anonymous_subscribe=True)
    gate = asyncio.Event()
    gate.set()
    with override_settings(WSRPC=wsrpc(MAX_OUTBOUND_QUEUE=3)):
        slow = WebsocketCommunicator(stalling(RpcConsumer.as_asgi(), gate), PATH)
        assert (await slow.connect())[0]
        slow_peer = Peer(slow)
        assert (await slow_peer.result("rpc.subscribe", ["news"]))["topic"] == "news"
        async with connected() as reader:
            assert (await reader.result("rpc.subscribe", ["news"]))["topic"] == "news"
            gate.clear()  # the slow client stops reading
            for i in range(10):
                await wsrpc_app.apublish("news", i)
            assert await slow.receive_output(timeout=2) == {"type": "websocket.close", "code": CloseCode.SLOW_CONSUMER}
            assert CloseCode.SLOW_CONSUMER == 4008
            # The reader got everything, and the slow connection is out of the hub.
            assert [(await reader.notification())["params"]["data"] for _ in range(10)] == list(range(10))
            hub = current_hub()
            assert hub is not None
            assert sum(len(subscribers) for names in hub.routes.topics.values() for subscribers in names.values()) == 1
            await wsrpc_app.apublish("news", 10)
            assert await reader.notification() == event("news", 10)
        await slow.disconnect()
        assert await slow.receive_nothing()
