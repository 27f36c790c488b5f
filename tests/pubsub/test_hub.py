"""The hub: group names, fan-out to local subscribers, keeping memberships alive, surviving layer errors."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.test import override_settings

from tests.support.pubsub import event, wsrpc
from wsrpc_app.pubsub.hub import Hub
from wsrpc_app.pubsub.messages import ANY_GROUP, CONTROL_GROUP, publish_groups, subscription_group, user_group
from wsrpc_app.pubsub.publishing import abroadcast_control, anotify_user, apublish

# Publishing reads the Topic rows: a topic may keep history.
pytestmark = pytest.mark.django_db


class Recorder:
    """A subscriber that keeps what it is given."""

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self.revoked: list[tuple[str, str]] = []

    def deliver(self, frame: str) -> None:
        self.frames.append(json.loads(frame))

    async def revoke(self, name: str, reason: str) -> None:
        self.revoked.append((name, reason))


class FlakyLayer(InMemoryChannelLayer):  # type: ignore[misc]  # channels has no type hints
    """An in-memory layer whose next ``failures`` receives raise."""

    failures = 0

    async def receive(self, channel: str) -> dict[str, Any]:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("the layer went away")
        message: dict[str, Any] = await super().receive(channel)
        return message


class SwallowingLayer(InMemoryChannelLayer):  # type: ignore[misc]
    """An in-memory layer whose receive ignores the first cancellation, as asyncio.wait_for may on Python 3.11."""

    swallowed = 0

    async def receive(self, channel: str) -> dict[str, Any]:
        while True:
            try:
                message: dict[str, Any] = await super().receive(channel)
                return message
            except asyncio.CancelledError:
                if self.swallowed:
                    raise
                self.swallowed += 1


def layers(backend: str = "channels.layers.InMemoryChannelLayer", **config: Any) -> dict[str, Any]:
    return {"default": {"BACKEND": backend, "CONFIG": config}}


@pytest.fixture
def fresh_layer() -> Any:
    """A layer of this test's own, the one apublish uses."""
    with override_settings(CHANNEL_LAYERS=layers()):
        yield get_channel_layer()


@contextlib.asynccontextmanager
async def running(layer: Any) -> AsyncIterator[Hub]:
    hub = Hub(layer)
    await hub.start()
    try:
        yield hub
    finally:
        await hub.stop()


async def eventually(predicate: Callable[[], bool], timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def quiet(seconds: float = 0.15) -> None:
    """Give the hub time to deliver anything in flight."""
    await asyncio.sleep(seconds)


def valid_group(name: str) -> bool:
    return bool(InMemoryChannelLayer().require_valid_group_name(name))


# Group names --------------------------------------------------------------------


def test_subscription_groups() -> None:
    assert subscription_group("chat.lobby") == "wsrpc.t.chat.lobby"
    assert subscription_group("news") == "wsrpc.t.news"
    assert subscription_group("chat.*") == "wsrpc.p.chat"
    assert subscription_group("chat.#") == "wsrpc.p.chat"
    assert subscription_group("sensors.*.temp") == "wsrpc.p.sensors"
    assert subscription_group("#") == ANY_GROUP == "wsrpc.any"
    assert subscription_group("*.error") == ANY_GROUP
    assert subscription_group("#.error") == ANY_GROUP


def test_publish_groups_reach_every_subscription_that_can_match() -> None:
    assert publish_groups("chat.lobby") == ("wsrpc.t.chat.lobby", "wsrpc.p.chat", "wsrpc.any")
    assert publish_groups("news") == ("wsrpc.t.news", "wsrpc.p.news", "wsrpc.any")
    for name in ("chat.lobby", "chat.*", "chat.#", "#", "*.lobby", "#.lobby"):
        assert subscription_group(name) in publish_groups("chat.lobby"), name


def test_user_group() -> None:
    assert user_group("42") == "wsrpc.u.42"


def test_long_topics_are_hashed_under_100_characters() -> None:
    long_topic = ".".join(["segment"] * 25)  # 199 characters
    other = long_topic[:-1] + "X"
    group = subscription_group(long_topic)
    assert len(group) < 100
    assert group.startswith("wsrpc.h.")
    assert valid_group(group)
    assert group == publish_groups(long_topic)[0]  # both sides agree
    assert group != subscription_group(other)


def test_the_hashing_starts_exactly_past_99_characters() -> None:
    fits = "x" * (99 - len("wsrpc.t."))
    assert subscription_group(fits) == f"wsrpc.t.{fits}"
    assert valid_group(subscription_group(fits))
    assert subscription_group(fits + "x").startswith("wsrpc.h.")


def test_a_long_first_segment_of_a_pattern_is_hashed_alike() -> None:
    first = "s" * 150
    group = subscription_group(f"{first}.*")
    assert group.startswith("wsrpc.h.")
    assert valid_group(group)
    assert group == publish_groups(f"{first}.kitchen")[1]
    assert all(valid_group(name) for name in publish_groups(f"{first}.kitchen"))


def test_a_long_user_key_is_hashed() -> None:
    group = user_group("u" * 120)
    assert len(group) < 100
    assert valid_group(group)


# Fan-out ------------------------------------------------------------------------


async def test_one_frame_per_matching_subscription(fresh_layer: Any) -> None:
    exact, pattern, both, unrelated = Recorder(), Recorder(), Recorder(), Recorder()
    async with running(fresh_layer) as hub:
        await hub.subscribe(exact, "chat.lobby")
        await hub.subscribe(pattern, "chat.*")
        await hub.subscribe(both, "chat.lobby")
        await hub.subscribe(both, "#")
        await hub.subscribe(unrelated, "chat.lobby.*")  # same group as chat.*, does not match
        await hub.subscribe(unrelated, "news")
        await apublish("chat.lobby", {"n": 1})
        assert await eventually(lambda: len(both.frames) == 2)
        await quiet()
    assert exact.frames == [event("chat.lobby", {"n": 1})]
    assert pattern.frames == [event("chat.lobby", {"n": 1}, subscription="chat.*")]
    assert sorted(both.frames, key=str) == sorted(
        [event("chat.lobby", {"n": 1}), event("chat.lobby", {"n": 1}, subscription="#")], key=str
    )
    assert unrelated.frames == []


async def test_long_topics_are_delivered(fresh_layer: Any) -> None:
    long_topic = ".".join(["segment"] * 25)
    first = "s" * 150
    recorder = Recorder()
    async with running(fresh_layer) as hub:
        await hub.subscribe(recorder, long_topic)
        await hub.subscribe(recorder, f"{first}.*")
        await apublish(long_topic, 1)
        await apublish(f"{first}.kitchen", 2)
        assert await eventually(lambda: len(recorder.frames) == 2)
    assert recorder.frames == [event(long_topic, 1), event(f"{first}.kitchen", 2, subscription=f"{first}.*")]


async def test_subscribing_twice_and_unsubscribing_unknown(fresh_layer: Any) -> None:
    recorder = Recorder()
    async with running(fresh_layer) as hub:
        assert await hub.subscribe(recorder, "news") is True
        assert await hub.subscribe(recorder, "news") is False
        assert await hub.unsubscribe(recorder, "chat.lobby") is False
        assert await hub.unsubscribe(Recorder(), "news") is False
        assert list(hub.names_of(recorder)) == ["news"]
        await apublish("news", 1)
        assert await eventually(lambda: len(recorder.frames) == 1)
        await quiet()
        assert len(recorder.frames) == 1


async def test_the_last_subscriber_leaving_leaves_the_group(fresh_layer: Any) -> None:
    first, second = Recorder(), Recorder()
    async with running(fresh_layer) as hub:
        await hub.subscribe(first, "chat.*")
        await hub.subscribe(second, "chat.#")
        assert hub.channel in fresh_layer.groups["wsrpc.p.chat"]
        await hub.unsubscribe(first, "chat.*")
        assert hub.channel in fresh_layer.groups["wsrpc.p.chat"]  # chat.# still listens there
        await hub.unsubscribe(second, "chat.#")
        assert "wsrpc.p.chat" not in fresh_layer.groups
        assert hub.routes.topics == {}
        await apublish("chat.x", 1)
        await quiet()
    assert first.frames == second.frames == []


async def test_user_routes(fresh_layer: Any) -> None:
    phone, laptop, stranger = Recorder(), Recorder(), Recorder()
    async with running(fresh_layer) as hub:
        await hub.join_user(phone, "7")
        await hub.join_user(laptop, "7")
        await hub.join_user(stranger, "8")
        await anotify_user(7, "hello", 1)
        assert await eventually(lambda: len(phone.frames) == len(laptop.frames) == 1)
        await hub.leave_user(phone, "7")
        await hub.leave_user(phone, "7")  # twice is harmless
        await anotify_user(7, "again")
        assert await eventually(lambda: len(laptop.frames) == 2)
        await hub.leave_user(laptop, "7")
        assert user_group("7") not in fresh_layer.groups
        await quiet()
    assert phone.frames == [{"jsonrpc": "2.0", "method": "hello", "params": [1]}]
    assert laptop.frames == [phone.frames[0], {"jsonrpc": "2.0", "method": "again"}]
    assert stranger.frames == []


async def test_control_messages_reach_the_handlers(fresh_layer: Any) -> None:
    seen: list[tuple[Hub, dict[str, Any]]] = []

    async def handler(hub: Hub, message: dict[str, Any]) -> None:
        seen.append((hub, message))

    async with running(fresh_layer) as hub:
        assert hub.channel in fresh_layer.groups[CONTROL_GROUP]
        hub.control_handlers.append(handler)
        await abroadcast_control("permissions")
        assert await eventually(lambda: len(seen) == 1)
    assert seen[0][0] is hub
    assert seen[0][1]["what"] == "permissions"


async def test_stop_ends_the_tasks(fresh_layer: Any) -> None:
    hub = Hub(fresh_layer)
    await hub.start()
    tasks = list(hub.tasks)
    assert len(tasks) == 2 and not any(task.done() for task in tasks)
    await hub.stop()
    assert all(task.cancelled() for task in tasks)


async def test_stop_ends_a_reader_that_swallowed_a_cancellation() -> None:
    layer = SwallowingLayer()
    hub = Hub(layer)
    await hub.start()
    await asyncio.sleep(0.05)  # the reader waits in receive()
    tasks = list(hub.tasks)
    await asyncio.wait_for(hub.stop(), 3)
    assert layer.swallowed == 1
    assert all(task.done() for task in tasks)


# Keeping memberships alive ------------------------------------------------------


@pytest.mark.parametrize(("refresh", "survives"), [(0.2, True), (60, False)])
async def test_memberships_outlive_group_expiry_when_refreshed(refresh: float, survives: bool) -> None:
    recorder = Recorder()
    seen: list[dict[str, Any]] = []

    async def handler(hub: Hub, message: dict[str, Any]) -> None:
        seen.append(message)

    with override_settings(CHANNEL_LAYERS=layers(group_expiry=1), WSRPC=wsrpc(GROUP_REFRESH_INTERVAL=refresh)):
        async with running(get_channel_layer()) as hub:
            hub.control_handlers.append(handler)
            await hub.subscribe(recorder, "news")
            await hub.subscribe(recorder, "chat.#")
            await hub.join_user(recorder, "7")
            await asyncio.sleep(2.6)  # the layer forgets members older than 1 s (counted in whole seconds)
            await apublish("news", 1)
            await apublish("chat.x", 2)
            await anotify_user(7, "hi")
            await abroadcast_control("permissions")
            await quiet(0.3)
    if survives:
        assert sorted(recorder.frames, key=str) == sorted(
            [event("news", 1), event("chat.x", 2, subscription="chat.#"), {"jsonrpc": "2.0", "method": "hi"}],
            key=str,
        )
        assert len(seen) == 1
    else:  # the control: without refreshing, the layer did drop them
        assert recorder.frames == []
        assert seen == []


@pytest.mark.parametrize(
    ("configured", "expiry", "expected"),
    [(None, 86400, 3600.0), (None, 3, 1.0), (None, 1, 0.5), (7, 86400, 7.0), (0.25, 1, 0.25)],
)
def test_refresh_interval(configured: float | None, expiry: int, expected: float) -> None:
    with override_settings(WSRPC=wsrpc(GROUP_REFRESH_INTERVAL=configured)):
        assert Hub(InMemoryChannelLayer(group_expiry=expiry)).refresh_interval() == expected


def test_refresh_interval_of_a_layer_without_group_expiry() -> None:
    class NoExpiry:
        pass

    with override_settings(WSRPC=wsrpc(GROUP_REFRESH_INTERVAL=None)):
        assert Hub(NoExpiry()).refresh_interval() == 3600.0


# Robustness -----------------------------------------------------------------------


async def test_the_reader_survives_a_layer_error(caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder()
    with override_settings(CHANNEL_LAYERS=layers("tests.pubsub.test_hub.FlakyLayer")):
        layer = get_channel_layer()
        assert isinstance(layer, FlakyLayer)
        layer.failures = 2
        with caplog.at_level(logging.ERROR, logger="wsrpc"):
            async with running(layer) as hub:
                await hub.subscribe(recorder, "news")
                assert await eventually(lambda: layer.failures == 0)
                await apublish("news", 1)
                await apublish("news", 2)
                assert await eventually(lambda: len(recorder.frames) == 2)
    assert recorder.frames == [event("news", 1), event("news", 2)]
    failures = [r for r in caplog.records if "channel layer receive failed" in r.getMessage()]
    assert len(failures) == 2


async def test_a_message_that_cannot_be_handled_does_not_stop_the_reader(
    fresh_layer: Any, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder()
    with caplog.at_level(logging.ERROR, logger="wsrpc"):
        async with running(fresh_layer) as hub:
            await hub.subscribe(recorder, "news")
            await fresh_layer.send(hub.channel, {"type": "wsrpc.event", "group": "wsrpc.t.news"})  # no topic
            await apublish("news", 1)
            assert await eventually(lambda: len(recorder.frames) == 1)
    assert recorder.frames == [event("news", 1)]
    assert any("could not handle" in record.getMessage() for record in caplog.records)


async def test_unknown_message_types_are_ignored(fresh_layer: Any, caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder()
    with caplog.at_level(logging.WARNING, logger="wsrpc"):
        async with running(fresh_layer) as hub:
            await hub.subscribe(recorder, "news")
            await fresh_layer.send(hub.channel, {"type": "something.else", "topic": "news", "data": b"1"})
            await hub.handle({"type": "another.kind"})
            await apublish("news", 2)
            assert await eventually(lambda: len(recorder.frames) == 1)
            await quiet()
    assert recorder.frames == [event("news", 2)]
    ignored = [r for r in caplog.records if "unknown type" in r.getMessage()]
    assert len(ignored) == 2
