"""The Python client recovers by itself against real daphne and uvicorn servers that restart under it.

Topics ``rec.*`` keep 1,000 events, ``short.*`` only 3 (``Topic`` pattern
rows, so that each test takes topic names of its own). On the Redis channel
layer the history outlives a server restart, and events published by
another process while the server is down are recovered; on the in-memory
layer a restart loses it (a new epoch), and the application is told.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pytest
import tenacity

from tests.support.recovery import new_topic, published, publisher, redis_env, server_with_topics
from tests.support.redis_server import RedisServer, redis_server_or_skip
from tests.support.servers import SERVERS, ServerProcess
from wsrpc_app.client import Gap, Position, RpcError, WsRpcClient

pytestmark = pytest.mark.e2e


@pytest.fixture
def redis_settings(redis_url: str) -> dict[str, str | None]:
    return redis_env(redis_url)


@pytest.fixture
def topic() -> str:
    return new_topic()


def client_for(server: ServerProcess, **options: Any) -> WsRpcClient:
    retry = {"wait": tenacity.wait_fixed(0.1)}
    return WsRpcClient(server.ws_url, origin=server.origin, proxy=None, retry=retry, **options)


async def wait_for(condition: Any, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


class Received:
    """What the application saw: event data in order, and every gap."""

    def __init__(self) -> None:
        self.data: list[Any] = []
        self.gaps: list[Gap] = []

    def on_event(self, data: Any, event: dict[str, Any]) -> None:
        self.data.append(data)

    def on_gap(self, gap: Gap) -> None:
        self.gaps.append(gap)


@pytest.mark.parametrize("kind", SERVERS)
async def test_every_event_published_across_a_restart_arrives_once_in_order(
    kind: str, redis_settings: dict[str, str | None], topic: str
) -> None:
    received = Received()
    with server_with_topics(kind, **redis_settings) as server:
        async with client_for(server, on_gap=received.on_gap) as client:
            subscribed = await client.subscribe(topic, received.on_event)
            assert subscribed["offset"] == 0 and isinstance(subscribed["epoch"], str)
            # Another process publishes 500 events, 5 ms apart, while this client's server restarts.
            running = publisher(server, topic, 500, 0.005)
            await wait_for(lambda: len(received.data) >= 20)
            await asyncio.to_thread(server.stop)
            at_stop = len(received.data)
            await asyncio.sleep(0.5)  # events keep coming while nobody serves the client
            assert running.poll() is None, "the publisher stopped before the server did: nothing to recover"
            await asyncio.to_thread(server.start)
            await asyncio.to_thread(published, running)
            await wait_for(lambda: len(received.data) >= 500)
            await client.publish(topic, 501)
            await wait_for(lambda: len(received.data) >= 501)
            await asyncio.sleep(0.2)  # nothing more may come: no duplicate
            assert client.position(topic) == Position(subscribed["epoch"], 501)
    assert at_stop < 500
    assert received.data == list(range(1, 502))
    assert received.gaps == []


@pytest.mark.parametrize("kind", SERVERS)
async def test_events_published_while_the_server_is_down_are_recovered(
    kind: str, redis_settings: dict[str, str | None], topic: str
) -> None:
    received = Received()
    with server_with_topics(kind, **redis_settings) as server:
        async with client_for(server, on_gap=received.on_gap) as client:
            await client.subscribe(topic, received.on_event)
            for n in range(1, 4):
                await client.publish(topic, n)
            await wait_for(lambda: received.data == [1, 2, 3])
            await asyncio.to_thread(server.stop)
            await asyncio.to_thread(published, publisher(server, topic, 20))  # 1..20 again: offsets 4..23
            await asyncio.to_thread(server.start)
            await wait_for(lambda: len(received.data) >= 23)
            await client.publish(topic, "live")
            await wait_for(lambda: received.data[-1:] == ["live"])
    assert received.data == [1, 2, 3, *range(1, 21), "live"]
    assert received.gaps == []


@pytest.mark.parametrize("kind", SERVERS)
async def test_a_restart_that_loses_the_history_is_told(kind: str, topic: str) -> None:
    received = Received()
    with server_with_topics(kind) as server:  # the in-memory layer: history lives in the server process
        async with client_for(server, on_gap=received.on_gap) as client:
            await client.subscribe(topic, received.on_event)
            for n in range(1, 4):
                await client.publish(topic, n)
            await wait_for(lambda: received.data == [1, 2, 3])
            before = client.position(topic)
            assert before is not None and before.offset == 3
            await asyncio.to_thread(server.restart)
            await wait_for(lambda: len(received.gaps) == 1)
            await client.publish(topic, 4)
            await wait_for(lambda: received.data == [1, 2, 3, 4])
            after = client.position(topic)
    (gap,) = received.gaps
    assert (gap.topic, gap.reason) == (topic, "not_recovered")
    assert gap.position is not None and gap.position.epoch != before.epoch
    assert after == Position(gap.position.epoch, gap.position.offset + 1)


async def test_since_older_than_the_history_keeps_is_told(redis_settings: dict[str, str | None]) -> None:
    received = Received()
    topic = new_topic("short")
    with server_with_topics("uvicorn", **redis_settings) as server:
        async with client_for(server, on_gap=received.on_gap) as client:
            await client.subscribe(topic, received.on_event)
            await client.publish(topic, 1)
            await wait_for(lambda: received.data == [1])
            await asyncio.to_thread(server.stop)
            await asyncio.to_thread(published, publisher(server, topic, 10))  # 7 more than the 3 kept
            await asyncio.to_thread(server.start)
            await wait_for(lambda: len(received.gaps) == 1)
            await client.publish(topic, "next")
            await wait_for(lambda: received.data[-1:] == ["next"])
            position = client.position(topic)
    assert received.data == [1, "next"]
    (gap,) = received.gaps
    assert (gap.topic, gap.reason, gap.position) == (topic, "not_recovered", Position(gap.position.epoch, 11))
    assert position == Position(gap.position.epoch, 12)


@pytest.fixture(scope="module")
def history_server() -> Iterator[ServerProcess]:
    with server_with_topics("daphne") as server:
        yield server


async def test_rewind_1_gives_the_last_value_then_every_new_one(history_server: ServerProcess, topic: str) -> None:
    received = Received()
    async with client_for(history_server) as writer, client_for(history_server) as reader:
        for n in range(1, 4):
            await writer.publish(topic, n)
        result = await reader.subscribe(topic, received.on_event, rewind=1)
        assert [event["data"] for event in result["publications"]] == [3]
        await writer.publish(topic, 4)
        await wait_for(lambda: received.data == [3, 4])

        another = Received()
        added = await reader.subscribe(topic, another.on_event, rewind=2)
        assert [event["data"] for event in added["publications"]] == [3, 4]
        await writer.publish(topic, 5)
        await wait_for(lambda: received.data == [3, 4, 5] and another.data == [3, 4, 5])


async def test_history_and_since_on_a_first_subscription(history_server: ServerProcess, topic: str) -> None:
    received = Received()
    async with client_for(history_server) as writer, client_for(history_server, on_gap=received.on_gap) as reader:
        for n in range(1, 6):
            await writer.publish(topic, n)
        kept = await writer.history(topic, limit=2)
        assert [event["data"] for event in kept["publications"]] == [4, 5]
        assert (kept["offset"], kept["recovered"]) == (5, True)
        after = await writer.history(topic, since=Position(kept["epoch"], 3))
        assert [event["offset"] for event in after["publications"]] == [4, 5]

        await reader.subscribe(topic, received.on_event, since=Position(kept["epoch"], 3))
        await wait_for(lambda: received.data == [4, 5])
        await reader.subscribe(new_topic(), received.on_event, since=Position("no-such-epoch", 3))
        await wait_for(lambda: len(received.gaps) == 1)
    assert received.gaps[0].reason == "not_recovered"


async def test_rpc_gap_after_redis_lost_its_data_reaches_on_gap(topic: str) -> None:
    """Redis (a private one) restarts empty under a live connection: the server's rpc.gap reaches ``on_gap``."""
    redis_server_or_skip()
    received = Received()
    with RedisServer() as redis:
        with server_with_topics("daphne", **redis_env(redis.url)) as server:
            client = client_for(server, on_gap=received.on_gap)
            notices: list[Any] = []
            handle = client._on_gap
            client._on_gap = lambda params: (notices.append(params), handle(params))  # type: ignore[method-assign]
            async with client:
                first = await client.subscribe(topic, received.on_event)
                for n in range(1, 4):
                    await client.publish(topic, n)
                await wait_for(lambda: received.data == [1, 2, 3])
                await asyncio.to_thread(redis.kill)
                await asyncio.sleep(1.0)
                await asyncio.to_thread(redis.start)
                # Publish until an event of the new epoch arrives (-32053 while the server reconnects).
                n = 3
                while not received.data[3:]:
                    n += 1
                    with contextlib.suppress(RpcError):
                        await client.publish(topic, n)
                    assert n < 200, f"no event after Redis restarted; gaps: {received.gaps}"
                    await asyncio.sleep(0.1)
                await wait_for(lambda: received.gaps != [])
                position = client.position(topic)
    gap = received.gaps[0]
    assert (gap.topic, gap.reason, gap.missed) == (topic, "gap", None)
    assert gap.position is not None and gap.position.epoch != first["epoch"]
    assert position is not None and position.epoch == gap.position.epoch
    assert len(received.gaps) == 1
    assert [params["epoch"] for params in notices] == [gap.position.epoch]  # the server's rpc.gap, not a guess
