"""The Python client recovers by itself: against a scripted server that answers as the wire format says.

The server side of history is tested on its own; here each test fixes the
frames, so that the client's part is checked exactly: what it sends on a
renewal, the order it hands events on, what ``on_gap`` hears.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import tenacity

from wsrpc_app.client import Gap, Position, RpcError, WsRpcClient

from .scripted import Drop, Refuse, ScriptedServer, event_frame

TOPIC = "room.1"


def event(offset: int, epoch: str = "e1", topic: str = TOPIC) -> dict[str, Any]:
    params: dict[str, Any] = event_frame(topic, offset, offset, epoch)["params"]
    return params


def subscribed(offset: int, epoch: str = "e1", **extra: Any) -> dict[str, Any]:
    return {"topic": TOPIC, "subscribed": True, "offset": offset, "epoch": epoch, **extra}


@pytest.fixture
async def server() -> AsyncIterator[ScriptedServer]:
    async with ScriptedServer() as scripted:
        yield scripted


def client_of(server: ScriptedServer, **options: Any) -> WsRpcClient:
    return WsRpcClient(
        server.url, heartbeat_interval=None, retry={"wait": tenacity.wait_fixed(0.02)}, call_timeout=5, **options
    )


async def until(predicate: Any, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


class Log:
    """What the application saw, in order: ``("event", data)`` and ``("gap", Gap)``."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    def on_event(self, data: Any, event: dict[str, Any]) -> None:
        self.seen.append(("event", data))

    def on_gap(self, gap: Gap) -> None:
        self.seen.append(("gap", gap))

    @property
    def data(self) -> list[Any]:
        return [value for kind, value in self.seen if kind == "event"]


async def reconnected(server: ScriptedServer, client: WsRpcClient) -> None:
    """Drop the connection and wait until the client renewed its subscriptions on the next one."""
    count = len(server.connections)
    await server.drop()
    await server.wait_for(lambda: len(server.connections) > count)
    await until(lambda: client.connected and client.state == "open")


# Renewing ``since`` the last event ---------------------------------------------------------------


async def test_a_renewal_recovers_what_was_missed_before_live_events_each_once(server: ScriptedServer) -> None:
    log = Log()
    server.answer("rpc.subscribe", lambda params: (subscribed(2), []))
    async with client_of(server, on_gap=log.on_gap) as client:
        await client.subscribe(TOPIC, log.on_event)
        await server.send(event_frame(TOPIC, 3, 3))
        await until(lambda: log.data == [3])

        missed = [event(4), event(5)]
        live = [event_frame(TOPIC, 5, 5), event_frame(TOPIC, 6, 6)]  # 5 again: sent live as well as recovered
        server.answer("rpc.subscribe", lambda params: (subscribed(5, recovered=True, publications=missed), live))
        await reconnected(server, client)
        await until(lambda: log.data == [3, 4, 5, 6])
        assert client.position(TOPIC) == Position("e1", 6)
    assert server.sent("rpc.subscribe") == [
        (0, {"topic": TOPIC}),
        (1, {"topic": TOPIC, "since": {"offset": 3, "epoch": "e1"}}),
    ]
    assert log.seen == [("event", 3), ("event", 4), ("event", 5), ("event", 6)]  # no gap


async def test_every_renewal_asks_since_the_latest_position(server: ScriptedServer) -> None:
    log = Log()
    server.answer("rpc.subscribe", lambda params: (subscribed(0), []))
    async with client_of(server) as client:
        await client.subscribe(TOPIC, log.on_event)
        for round_ in range(1, 4):
            server.answer(
                "rpc.subscribe", lambda params, n=2 * round_: (subscribed(n, recovered=True, publications=[]), [])
            )
            await server.send(
                event_frame(TOPIC, 2 * round_ - 1, 2 * round_ - 1), event_frame(TOPIC, 2 * round_, 2 * round_)
            )
            await until(lambda n=2 * round_: len(log.data) == n)
            await reconnected(server, client)
    assert [params.get("since") for _, params in server.sent("rpc.subscribe")] == [
        None,
        {"offset": 2, "epoch": "e1"},
        {"offset": 4, "epoch": "e1"},
        {"offset": 6, "epoch": "e1"},
    ]
    assert log.data == [1, 2, 3, 4, 5, 6]


async def test_a_failed_recovery_reaches_on_gap_before_the_events_that_follow(server: ScriptedServer) -> None:
    log = Log()
    server.answer("rpc.subscribe", lambda params: (subscribed(7), []))
    async with client_of(server, on_gap=log.on_gap) as client:
        await client.subscribe(TOPIC, log.on_event)
        lost = subscribed(0, epoch="e2", recovered=False, publications=[])
        server.answer("rpc.subscribe", lambda params: (lost, [event_frame(TOPIC, 1, 1, "e2")]))
        await reconnected(server, client)
        await until(lambda: len(log.seen) == 2)
    assert log.seen == [("gap", Gap(TOPIC, "not_recovered", Position("e2", 0))), ("event", 1)]


async def test_an_async_on_gap_is_awaited_in_its_own_task(server: ScriptedServer) -> None:
    gaps: list[Gap] = []

    async def refetch(gap: Gap) -> None:
        await asyncio.sleep(0)
        gaps.append(gap)

    server.answer("rpc.subscribe", lambda params: (subscribed(1), []))
    async with client_of(server, on_gap=refetch) as client:
        await client.subscribe(TOPIC, lambda data, event: None)
        await server.send(
            {"jsonrpc": "2.0", "method": "rpc.gap", "params": {"topic": TOPIC, "epoch": "e9", "offset": 4}}
        )
        await until(lambda: len(gaps) == 1)
    assert gaps == [Gap(TOPIC, "gap", Position("e9", 4))]


async def test_rpc_gap_is_told_and_the_stream_goes_on_from_its_position(server: ScriptedServer) -> None:
    log = Log()
    server.answer("rpc.subscribe", lambda params: (subscribed(1), []))
    async with client_of(server, on_gap=log.on_gap) as client:
        await client.subscribe(TOPIC, log.on_event)
        gap = {
            "jsonrpc": "2.0",
            "method": "rpc.gap",
            "params": {"topic": TOPIC, "epoch": "e1", "offset": 5, "missed": [2, 5]},
        }
        await server.send(gap, event_frame(TOPIC, 6, 6), event_frame(TOPIC, 6, 6))
        await until(lambda: len(log.seen) == 2)
        assert client.position(TOPIC) == Position("e1", 6)
        await asyncio.sleep(0.05)
    assert log.seen == [("gap", Gap(TOPIC, "gap", Position("e1", 5), (2, 5))), ("event", 6)]


async def test_a_duplicate_or_older_live_event_is_dropped(server: ScriptedServer) -> None:
    log = Log()
    server.answer("rpc.subscribe", lambda params: (subscribed(0), []))
    async with client_of(server) as client:
        await client.subscribe(TOPIC, log.on_event)
        frames = [event_frame(TOPIC, n, n) for n in (1, 2, 2, 1, 3)]
        await server.send(*frames)
        await until(lambda: 3 in log.data)
        await asyncio.sleep(0.05)
    assert log.data == [1, 2, 3]


async def test_patterns_and_topics_without_history_are_renewed_plainly(server: ScriptedServer) -> None:
    async with client_of(server) as client:
        await client.subscribe("room.*", lambda data, event: None)
        await client.subscribe("plain", lambda data, event: None)
        await server.send(event_frame("room.2", 1, 1, subscription="room.*"), event_frame("plain", 1))
        await reconnected(server, client)
        assert client.position("room.*") is None and client.position("plain") is None
    renewed = sorted((params["topic"], params) for n, params in server.sent("rpc.subscribe") if n == 1)
    assert renewed == [("plain", {"topic": "plain"}), ("room.*", {"topic": "room.*"})]


async def test_a_connection_lost_while_renewing_is_reopened_and_renews_again(server: ScriptedServer) -> None:
    log = Log()
    states: list[str] = []
    server.answer("rpc.subscribe", lambda params: (subscribed(1), []))
    async with client_of(server, on_gap=log.on_gap, on_state=states.append) as client:
        await client.subscribe(TOPIC, log.on_event)

        def restart(params: Any) -> Any:
            server.answer("rpc.subscribe", lambda params: (subscribed(2, recovered=True, publications=[event(2)]), []))
            raise Drop

        server.answer("rpc.subscribe", restart)
        await server.drop()
        await server.wait_for(lambda: len(server.connections) == 3)
        await until(lambda: log.data == [2] and client.state == "open")
        assert await client.call("rpc.ping") == "pong"
    assert [(n, params.get("since")) for n, params in server.sent("rpc.subscribe")] == [
        (0, None),
        (1, {"offset": 1, "epoch": "e1"}),
        (2, {"offset": 1, "epoch": "e1"}),
    ]
    assert states.count("open") == 2 and log.seen == [("event", 2)]


async def test_a_renewal_refused_forgets_the_subscription(server: ScriptedServer) -> None:
    server.answer("rpc.subscribe", lambda params: (subscribed(1), []))
    async with client_of(server) as client:
        await client.subscribe(TOPIC, lambda data, event: None)

        def refuse(params: Any) -> Any:
            raise Refuse(-32003, "Permission denied")

        server.answer("rpc.subscribe", refuse)
        await reconnected(server, client)
        assert client.subscriptions == {}


# rewind, since, history -------------------------------------------------------------------------


async def test_rewind_hands_the_last_events_first(server: ScriptedServer) -> None:
    log = Log()
    last = subscribed(9, recovered=True, publications=[event(9)])
    server.answer("rpc.subscribe", lambda params: (last, [event_frame(TOPIC, 10, 10)]))
    async with client_of(server) as client:
        result = await client.subscribe(TOPIC, log.on_event, rewind=1)
        await until(lambda: log.data == [9, 10])
        assert result["publications"] == [event(9)]
        assert client.position(TOPIC) == Position("e1", 10)
    assert server.sent("rpc.subscribe") == [(0, {"topic": TOPIC, "rewind": 1})]


async def test_since_on_a_first_subscription_recovers_or_tells(server: ScriptedServer) -> None:
    log = Log()
    server.answer("rpc.subscribe", lambda params: (subscribed(4, recovered=True, publications=[event(4)]), []))
    async with client_of(server, on_gap=log.on_gap) as client:
        await client.subscribe(TOPIC, log.on_event, since={"epoch": "e1", "offset": 3})
        server.answer("rpc.subscribe", lambda params: (subscribed(2, "e2", recovered=False, publications=[]), []))
        await client.subscribe("room.2", log.on_event, since=Position("e1", 3))
        await until(lambda: len(log.seen) == 2)
    assert server.sent("rpc.subscribe")[0][1]["since"] == {"offset": 3, "epoch": "e1"}
    assert log.seen == [("event", 4), ("gap", Gap("room.2", "not_recovered", Position("e2", 2)))]


async def test_rewind_for_another_callback_reads_the_history_for_it_alone(server: ScriptedServer) -> None:
    first, second = Log(), Log()
    server.answer("rpc.subscribe", lambda params: (subscribed(3), []))
    history = {"topic": TOPIC, "offset": 5, "epoch": "e1", "recovered": True, "publications": [event(4), event(5)]}
    server.answer("rpc.history", lambda params: (history, []))
    async with client_of(server) as client:
        await client.subscribe(TOPIC, first.on_event)
        await server.send(event_frame(TOPIC, 4, 4))
        await until(lambda: first.data == [4])
        result = await client.subscribe(TOPIC, second.on_event, rewind=2)
        assert result["publications"] == [event(4)]  # 5 is still on its way: it comes to both
        await server.send(event_frame(TOPIC, 5, 5))
        await until(lambda: second.data == [4, 5] and first.data == [4, 5])
    assert server.sent("rpc.history") == [(0, {"topic": TOPIC, "limit": 2})]
    assert len(server.sent("rpc.subscribe")) == 1


async def test_history_sends_since_and_limit(server: ScriptedServer) -> None:
    answer = {"topic": TOPIC, "offset": 2, "epoch": "e1", "recovered": True, "publications": [event(2)]}
    server.answer("rpc.history", lambda params: (answer, []))
    async with client_of(server) as client:
        assert await client.history(TOPIC, since=Position("e1", 1), limit=10) == answer
        assert await client.history(TOPIC) == answer
    assert server.sent("rpc.history") == [
        (0, {"topic": TOPIC, "since": {"offset": 1, "epoch": "e1"}, "limit": 10}),
        (0, {"topic": TOPIC}),
    ]


async def test_rewind_and_since_together_are_refused(server: ScriptedServer) -> None:
    async with client_of(server) as client:
        with pytest.raises(ValueError, match="not both"):
            await client.subscribe(TOPIC, lambda data, event: None, rewind=1, since=Position("e1", 1))
    assert server.sent("rpc.subscribe") == []


# Subscribing twice ------------------------------------------------------------------------------


async def test_concurrent_subscriptions_to_one_topic_send_one_request(server: ScriptedServer) -> None:
    log = Log()
    server.answer("rpc.subscribe", lambda params: (subscribed(1), []))
    async with client_of(server) as client:
        results = await asyncio.gather(*(client.subscribe(TOPIC, log.on_event) for _ in range(3)))
        await server.send(event_frame(TOPIC, 2, 2))
        await until(lambda: len(log.data) == 3)
        assert len(client.subscriptions[TOPIC]) == 3
    assert [r["offset"] for r in results] == [1, 1, 1]
    assert len(server.sent("rpc.subscribe")) == 1


async def test_a_refused_first_subscription_leaves_nothing_behind(server: ScriptedServer) -> None:
    def refuse(params: Any) -> Any:
        raise Refuse(-32003, "Permission denied")

    server.answer("rpc.subscribe", refuse)
    async with client_of(server) as client:
        with pytest.raises(RpcError):
            await client.subscribe(TOPIC, lambda data, event: None)
        assert client.subscriptions == {} and client.position(TOPIC) is None
