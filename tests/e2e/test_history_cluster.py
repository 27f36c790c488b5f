"""Topic history across server processes: offsets, recovery on resubscribe, rewind, trimming.

A daphne process (``a``) and a uvicorn process (``b``) on one database and
one Redis, on each Redis channel layer, speaking raw frames (SPEC, "History,
offsets and recovery"). Every topic name carries this run's id, so history
kept in Redis by another run never shows here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from tests.support.servers import ServerProcess

from .cluster import LAYERS, Cluster
from .wire import REPLY_TIMEOUT, assert_silent, loads, open_socket, recv_json, send_json

pytestmark = pytest.mark.e2e

#: Topics by their first segment: history kept (hist), five events kept (small),
#: kept one second (brief), none kept (plain), nobody may subscribe (closed).
SETUP = """
from wsrpc_app.models import Topic

anyone = {"anonymous_subscribe": True, "anonymous_publish": True}
Topic.objects.create(name="hist.#", history_size=1000, history_ttl=600, **anyone)
Topic.objects.create(name="small.#", history_size=5, history_ttl=600, **anyone)
Topic.objects.create(name="brief.#", history_size=100, history_ttl=1, **anyone)
Topic.objects.create(name="plain.#", **anyone)
Topic.objects.create(name="closed.#", history_size=100, history_ttl=600, anonymous_publish=True)
"""

#: The keys of an rpc.event's params for a topic with history (an exact subscription).
EVENT_KEYS = {"topic", "data", "offset", "epoch"}


@pytest.fixture(scope="session")
def run_id() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="module", params=LAYERS)
def cluster(request: pytest.FixtureRequest, redis_url: str, run_id: str) -> Iterator[Cluster]:
    layer: str = request.param
    with Cluster(layer, prefix=f"wsrpc-e2e-history-{run_id}-{layer}", redis_url=redis_url) as started:
        started.python(SETUP)
        yield started


def topic_name(cluster: Cluster, root: str, name: str, run_id: str) -> str:
    """A topic under ``root`` that no other run or layer publishes to."""
    return f"{root}.r{run_id}.{cluster.layer}.{name}"


# Speaking the wire -------------------------------------------------------------


class Peer:
    """A raw WebSocket connection: requests wait for their reply; other frames are kept in order."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[Any] = []  # what came that was not a reply, in order
        self._ids = 0

    async def request(self, method: str, params: Any, within: float = REPLY_TIMEOUT) -> dict[str, Any]:
        """The whole reply to ``method`` (a result or an error)."""
        self._ids += 1
        id_ = f"{method}-{self._ids}"
        await send_json(self.ws, {"jsonrpc": "2.0", "method": method, "params": params, "id": id_})
        async with asyncio.timeout(within):
            while True:
                frame = loads(await self.ws.recv())
                if isinstance(frame, dict) and frame.get("id") == id_:
                    assert frame.get("jsonrpc") == "2.0", frame
                    return frame
                self.frames.append(frame)

    async def result(self, method: str, params: Any) -> Any:
        reply = await self.request(method, params)
        assert "result" in reply, f"{method} {params} answered {reply}"
        return reply["result"]

    async def error(self, method: str, params: Any) -> dict[str, Any]:
        reply = await self.request(method, params)
        assert "error" in reply and "result" not in reply, f"{method} {params} answered {reply}"
        error: dict[str, Any] = reply["error"]
        return error

    async def next_frame(self, within: float = REPLY_TIMEOUT) -> Any:
        if self.frames:
            return self.frames.pop(0)
        return await recv_json(self.ws, within)

    async def events_until(self, topic: str, offset: int, within: float) -> list[dict[str, Any]]:
        """Events of ``topic`` (their params) up to the one at ``offset``; any other frame fails."""
        got: list[dict[str, Any]] = []
        async with asyncio.timeout(within):
            while not got or got[-1]["offset"] < offset:
                got.append(event_params(await self.next_frame(within), topic))
        return got


@contextlib.asynccontextmanager
async def peer(server: ServerProcess) -> AsyncIterator[Peer]:
    async with open_socket(server) as ws:
        yield Peer(ws)


@contextlib.asynccontextmanager
async def background(work: Coroutine[Any, Any, None]) -> AsyncIterator[asyncio.Task[None]]:
    """``work`` running in a task through the block; cancelled if the block ends before it."""
    task = asyncio.create_task(work)
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def event_params(frame: Any, topic: str) -> dict[str, Any]:
    """The params of an ``rpc.event`` of ``topic`` with an offset and an epoch; fails for any other frame."""
    assert isinstance(frame, dict) and frame.get("method") == "rpc.event" and "id" not in frame, (
        f"expected an rpc.event of {topic}, got {frame}"
    )
    params: dict[str, Any] = frame["params"]
    assert_history_event(params, topic)
    return params


def assert_history_event(params: Any, topic: str) -> None:
    """``params`` is an EVENT of ``topic``: exactly topic, data, offset (an integer) and epoch (a string)."""
    assert isinstance(params, dict) and set(params) == EVENT_KEYS, f"not an EVENT of a history topic: {params}"
    assert params["topic"] == topic, params
    assert type(params["offset"]) is int and params["offset"] >= 1, params
    assert isinstance(params["epoch"], str) and params["epoch"], params


def offsets(events: list[dict[str, Any]]) -> list[int]:
    return [event["offset"] for event in events]


async def position(client: Peer, topic: str) -> tuple[int, str]:
    """Subscribe to ``topic``; its current (offset, epoch) from the result."""
    result = await client.result("rpc.subscribe", {"topic": topic})
    assert result["topic"] == topic and result["subscribed"] is True, result
    assert type(result["offset"]) is int and isinstance(result["epoch"], str), result
    return result["offset"], result["epoch"]


async def publish_all(client: Peer, topic: str, items: list[Any], pause: float = 0.0) -> None:
    """Publish each item once the previous one is answered (only this order is promised)."""
    for item in items:
        result = await client.result("rpc.publish", {"topic": topic, "data": item})
        assert result["topic"] == topic, result
        if pause:
            await asyncio.sleep(pause)


# 1. A subscriber's server is killed mid-stream --------------------------------

KILLED_STREAM = 300
#: The subscriber's process is killed once it has received this many events,
KILL_AFTER = 50
#: and the subscriber comes back once this many were published: it then recovers about 150 and receives 100 live.
COME_BACK_AFTER = 200


@pytest.mark.parametrize("victim_name", ["a", "b"], ids=["kill-daphne", "kill-uvicorn"])
async def test_a_subscriber_whose_server_is_killed_gets_every_event_once_in_order_from_the_other(
    cluster: Cluster, run_id: str, victim_name: str
) -> None:
    """SIGKILL the subscriber's process while the other publishes; resubscribe there with ``since``."""
    victim = getattr(cluster, victim_name)
    survivor = cluster.b if victim is cluster.a else cluster.a
    topic = topic_name(cluster, "hist", f"kill-{victim_name}", run_id)
    stream = [{"n": n} for n in range(KILLED_STREAM)]
    try:
        async with peer(survivor) as publisher, peer(survivor) as witness, open_socket(victim) as doomed_ws:
            doomed = Peer(doomed_ws)
            start, epoch = await position(doomed, topic)
            assert start == 0, "a topic nobody published to starts at offset 0"
            assert await position(witness, topic) == (0, epoch)

            come_back = asyncio.Event()

            async def publish_stream() -> None:
                await publish_all(publisher, topic, stream[:COME_BACK_AFTER], pause=0.002)
                come_back.set()
                await publish_all(publisher, topic, stream[COME_BACK_AFTER:], pause=0.002)

            async with background(publish_stream()) as publishing:
                seen: list[dict[str, Any]] = []
                async with asyncio.timeout(10):
                    while len(seen) < KILL_AFTER:
                        seen.append(event_params(await doomed.next_frame(), topic))
                os.kill(victim.pid, signal.SIGKILL)
                # What the dead process had written still arrives, then the connection drops.
                with contextlib.suppress(ConnectionClosed):
                    async with asyncio.timeout(5):
                        while True:
                            seen.append(event_params(loads(await doomed_ws.recv()), topic))
                assert not publishing.done(), "the publisher was done before the kill: not killed mid-stream"
                last = seen[-1]
                async with asyncio.timeout(10):
                    await come_back.wait()

                async with peer(survivor) as again:
                    since = {"offset": last["offset"], "epoch": last["epoch"]}
                    reply = await again.request("rpc.subscribe", {"topic": topic, "since": since})
                    assert "result" in reply, reply
                    result = reply["result"]
                    assert result["topic"] == topic and result["recovered"] is True, result
                    assert result["epoch"] == epoch, result
                    recovered = result["publications"]
                    for params in recovered:
                        assert_history_event(params, topic)
                    assert offsets(recovered) == list(range(last["offset"] + 1, result["offset"] + 1)), (
                        f"since {since}: publications should run up to the result's offset {result['offset']}",
                        offsets(recovered),
                    )
                    live = []
                    if result["offset"] < KILLED_STREAM:
                        live = await again.events_until(topic, KILLED_STREAM, within=15)
                    await publishing
                    await assert_silent(again.ws)

            # The subscriber on the surviving process missed nothing either.
            watched = await witness.events_until(topic, KILLED_STREAM, within=10)
            assert offsets(watched) == list(range(1, KILLED_STREAM + 1))

        got = seen + recovered + live
        assert offsets(got) == list(range(1, KILLED_STREAM + 1)), (
            f"before the kill {offsets(seen)}, recovered {offsets(recovered)}, live {offsets(live)}"
        )
        assert [event["data"] for event in got] == stream
        assert {event["epoch"] for event in got} == {epoch}
    finally:
        victim.stop()  # reaps the killed process
        victim.start()


# 2. Publishers on both processes at once --------------------------------------

PUBLISHERS_PER_PROCESS = 3
EVENTS_PER_PUBLISHER = 30


async def test_concurrent_publishers_on_both_processes_give_every_subscriber_consecutive_offsets(
    cluster: Cluster, run_id: str
) -> None:
    topic = topic_name(cluster, "hist", "concurrent", run_id)
    total = 2 * PUBLISHERS_PER_PROCESS * EVENTS_PER_PUBLISHER
    async with contextlib.AsyncExitStack() as stack:
        subscribers = [
            Peer(await stack.enter_async_context(open_socket(server)))
            for server in (cluster.a, cluster.a, cluster.b, cluster.b)
        ]
        publishers = {
            f"{server.name}-{n}": Peer(await stack.enter_async_context(open_socket(server)))
            for server in cluster.servers
            for n in range(PUBLISHERS_PER_PROCESS)
        }
        positions = {await position(subscriber, topic) for subscriber in subscribers}
        assert len(positions) == 1, f"the processes disagree on the topic's position: {positions}"
        ((start, epoch),) = positions
        assert start == 0

        readers = [asyncio.create_task(subscriber.events_until(topic, total, within=30)) for subscriber in subscribers]
        await asyncio.gather(
            *(
                publish_all(client, topic, [{"p": label, "n": n} for n in range(EVENTS_PER_PUBLISHER)])
                for label, client in publishers.items()
            )
        )
        received = await asyncio.gather(*readers)

        histories = [
            await Peer(await stack.enter_async_context(open_socket(server))).result(
                "rpc.history", {"topic": topic, "limit": total}
            )
            for server in cluster.servers
        ]

    sequences = []
    for got in received:
        assert offsets(got) == list(range(1, total + 1))
        assert {event["epoch"] for event in got} == {epoch}
        sequence = [(event["offset"], event["data"]["p"], event["data"]["n"]) for event in got]
        for label in publishers:
            assert [n for _, p, n in sequence if p == label] == list(range(EVENTS_PER_PUBLISHER)), label
        sequences.append(sequence)
    assert all(sequence == sequences[0] for sequence in sequences), "subscribers saw different orders"
    for history in histories:
        assert (history["topic"], history["offset"], history["epoch"]) == (topic, total, epoch), history
        stored = [(event["offset"], event["data"]["p"], event["data"]["n"]) for event in history["publications"]]
        assert stored == sequences[0], "rpc.history disagrees with what the subscribers received"


BURSTS = 3
#: Publishes a connection sends before reading their replies (under the test settings' MAX_IN_FLIGHT, 16).
BURST = 10


async def publish_burst(client: Peer, topic: str, items: list[Any]) -> None:
    """Send one rpc.publish per item without waiting, then read every reply: they run concurrently."""
    ids = {f"burst-{uuid.uuid4().hex[:8]}": item for item in items}
    for id_, item in ids.items():
        await send_json(client.ws, {"jsonrpc": "2.0", "method": "rpc.publish", "params": [topic, item], "id": id_})
    async with asyncio.timeout(REPLY_TIMEOUT):
        while ids:
            frame = loads(await client.ws.recv())
            assert frame.get("id") in ids and frame.get("result", {}).get("topic") == topic, frame
            del ids[frame["id"]]


async def test_pipelined_publishers_give_exact_and_pattern_subscribers_one_order(cluster: Cluster, run_id: str) -> None:
    """Publishes in flight together on both processes; pattern subscribers get the same offsets."""
    topic = topic_name(cluster, "hist", "piped.t", run_id)
    pattern = topic_name(cluster, "hist", "piped.*", run_id)
    total = 2 * 2 * BURSTS * BURST
    async with contextlib.AsyncExitStack() as stack:
        subscribers = {
            (server.name, name): Peer(await stack.enter_async_context(open_socket(server)))
            for server in cluster.servers
            for name in (topic, pattern)
        }
        for (_, name), subscriber in subscribers.items():
            result = await subscriber.result("rpc.subscribe", {"topic": name})
            assert result["topic"] == name and result["subscribed"] is True, result
        publishers = {
            f"{server.name}-{n}": Peer(await stack.enter_async_context(open_socket(server)))
            for server in cluster.servers
            for n in range(2)
        }

        async def bursts(label: str, client: Peer) -> None:
            for burst in range(BURSTS):
                await publish_burst(client, topic, [{"p": label, "n": burst * BURST + n} for n in range(BURST)])

        readers = [asyncio.create_task(frames(subscriber, total, within=15)) for subscriber in subscribers.values()]
        await asyncio.gather(*(bursts(label, client) for label, client in publishers.items()))
        outcomes = await asyncio.gather(*readers, return_exceptions=True)
        failed = {key: out for key, out in zip(subscribers, outcomes, strict=True) if isinstance(out, BaseException)}
        assert not failed, "; ".join(f"{server} subscribed to {name}: {out}" for (server, name), out in failed.items())
        received = {key: out for key, out in zip(subscribers, outcomes, strict=True) if isinstance(out, list)}

    sequences = {}
    for (server_name, name), got in received.items():
        for frame in got:
            assert frame.get("method") == "rpc.event" and "id" not in frame, frame
            params = dict(frame["params"])
            if name == pattern:
                assert params.pop("subscription", None) == pattern, frame
            assert_history_event(params, topic)
        events = [frame["params"] for frame in got]
        assert offsets(events) == list(range(1, total + 1)), (server_name, name, offsets(events))
        sequences[server_name, name] = [(event["offset"], event["data"]["p"], event["data"]["n"]) for event in events]
    first = next(iter(sequences.values()))
    assert sorted((p, n) for _, p, n in first) == sorted((p, n) for p in publishers for n in range(BURSTS * BURST))
    different = [key for key, sequence in sequences.items() if sequence != first]
    assert not different, f"these subscribers saw another order than {next(iter(sequences))}: {different}"


async def frames(client: Peer, count: int, within: float) -> list[Any]:
    """The next ``count`` frames ``client`` receives; fails with what came when they do not come in time."""
    got: list[Any] = []
    try:
        async with asyncio.timeout(within):
            while len(got) < count:
                got.append(await client.next_frame(within))
    except TimeoutError:
        seen = [frame.get("params", frame) for frame in got]
        numbers = [
            (params.get("offset"), params.get("data", {}).get("p"), params.get("data", {}).get("n")) for params in seen
        ]
        missing = sorted(set(range(1, count + 1)) - {offset for offset, _, _ in numbers})
        raise AssertionError(
            f"{len(got)} of {count} frames came within {within} s; offsets missing {missing}; "
            f"the last five (offset, p, n): {numbers[-5:]}"
        ) from None
    return got


# 3. Last value, history, trimming ---------------------------------------------


async def test_rewind_1_gives_the_last_value_then_live_events(cluster: Cluster, run_id: str) -> None:
    topic = topic_name(cluster, "hist", "rewind", run_id)
    async with peer(cluster.a) as publisher, peer(cluster.b) as late:
        await publish_all(publisher, topic, ["first", "second", "third"])
        result = await late.result("rpc.subscribe", {"topic": topic, "rewind": 1})
        assert result["recovered"] is True and result["offset"] == 3, result
        assert [(p["offset"], p["data"]) for p in result["publications"]] == [(3, "third")], result
        assert_history_event(result["publications"][0], topic)
        assert result["publications"][0]["epoch"] == result["epoch"]

        await publish_all(publisher, topic, ["fourth"])
        live = event_params(await late.next_frame(), topic)
        assert (live["data"], live["offset"], live["epoch"]) == ("fourth", 4, result["epoch"]), live
        await assert_silent(late.ws)

    async with peer(cluster.a) as later:
        result = await later.result("rpc.subscribe", {"topic": topic, "rewind": 2})
        assert [(p["offset"], p["data"]) for p in result["publications"]] == [(3, "third"), (4, "fourth")], result


async def test_rpc_history_with_and_without_since(cluster: Cluster, run_id: str) -> None:
    topic = topic_name(cluster, "hist", "history", run_id)
    async with peer(cluster.a) as publisher, peer(cluster.b) as reader:
        await publish_all(publisher, topic, [f"event {n}" for n in range(1, 6)])

        everything = await reader.result("rpc.history", {"topic": topic})
        assert (everything["topic"], everything["offset"]) == (topic, 5), everything
        epoch = everything["epoch"]
        for params in everything["publications"]:
            assert_history_event(params, topic)
        assert [(p["offset"], p["data"], p["epoch"]) for p in everything["publications"]] == [
            (n, f"event {n}", epoch) for n in range(1, 6)
        ]

        last_two = await reader.result("rpc.history", {"topic": topic, "limit": 2})
        assert offsets(last_two["publications"]) == [4, 5], last_two

        after_two = await reader.result("rpc.history", {"topic": topic, "since": {"offset": 2, "epoch": epoch}})
        assert after_two["recovered"] is True and offsets(after_two["publications"]) == [3, 4, 5], after_two

        up_to_date = await reader.result("rpc.history", {"topic": topic, "since": {"offset": 5, "epoch": epoch}})
        assert up_to_date["recovered"] is True and up_to_date["publications"] == [], up_to_date

        other_epoch = await reader.result("rpc.history", {"topic": topic, "since": {"offset": 2, "epoch": "x" + epoch}})
        assert other_epoch["recovered"] is False and other_epoch["publications"] == [], other_epoch
        assert (other_epoch["offset"], other_epoch["epoch"]) == (5, epoch), other_epoch

        plain = topic_name(cluster, "plain", "history", run_id)
        error = await reader.error("rpc.history", {"topic": plain})
        assert error["code"] == -32004 and error.get("data") == {"topic": plain, "history": False}, error
        closed = topic_name(cluster, "closed", "history", run_id)
        assert (await reader.error("rpc.history", {"topic": closed}))["code"] == -32003
        await assert_silent(reader.ws)


async def test_history_size_trims_what_since_can_recover(cluster: Cluster, run_id: str) -> None:
    """history_size 5: offsets 4..8 of 8 are kept; since 3 recovers them, since 2 cannot."""
    topic = topic_name(cluster, "small", "size", run_id)
    async with peer(cluster.a) as publisher, peer(cluster.b) as reader:
        await publish_all(publisher, topic, list(range(1, 9)))
        kept = await reader.result("rpc.history", {"topic": topic})
        epoch = kept["epoch"]
        assert kept["offset"] == 8 and offsets(kept["publications"]) == [4, 5, 6, 7, 8], kept

        since_3 = await reader.result("rpc.subscribe", {"topic": topic, "since": {"offset": 3, "epoch": epoch}})
        assert since_3["recovered"] is True and offsets(since_3["publications"]) == [4, 5, 6, 7, 8], since_3
        assert [p["data"] for p in since_3["publications"]] == [4, 5, 6, 7, 8]

        async with peer(cluster.a) as other:
            since_2 = await other.result("rpc.subscribe", {"topic": topic, "since": {"offset": 2, "epoch": epoch}})
            assert since_2["recovered"] is False and since_2["publications"] == [], since_2
            assert (since_2["offset"], since_2["epoch"]) == (8, epoch), since_2
            stale = await other.result("rpc.history", {"topic": topic, "since": {"offset": 1, "epoch": epoch}})
            assert stale["recovered"] is False and stale["publications"] == [], stale


async def test_history_ttl_forgets_old_events(cluster: Cluster, run_id: str) -> None:
    """history_ttl 1 s: right away since recovers; two seconds later it cannot, and history is empty."""
    topic = topic_name(cluster, "brief", "ttl", run_id)
    async with peer(cluster.a) as publisher, peer(cluster.b) as reader:
        await publish_all(publisher, topic, ["a", "b", "c"])
        fresh = await reader.result("rpc.history", {"topic": topic, "since": {"offset": 1, "epoch": "unknown"}})
        epoch = fresh["epoch"]
        now = await reader.result("rpc.history", {"topic": topic, "since": {"offset": 1, "epoch": epoch}})
        assert now["recovered"] is True and offsets(now["publications"]) == [2, 3], now

        await asyncio.sleep(2.0)
        later = await reader.result("rpc.subscribe", {"topic": topic, "since": {"offset": 1, "epoch": epoch}})
        assert later["recovered"] is False and later["publications"] == [], later
        expired = await reader.result("rpc.history", {"topic": topic})
        assert expired["publications"] == [], expired


# 4. Bad params on a live server ------------------------------------------------


async def test_bad_since_and_rewind_answer_32602_and_the_connection_goes_on(cluster: Cluster, run_id: str) -> None:
    topic = topic_name(cluster, "hist", "bad", run_id)
    async with peer(cluster.a) as client, peer(cluster.b) as publisher:
        for params in (
            {"topic": topic, "rewind": 0},
            {"topic": topic, "rewind": "last"},
            {"topic": topic, "since": {"offset": -1, "epoch": "e"}},
            {"topic": topic, "since": "yesterday"},
        ):
            error = await client.error("rpc.subscribe", params)
            assert error["code"] == -32602 and "Traceback" not in str(error), (params, error)
        error = await client.error("rpc.history", {"topic": topic, "limit": -5})
        assert error["code"] == -32602, error

        # None of them subscribed: an event of the topic does not reach the client.
        await publish_all(publisher, topic, ["not for you"])
        await assert_silent(client.ws, quiet=0.5)
        start, _ = await position(client, topic)
        assert start == 1


# Last: what the servers said -----------------------------------------------------


def test_the_servers_logged_no_errors(cluster: Cluster) -> None:
    for server in cluster.servers:
        output = server.output()
        assert "Traceback" not in output, f"{server!r} logged an error:\n{output}"
