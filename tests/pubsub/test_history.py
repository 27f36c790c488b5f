"""Topic history in one process (in-memory layer and store): offsets, recovery, order, gaps, rpc.history."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from channels.db import database_sync_to_async

from tests.support.pubsub import Peer, connected, fresh_permissions, make_topic  # noqa: F401
from wsrpc_app.acl.rules import Retention
from wsrpc_app.core.topics import most_specific
from wsrpc_app.models import Topic
from wsrpc_app.pubsub.history import ahistory
from wsrpc_app.pubsub.messages import event_messages, subscription_group
from wsrpc_app.pubsub.process import get_hub, history_store
from wsrpc_app.pubsub.publishing import apublish
from wsrpc_app.pubsub.store import MemoryStore

pytestmark = pytest.mark.django_db(transaction=True)

ANYONE = {"anonymous_subscribe": True, "anonymous_publish": True}


@pytest.fixture
def topics() -> None:
    Topic.objects.all().delete()
    make_topic("kept.#", history_size=5, history_ttl=600, **ANYONE)
    make_topic("kept.brief.#", history_size=5, history_ttl=1, **ANYONE)
    make_topic("kept.big.#", history_size=300, history_ttl=600, **ANYONE)
    make_topic("plain.#", **ANYONE)


def fresh(root: str) -> str:
    return f"{root}.t{uuid.uuid4().hex[:10]}"


async def events_of(peer: Peer, count: int) -> list[dict[str, Any]]:
    return [(await peer.notification())["params"] for _ in range(count)]


async def test_events_of_a_topic_with_history_carry_consecutive_offsets_and_one_epoch(topics: None) -> None:
    topic = fresh("kept")
    async with connected() as peer:
        subscribed = await peer.result("rpc.subscribe", {"topic": topic})
        assert subscribed["offset"] == 0 and subscribed["epoch"]
        for n in range(3):
            published = await peer.result("rpc.publish", {"topic": topic, "data": n})
            assert published["offset"] == n + 1 and published["epoch"] == subscribed["epoch"]
        events = await events_of(peer, 3)
    assert [(e["data"], e["offset"], e["epoch"]) for e in events] == [(n, n + 1, subscribed["epoch"]) for n in range(3)]


async def test_since_recovers_what_was_missed_then_live_events_follow(topics: None) -> None:
    topic = fresh("kept")
    async with connected() as peer:
        first = await peer.result("rpc.subscribe", {"topic": topic})
        await peer.result("rpc.publish", {"topic": topic, "data": "seen"})
        seen = (await peer.notification())["params"]
        await peer.result("rpc.unsubscribe", {"topic": topic})
        for n in range(3):
            await apublish(topic, f"missed {n}")
        again = await peer.result(
            "rpc.subscribe", {"topic": topic, "since": {"offset": seen["offset"], "epoch": seen["epoch"]}}
        )
        assert again["recovered"] is True and again["epoch"] == first["epoch"] and again["offset"] == 4
        assert [(p["data"], p["offset"]) for p in again["publications"]] == [(f"missed {n}", n + 2) for n in range(3)]
        assert all(p["topic"] == topic and p["epoch"] == first["epoch"] for p in again["publications"])
        await apublish(topic, "live")
        live = (await peer.notification())["params"]
        assert (live["data"], live["offset"]) == ("live", 5)
        assert await peer.nothing_more()


async def test_rewind_gives_the_last_events_and_rewind_one_the_last_value(topics: None) -> None:
    topic = fresh("kept")
    for n in range(4):
        await apublish(topic, n)
    async with connected() as peer:
        last = await peer.result("rpc.subscribe", {"topic": topic, "rewind": 1})
        assert last["recovered"] is True and [p["data"] for p in last["publications"]] == [3]
    async with connected() as peer:
        more = await peer.result("rpc.subscribe", {"topic": topic, "rewind": 100})
        assert more["recovered"] is True and [p["data"] for p in more["publications"]] == [0, 1, 2, 3]


async def test_recovery_fails_for_another_epoch_or_events_trimmed_by_size(topics: None) -> None:
    topic = fresh("kept")  # keeps 5
    for n in range(8):
        await apublish(topic, n)
    async with connected() as peer:
        trimmed = await peer.result("rpc.subscribe", {"topic": topic, "since": {"offset": 2, "epoch": "x"}})
        assert trimmed == {
            "topic": topic,
            "subscribed": True,
            "offset": 8,
            "epoch": trimmed["epoch"],
            "recovered": False,
            "publications": [],
        }
        await peer.result("rpc.unsubscribe", {"topic": topic})
        old = await peer.result("rpc.subscribe", {"topic": topic, "since": {"offset": 2, "epoch": trimmed["epoch"]}})
        assert old["recovered"] is False and old["publications"] == []
        await peer.result("rpc.unsubscribe", {"topic": topic})
        kept = await peer.result("rpc.subscribe", {"topic": topic, "since": {"offset": 3, "epoch": trimmed["epoch"]}})
        assert kept["recovered"] is True and [p["data"] for p in kept["publications"]] == [3, 4, 5, 6, 7]


async def test_recovery_fails_for_events_older_than_the_ttl(topics: None) -> None:
    topic = fresh("kept.brief")  # kept one second
    await apublish(topic, "old")
    await asyncio.sleep(1.2)
    async with connected() as peer:
        late = await peer.result("rpc.subscribe", {"topic": topic, "rewind": 1})
    assert late["recovered"] is False and late["publications"] == [] and late["offset"] == 1


async def test_more_missed_than_max_recovered_does_not_recover(topics: None, settings: Any) -> None:
    settings.WSRPC = {**settings.WSRPC, "MAX_RECOVERED": 2}
    topic = fresh("kept")
    async with connected() as peer:
        start = await peer.result("rpc.subscribe", {"topic": topic})
        await peer.result("rpc.unsubscribe", {"topic": topic})
        for n in range(3):
            await apublish(topic, n)
        since = {"offset": 0, "epoch": start["epoch"]}
        too_many = await peer.result("rpc.subscribe", {"topic": topic, "since": since})
    assert too_many["recovered"] is False and too_many["offset"] == 3


async def test_patterns_and_topics_without_history_do_not_recover(topics: None) -> None:
    async with connected() as peer:
        pattern = await peer.result("rpc.subscribe", {"topic": "kept.#", "rewind": 1})
        assert pattern == {"topic": "kept.#", "subscribed": True, "recovered": False, "publications": []}
        topic = fresh("plain")
        plain = await peer.result("rpc.subscribe", {"topic": topic, "since": {"offset": 1, "epoch": "e"}})
        assert plain == {"topic": topic, "subscribed": True, "recovered": False, "publications": []}
        await peer.result("rpc.publish", {"topic": topic, "data": 1})
        event = (await peer.notification())["params"]
        assert "offset" not in event and "epoch" not in event


async def test_a_pattern_subscriber_gets_offsets_too(topics: None) -> None:
    topic = fresh("kept")
    async with connected() as peer:
        await peer.result("rpc.subscribe", {"topic": "kept.*"})
        await apublish(topic, "x")
        event = (await peer.notification())["params"]
    assert event["subscription"] == "kept.*" and event["offset"] == 1


async def test_the_reply_comes_before_any_live_event_and_nothing_repeats_or_skips(topics: None) -> None:
    """Events published while a subscriber resubscribes with since: publications, then live, consecutive."""
    topic = fresh("kept.big")
    async with connected() as peer:
        start = await peer.result("rpc.subscribe", {"topic": topic})
        await peer.result("rpc.unsubscribe", {"topic": topic})
        stop = asyncio.Event()

        async def publish_on() -> int:
            n = 0
            while not stop.is_set():
                n += 1
                await apublish(topic, n)
                await asyncio.sleep(0.001)
            return n

        publisher = asyncio.ensure_future(publish_on())
        await asyncio.sleep(0.01)
        reply = await peer.call("rpc.subscribe", {"topic": topic, "since": {"offset": 0, "epoch": start["epoch"]}})
        assert not peer.notifications, "an event came before the reply to rpc.subscribe"
        assert reply["result"]["recovered"] is True and reply["result"]["publications"]
        await asyncio.sleep(0.05)
        stop.set()
        total = await publisher
        offsets = [p["offset"] for p in reply["result"]["publications"]]
        while len(offsets) < total:
            offsets.append((await peer.notification())["params"]["offset"])
        assert await peer.nothing_more()
    assert offsets == list(range(1, total + 1))


async def test_rpc_history_reads_without_subscribing(topics: None) -> None:
    topic = fresh("kept")
    for n in range(3):
        await apublish(topic, n)
    async with connected() as peer:
        last_two = await peer.result("rpc.history", {"topic": topic, "limit": 2})
        assert [p["data"] for p in last_two["publications"]] == [1, 2] and last_two["offset"] == 3
        since = {"offset": 1, "epoch": last_two["epoch"]}
        after = await peer.result("rpc.history", {"topic": topic, "since": since})
        assert after["recovered"] is True and [p["data"] for p in after["publications"]] == [1, 2]
        assert await peer.nothing_more(), "rpc.history subscribes to nothing"
        none = await peer.error("rpc.history", {"topic": fresh("plain")})
        assert none["code"] == -32004 and none["data"]["history"] is False
        denied = await peer.error("rpc.history", {"topic": "secret.topic"})
        assert denied["code"] == -32003
    assert (await ahistory(topic))["offset"] == 3


async def test_a_hole_in_the_events_is_filled_from_the_store(topics: None) -> None:
    """An event that reaches the process before the one before it waits; the missing one is read from the store."""
    topic = fresh("kept")
    async with connected() as peer:
        await peer.result("rpc.subscribe", {"topic": topic})
        hub = await get_hub()
        store = history_store()
        assert store is not None
        retention = Retention(5, 600)
        first = await store.append(topic, '"stored only"', retention)  # never sent on the layer
        second = await store.append(topic, '"sent"', retention)
        group = subscription_group(topic)
        (message,) = [m for m in event_messages(topic, b'"sent"', second.epoch, second.offset) if m["group"] == group]
        await hub.handle(message)
        assert await peer.nothing_more(0.05), "the early event waits for the one before it"
        events = await events_of(peer, 2)
    assert [(e["data"], e["offset"]) for e in events] == [("stored only", first.offset), ("sent", second.offset)]


async def test_what_the_store_lost_is_told_with_rpc_gap(topics: None) -> None:
    topic = fresh("kept")
    async with connected() as peer:
        subscribed = await peer.result("rpc.subscribe", {"topic": topic})
        hub = await get_hub()
        group = subscription_group(topic)
        (message,) = [m for m in event_messages(topic, b'"third"', subscribed["epoch"], 3) if m["group"] == group]
        await hub.handle(message)  # offsets 1 and 2 were never stored
        gap = await peer.notification()
        third = await peer.notification()
    assert gap == {
        "jsonrpc": "2.0",
        "method": "rpc.gap",
        "params": {"topic": topic, "epoch": subscribed["epoch"], "offset": 2, "missed": [1, 2]},
    }
    assert third["params"]["offset"] == 3


async def test_a_lost_store_starts_a_new_epoch_and_subscribers_are_told(topics: None) -> None:
    topic = fresh("kept")
    async with connected() as peer:
        subscribed = await peer.result("rpc.subscribe", {"topic": topic})
        await apublish(topic, "before")
        await peer.notification()
        store = history_store()
        assert isinstance(store, MemoryStore)
        store.forget()
        await apublish(topic, "after")
        gap = (await peer.notification())["params"]
        after = (await peer.notification())["params"]
    assert gap["epoch"] != subscribed["epoch"] and gap["offset"] == 0 and "missed" not in gap
    assert (after["data"], after["offset"], after["epoch"]) == ("after", 1, gap["epoch"])


def test_the_most_specific_row_decides() -> None:
    assert most_specific(["chat.#", "chat.lobby", "#"]) == "chat.lobby"
    assert most_specific(["chat.#", "chat.*", "#"]) == "chat.*"
    assert most_specific(["*.*.temp", "sensors.*.temp", "sensors.#"]) == "sensors.*.temp"
    assert most_specific(["a.#.c", "a.*.*"]) == "a.#.c", "more literal segments first"
    assert most_specific(["a.#", "a.*"]) == "a.*", "then fewer #"
    assert most_specific([]) is None


async def test_the_most_specific_row_sets_a_topics_history(topics: None) -> None:
    await database_sync_to_async(make_topic)("kept.off", history_size=0, **ANYONE)
    async with connected() as peer:
        off = await peer.result("rpc.subscribe", {"topic": "kept.off"})
    assert off == {"topic": "kept.off", "subscribed": True}
