"""Redis goes away and comes back empty: what a daphne and a uvicorn process on it do.

Each test runs on both Redis channel layers, on a private ``redis-server``
(never the machine's Redis) started for this module with no persistence, so
a restart loses everything, as a crashed Redis does. The issue this pins
(issue 12, part 7): after Redis returns, every process re-joins its groups
within 5 s; while it is down, ``rpc.publish`` answers -32053 and calls that
need no Redis still work; subscribers of topics with history are told that
the epoch changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from tests.support.redis_server import RedisServer, redis_server_or_skip
from tests.support.servers import ServerProcess

from .cluster import LAYERS, Cluster
from .wire import REPLY_TIMEOUT, loads, open_socket, send_json

pytestmark = pytest.mark.e2e

#: How soon after Redis answers again events must cross between the processes (issue 12, part 7).
RECOVERY = 5.0
#: How long Redis stays down in each test: long enough for every connection to it to fail.
DOWN = 1.0

SETUP = """
from wsrpc_app.models import Topic

anyone = {"anonymous_subscribe": True, "anonymous_publish": True}
Topic.objects.create(name="plain.#", **anyone)
Topic.objects.create(name="hist.#", history_size=100, history_ttl=600, **anyone)
"""


@pytest.fixture(scope="module")
def private_redis() -> Iterator[RedisServer]:
    redis_server_or_skip()
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="module", params=LAYERS)
def cluster(request: pytest.FixtureRequest, private_redis: RedisServer) -> Iterator[Cluster]:
    layer: str = request.param
    prefix = f"wsrpc-e2e-outage-{uuid.uuid4().hex[:10]}-{layer}"
    if not private_redis.running:
        private_redis.start()
    with Cluster(layer, prefix=prefix, redis_url=private_redis.url) as started:
        started.python(SETUP)
        yield started


@pytest.fixture
async def redis(private_redis: RedisServer, cluster: Cluster) -> AsyncIterator[RedisServer]:
    """The cluster's Redis, up, with events flowing between the processes; up again after the test."""
    if not private_redis.running:
        private_redis.start()
    await flowing(cluster, within=10)
    yield private_redis
    if not private_redis.running:
        private_redis.start()


# Speaking the wire ---------------------------------------------------------------


class Peer:
    """A raw WebSocket connection: requests wait for their reply; other frames are kept in order."""

    def __init__(self, ws: ClientConnection, label: str) -> None:
        self.ws = ws
        self.label = label
        self.frames: list[Any] = []
        self._ids = itertools.count(1)

    async def request(self, method: str, params: Any = None, within: float = REPLY_TIMEOUT) -> dict[str, Any]:
        id_ = f"{method}-{next(self._ids)}"
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": id_}
        if params is not None:
            message["params"] = params
        await send_json(self.ws, message)
        try:
            async with asyncio.timeout(within):
                while True:
                    frame = loads(await self.ws.recv())
                    if isinstance(frame, dict) and frame.get("id") == id_:
                        return frame
                    self.frames.append(frame)
        except TimeoutError:
            raise AssertionError(f"{self.label}: no answer to {message} within {within} s") from None

    async def result(self, method: str, params: Any = None) -> Any:
        reply = await self.request(method, params)
        assert "result" in reply, f"{self.label}: {method} {params} answered {reply}"
        return reply["result"]

    async def collect(self, quiet: float) -> None:
        """Keep what arrives until ``quiet`` seconds pass without a frame."""
        with contextlib.suppress(TimeoutError):
            while True:
                async with asyncio.timeout(quiet):
                    self.frames.append(loads(await self.ws.recv()))

    async def wait_for(self, found: Any, within: float) -> Any:
        """The first frame (kept or new) for which ``found(frame)`` is true; None past ``within`` seconds."""
        index = 0
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                while True:
                    while index < len(self.frames):
                        if found(self.frames[index]):
                            return self.frames[index]
                        index += 1
                    self.frames.append(loads(await self.ws.recv()))
        return None


@contextlib.asynccontextmanager
async def peers(*servers: ServerProcess) -> AsyncIterator[list[Peer]]:
    async with contextlib.AsyncExitStack() as stack:
        yield [
            Peer(await stack.enter_async_context(open_socket(server)), f"{server.name}#{n}")
            for n, server in enumerate(servers)
        ]


def is_event(topic: str, source: str | None = None) -> Any:
    def found(frame: Any) -> bool:
        if not (isinstance(frame, dict) and frame.get("method") == "rpc.event"):
            return False
        params = frame["params"]
        return bool(params["topic"] == topic and (source is None or params["data"]["from"] == source))

    return found


async def publish(client: Peer, topic: str, data: Any) -> dict[str, Any]:
    """rpc.publish; the whole reply. -32603 is never the answer."""
    reply = await client.request("rpc.publish", {"topic": topic, "data": data})
    assert reply.get("error", {}).get("code") != -32603, f"{client.label}: rpc.publish answered {reply}"
    return reply


@contextlib.asynccontextmanager
async def publishing(topic: str, *sources: tuple[Peer, str]) -> AsyncIterator[list[dict[str, Any]]]:
    """Through the block, each source publishes ``{"from": label, "n": n}`` every 0.1 s; the replies so far."""
    replies: list[dict[str, Any]] = []

    async def keep_publishing() -> None:
        for n in itertools.count():
            for client, label in sources:
                reply = await client.request("rpc.publish", {"topic": topic, "data": {"from": label, "n": n}})
                replies.append(reply | {"by": client.label, "at": time.monotonic()})
            await asyncio.sleep(0.1)

    task = asyncio.create_task(keep_publishing())
    try:
        yield replies
    finally:
        task.cancel()
        (outcome,) = await asyncio.gather(task, return_exceptions=True)
    if not isinstance(outcome, asyncio.CancelledError):
        raise AssertionError(f"publishing stopped: {outcome!r}")


def tally(replies: list[dict[str, Any]]) -> str:
    """What the publishes answered, in brief: how many were ok, the first errors."""
    errors = [(reply["by"], reply["error"]) for reply in replies if "error" in reply]
    return f"{len(replies) - len(errors)} publishes answered ok, {len(errors)} errors, first {errors[:2]}"


def steady(replies: list[dict[str, Any]], run: int = 10) -> bool:
    """Whether the last ``run`` publishes all answered ok."""
    return len(replies) >= run and all("result" in reply for reply in replies[-run:])


def assert_no_internal_error(replies: list[dict[str, Any]]) -> None:
    """While Redis comes back a publish may answer -32053, never -32603."""
    internal = [reply for reply in replies if reply.get("error", {}).get("code") == -32603]
    assert not internal, f"rpc.publish answered -32603 around the restart: {tally(replies)}"


async def flowing(cluster: Cluster, *, within: float) -> float:
    """Seconds until an event published on each process reaches a subscriber on the other.

    Publishes every 0.1 s from both sides (a publish may answer -32053 while
    the servers reconnect) until both subscribers have an event from the
    other process; fails past ``within`` seconds.
    """
    topic = f"plain.flow.{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    async with peers(cluster.a, cluster.b, cluster.a, cluster.b) as (on_a, on_b, from_a, from_b):
        for client in (on_a, on_b):
            while "result" not in (reply := await client.request("rpc.subscribe", {"topic": topic})):
                assert reply["error"]["code"] == -32053, f"{client.label}: rpc.subscribe answered {reply}"
                assert time.monotonic() - started < within, f"{client.label}: cannot subscribe: {reply}"
                await asyncio.sleep(0.1)
        async with publishing(topic, (from_a, "a"), (from_b, "b")) as replies:
            got = await asyncio.gather(
                on_a.wait_for(is_event(topic, "b"), within), on_b.wait_for(is_event(topic, "a"), within)
            )
            elapsed = time.monotonic() - started
            late = f"within {within} s; {tally(replies)}"
            assert got[0] is not None, f"no event published on uvicorn reached daphne {late}"
            assert got[1] is not None, f"no event published on daphne reached uvicorn {late}"
            # Then ten publishes in a row answered ok: the servers' connections to Redis are all new.
            while not steady(replies):
                assert time.monotonic() - started < within, f"rpc.publish keeps failing: {tally(replies)}"
                await asyncio.sleep(0.1)
    return elapsed


# 1. While Redis is down ----------------------------------------------------------


async def test_while_redis_is_down_publish_answers_32053_and_other_calls_work(
    cluster: Cluster, redis: RedisServer
) -> None:
    plain = f"plain.down.{uuid.uuid4().hex[:8]}"
    kept = f"hist.down.{uuid.uuid4().hex[:8]}"
    async with peers(cluster.a, cluster.b) as clients:
        for client in clients:  # each process's hub is running, on Redis
            assert (await client.result("rpc.subscribe", {"topic": plain}))["subscribed"] is True
        redis.kill()
        try:
            async with peers(cluster.a, cluster.b) as newcomers:
                for client in clients + newcomers:
                    assert await client.result("rpc.ping") == "pong"
                    assert await client.result("add", [1, 2]) == 3
                    assert await client.result("subtract", [5, 3]) == 2  # sync: on the thread pool
                    for topic in (plain, kept):
                        started = time.monotonic()
                        reply = await publish(client, topic, "lost")
                        error = reply.get("error")
                        assert error is not None and error["code"] == -32053, (
                            f"{client.label}: rpc.publish to {topic} while Redis is down answered {reply}"
                        )
                        assert "unavailable" in error["message"].lower(), error
                        assert "Traceback" not in str(error), error
                        assert time.monotonic() - started < 3, f"{client.label}: -32053 came after a long wait"
                    reply = await client.request("rpc.history", {"topic": kept})
                    assert reply.get("error", {}).get("code") == -32053, (
                        f"{client.label}: rpc.history while Redis is down answered {reply}"
                    )
                    assert await client.result("rpc.ping") == "pong"
        finally:
            redis.start()


# 2. Redis is back ----------------------------------------------------------------


async def test_events_cross_between_the_processes_within_5_s_after_redis_restarts(
    cluster: Cluster, redis: RedisServer
) -> None:
    """The same connections, subscribed before the outage, receive events again: the groups were re-joined."""
    topic = f"plain.back.{uuid.uuid4().hex[:8]}"
    async with peers(cluster.a, cluster.b, cluster.a, cluster.b) as (on_a, on_b, from_a, from_b):
        for client in (on_a, on_b):
            await client.result("rpc.subscribe", {"topic": topic})
        assert "result" in await publish(from_a, topic, {"from": "a", "n": -1})
        assert "result" in await publish(from_b, topic, {"from": "b", "n": -1})
        assert await on_a.wait_for(is_event(topic, "b"), REPLY_TIMEOUT), "no event crossed before the outage"
        assert await on_b.wait_for(is_event(topic, "a"), REPLY_TIMEOUT), "no event crossed before the outage"
        on_a.frames.clear()
        on_b.frames.clear()

        redis.kill()
        await asyncio.sleep(DOWN)
        redis.start()
        back = time.monotonic()
        async with publishing(topic, (from_a, "a"), (from_b, "b")) as replies:
            to_a, to_b = await asyncio.gather(
                on_a.wait_for(is_event(topic, "b"), RECOVERY), on_b.wait_for(is_event(topic, "a"), RECOVERY)
            )
            crossed = time.monotonic() - back
            # A publish may answer -32053 while the servers reconnect; within 5 s, ten in a row answer ok.
            while time.monotonic() < back + RECOVERY:
                if steady(replies):
                    break
                await asyncio.sleep(0.05)
            steady_after = time.monotonic() - back
        summary = f"{crossed:.1f} s after Redis answered again: {tally(replies)}"
        assert to_a is not None, f"daphne's subscriber got no event from uvicorn; {summary}; got {on_a.frames[:3]}"
        assert to_b is not None, f"uvicorn's subscriber got no event from daphne; {summary}; got {on_b.frames[:3]}"
        assert steady(replies), (
            f"{steady_after:.1f} s after Redis answered again, publishes still fail: {tally(replies)}"
        )
        assert_no_internal_error(replies)


def assert_told_of_the_new_epoch(client: Peer, topic: str, old_epoch: str, new_event: Any) -> str:
    """Before ``new_event`` (the first in a new epoch) ``client`` got an rpc.gap naming that epoch; the epoch."""
    frames = list(client.frames)
    assert new_event is not None, f"{client.label}: no event in a new epoch came; it received {frames}"
    assert all(
        frame.get("method") in ("rpc.event", "rpc.gap") and frame["params"]["topic"] == topic for frame in frames
    ), frames
    first_new = frames.index(new_event)
    gaps = [frame for frame in frames[:first_new] if frame["method"] == "rpc.gap"]
    assert gaps, f"{client.label} was not told: no rpc.gap before the first event of the new epoch; {frames}"
    gap = gaps[-1]["params"]
    new_epoch: str = new_event["params"]["epoch"]
    assert gap["epoch"] == new_epoch != old_epoch, (client.label, gap, new_event)
    assert "missed" not in gap, f"{client.label}: missed is for a gap within one epoch: {gap}"
    assert new_event["params"]["offset"] == gap["offset"] + 1, (client.label, gap, new_event)
    later = [frame["params"] for frame in frames[first_new:] if frame["method"] == "rpc.event"]
    assert [params["offset"] for params in later] == list(range(gap["offset"] + 1, gap["offset"] + 1 + len(later))), (
        client.label,
        frames[first_new:],
    )
    assert {params["epoch"] for params in later} == {new_epoch}, later
    return new_epoch


async def test_history_subscribers_are_told_the_epoch_changed_when_redis_lost_its_data(
    cluster: Cluster, redis: RedisServer
) -> None:
    """An rpc.gap in the new epoch before its first event, on both processes; the old epoch recovers nothing."""
    topic = f"hist.epoch.{uuid.uuid4().hex[:8]}"
    async with peers(cluster.a, cluster.b, cluster.b, cluster.a) as (on_a, on_b, publisher, late):
        old_epoch = (await on_a.result("rpc.subscribe", {"topic": topic}))["epoch"]
        assert (await on_b.result("rpc.subscribe", {"topic": topic}))["epoch"] == old_epoch
        for n in range(3):
            assert "result" in await publish(publisher, topic, {"from": "b", "n": n})
        for client in (on_a, on_b):
            third = await client.wait_for(lambda frame: frame.get("params", {}).get("offset") == 3, REPLY_TIMEOUT)
            assert third is not None, f"{client.label}: the events before the outage did not arrive: {client.frames}"
            assert [frame["params"]["offset"] for frame in client.frames] == [1, 2, 3], client.frames
            client.frames.clear()

        redis.kill()
        await asyncio.sleep(DOWN)
        redis.start()

        def in_new_epoch(frame: dict[str, Any]) -> bool:
            return frame.get("method") == "rpc.event" and frame["params"].get("epoch") != old_epoch

        async with publishing(topic, (publisher, "b")) as replies:
            new_events = await asyncio.gather(*(client.wait_for(in_new_epoch, RECOVERY + 2) for client in (on_a, on_b)))
        for client in (on_a, on_b):
            await client.collect(quiet=0.3)
        assert None not in new_events, f"an event in a new epoch did not come to each subscriber ({tally(replies)})"
        assert_no_internal_error(replies)
        new_epochs = {
            assert_told_of_the_new_epoch(client, topic, old_epoch, new_event)
            for client, new_event in zip((on_a, on_b), new_events, strict=True)
        }
        assert len(new_epochs) == 1, f"the processes disagree on the new epoch: {new_epochs}"
        (new_epoch,) = new_epochs

        reply = await late.request("rpc.subscribe", {"topic": topic, "since": {"offset": 3, "epoch": old_epoch}})
        result = reply.get("result")
        assert result is not None, reply
        assert result["recovered"] is False and result["publications"] == [], result
        assert result["epoch"] == new_epoch, result


# 3. Redis keeps its data, the connections to it drop ---------------------------------

BLINK_STREAM = 150
BLINK_AFTER = 50


async def test_a_blink_of_the_redis_connections_loses_no_event_of_a_history_topic(
    cluster: Cluster, redis: RedisServer
) -> None:
    """Mid-stream, Redis drops every connection three times (its data stays): each subscriber still gets every event.

    A publish may answer -32053 meanwhile; the processes fill what their
    layer lost from the topic's history, so no event is missing and none
    comes twice, and there is nothing to tell with rpc.gap.
    """
    topic = f"hist.blink.{uuid.uuid4().hex[:8]}"
    async with peers(cluster.a, cluster.b, cluster.b) as (on_a, on_b, publisher):
        epochs = set()
        for client in (on_a, on_b):
            result = await client.result("rpc.subscribe", {"topic": topic})
            assert result["offset"] == 0, result
            epochs.add(result["epoch"])
        (epoch,) = epochs
        answers: list[tuple[int, dict[str, Any]]] = []
        midway = asyncio.Event()

        async def publish_stream() -> None:
            for n in range(BLINK_STREAM):
                answers.append((n, await publisher.request("rpc.publish", {"topic": topic, "data": {"n": n}})))
                if n == BLINK_AFTER:
                    midway.set()
                await asyncio.sleep(0.005)

        task = asyncio.create_task(publish_stream())
        try:
            async with asyncio.timeout(10):
                await midway.wait()
            dropped = []
            for _ in range(3):
                dropped.append(await asyncio.to_thread(redis.drop_clients))
                await asyncio.sleep(0.05)
            async with asyncio.timeout(30):
                await task
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert dropped[0] > 0, "Redis had no client connection to drop"
        refused = [(n, reply["error"]) for n, reply in answers if "error" in reply]
        assert all(error["code"] == -32053 for _, error in refused), refused
        accepted = [n for n, reply in answers if "result" in reply]

        final = None
        for _ in range(50):  # rpc.history itself may answer -32053 for a moment
            reply = await publisher.request("rpc.history", {"topic": topic, "limit": 1})
            if "result" in reply:
                final = reply["result"]["offset"]
                break
            await asyncio.sleep(0.1)
        assert final is not None, f"rpc.history did not answer after the blink: {reply}"
        assert final >= len(accepted), f"history ends at offset {final}, {len(accepted)} publishes were accepted"

        problems = {
            client.label: await delivery_problems(client, server, final, accepted)
            for client, server in ((on_a, cluster.a), (on_b, cluster.b))
        }
        # What the topic's history holds at the offsets any rpc.gap named.
        named = sorted({n for found in problems.values() for gap in found["told"] for n in gap.get("missed", [])})
        held = {}
        if named:
            history = await publisher.result(
                "rpc.history", {"topic": topic, "since": {"offset": named[0] - 1, "epoch": epoch}}
            )
            held = {p["offset"]: p["data"] for p in history["publications"] if p["offset"] <= named[-1]}
    reasons = [(n, error.get("data")) for n, error in refused]
    refusals = f"{len(refused)} of {BLINK_STREAM} publishes answered -32053 (n, data): {reasons}"
    silent = {label: found["silent"] for label, found in problems.items() if found["silent"]}
    assert not silent, f"events lost or repeated without a word ({refusals}): {silent}"
    told = {label: found["told"] for label, found in problems.items() if found["told"]}
    assert not told, f"subscribers were told of gaps ({refusals}): {told}; history then held {held}"


async def delivery_problems(client: Peer, server: ServerProcess, final: int, accepted: list[int]) -> dict[str, Any]:
    """What ``client`` received of a topic's offsets 1..``final`` that it should not have.

    ``silent``: offsets neither delivered nor announced by an rpc.gap, offsets
    delivered twice, events out of order, accepted publishes never delivered
    (with what the server logged); ``told``: the rpc.gap notices.
    """
    last = await client.wait_for(lambda frame: frame.get("params", {}).get("offset") == final, 10)
    await client.collect(quiet=0.3)
    events = [frame["params"] for frame in client.frames if frame.get("method") == "rpc.event"]
    gaps = [frame["params"] for frame in client.frames if frame.get("method") == "rpc.gap"]
    offsets = [params["offset"] for params in events]
    announced = {n for gap in gaps if "missed" in gap for n in range(gap["missed"][0], gap["missed"][1] + 1)}
    silent: dict[str, Any] = {}
    if last is None:
        silent["stopped after"] = events[-1:]
    if missing := sorted(set(range(1, final + 1)) - set(offsets) - announced):
        silent["missing offsets"] = missing
    if repeated := sorted({offset for offset in offsets if offsets.count(offset) > 1}):
        silent["repeated offsets"] = repeated
    if offsets != sorted(offsets):
        silent["out of order"] = offsets
    numbers = [params["data"]["n"] for params in events]
    if lost := sorted(set(accepted) - set(numbers)):
        silent["accepted, never delivered (n)"] = lost
    if silent:
        logged = [line for line in server.output().splitlines() if "wsrpc" in line or "Error" in line]
        silent["server logged"] = logged[-8:]
    return {"silent": silent, "told": gaps}


# Last: the processes are still fine ------------------------------------------------


async def test_the_servers_still_serve_after_the_outages(cluster: Cluster, redis: RedisServer) -> None:
    for server in cluster.servers:
        assert server.running, f"{server!r} exited:\n{server.output()}"
    assert await flowing(cluster, within=REPLY_TIMEOUT) < REPLY_TIMEOUT
