"""publish() and notify_user() from plain sync code on the real Redis layers, and the wsrpc_publish command."""

from __future__ import annotations

import asyncio
import contextlib
import io
import ipaddress
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from channels.layers import get_channel_layer
from django.core.management import CommandError, call_command
from django.test import override_settings

from tests.support.pubsub import event
from wsrpc_app.errors import NoSuchTopic
from wsrpc_app.pubsub import publishing
from wsrpc_app.pubsub.hub import Hub
from wsrpc_app.pubsub.publishing import notify_user, publish

CORE = "channels_redis.core.RedisChannelLayer"
PUBSUB = "channels_redis.pubsub.RedisPubSubChannelLayer"

# Publishing reads the Topic rows: a topic may keep history.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=[CORE, PUBSUB], ids=["RedisChannelLayer", "RedisPubSubChannelLayer"])
def redis_layer(request: pytest.FixtureRequest, redis_url: str) -> Iterator[Any]:
    """CHANNEL_LAYERS on the live Redis, under a key prefix of this test's own."""
    # RedisChannelLayer's blocking read lasts 5 s: a host socket timeout above it keeps an idle
    # listener from timing out and opening a new connection mid-count (as tests/settings.py does).
    host: Any = {"address": redis_url, "socket_timeout": 15} if request.param == CORE else redis_url
    config = {"hosts": [host], "prefix": f"wsrpc-unit-{uuid.uuid4().hex[:12]}"}
    with override_settings(CHANNEL_LAYERS={"default": {"BACKEND": request.param, "CONFIG": config}}):
        layer = get_channel_layer()
        try:
            yield layer
        finally:
            # Close what publish() opened on its background loop, so no
            # connection of this layer outlives the test.
            publishing._background.run(layer.close_pools() if request.param == CORE else layer.flush())


class Listener:
    """A hub on an event loop of its own, in a thread: another process's server, as far as Redis can tell."""

    def __init__(self, names: list[str], user_keys: tuple[str, ...] = ()) -> None:
        self.names = names
        self.user_keys = user_keys
        self.frames: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self._ready = threading.Event()
        self._failed: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="test-listener", daemon=True)

    # The subscriber side of the hub
    def deliver(self, frame: str) -> None:
        with self._changed:
            self.frames.append(json.loads(frame))
            self._changed.notify_all()

    async def revoke(self, name: str, reason: str) -> None:
        raise AssertionError("nothing is revoked here")

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the test by __enter__
            self._failed = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        hub = Hub(get_channel_layer())
        await hub.start()
        try:
            for name in self.names:
                await hub.subscribe(self, name)
            for key in self.user_keys:
                await hub.join_user(self, key)
            self._ready.set()
            await self._stop.wait()
        finally:
            await hub.stop()

    def __enter__(self) -> Listener:
        self._thread.start()
        assert self._ready.wait(10), "the listener did not start"
        if self._failed is not None:
            raise self._failed
        return self

    def __exit__(self, *exc_info: Any) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        assert not self._thread.is_alive()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        with self._changed:
            self._changed.wait_for(lambda: len(self.frames) >= count, timeout)
            return list(self.frames)

    def take(self) -> list[dict[str, Any]]:
        with self._changed:
            frames, self.frames = self.frames, []
            return frames

    def until_live(self, topic: str) -> None:
        """Publish until an event arrives: Redis may take a moment to apply a pub/sub subscription."""
        deadline = time.monotonic() + 10
        while not self.wait_for(1, timeout=0.2):
            assert time.monotonic() < deadline, "no event ever arrived"
            publish(topic, "warm-up")
        time.sleep(0.2)  # let the surplus warm-ups arrive before they are dropped
        self.take()


def our_redis_clients(redis_url: str) -> int:
    """The clients Redis lists (CLIENT LIST) that are connections of this process."""
    local = _local_addresses()
    client = redis.Redis.from_url(redis_url)
    try:
        me = client.client_id()
        return sum(1 for entry in client.client_list() if entry["addr"] in local and int(entry["id"]) != me)
    finally:
        client.close()


def _local_addresses() -> set[str]:
    """``ip:port`` of every TCP socket this process holds open (Linux /proc)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    addresses = set()
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                if fields[9] in inodes:
                    addresses.add(_address(fields[1]))
    return addresses


def _address(hex_address: str) -> str:
    host, port = hex_address.split(":")
    raw = bytes.fromhex(host)
    # /proc writes each 32-bit word in host (little-endian) order.
    packed = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    ip = ipaddress.ip_address(packed)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return f"{ip}:{int(port, 16)}"


def data_of(frames: list[dict[str, Any]]) -> list[Any]:
    return [frame["params"]["data"] for frame in frames]


# publish() from plain sync code -------------------------------------------------


def test_publish_from_sync_code_reaches_another_loop(redis_layer: Any) -> None:
    with Listener(["sensors.kitchen.temp", "sensors.#"]) as listener:
        listener.until_live("sensors.kitchen.temp")
        publish("sensors.kitchen.temp", {"celsius": 21.5})
        frames = listener.wait_for(2)
    assert sorted(frames, key=str) == sorted(
        [
            event("sensors.kitchen.temp", {"celsius": 21.5}),
            event("sensors.kitchen.temp", {"celsius": 21.5}, subscription="sensors.#"),
        ],
        key=str,
    )


def test_many_publish_calls_keep_threads_and_redis_connections_bounded(redis_layer: Any, redis_url: str) -> None:
    with Listener(["load.test"]) as listener:
        listener.until_live("load.test")
        for i in range(20):  # the pools reach their working size
            publish("load.test", i)
        assert data_of(listener.wait_for(20)) == list(range(20))
        listener.take()
        threads = threading.active_count()
        clients = our_redis_clients(redis_url)
        assert clients > 0  # the count does see this process's connections
        samples = []
        for i in range(200):
            publish("load.test", i)
            if i % 50 == 49:
                samples.append((threading.active_count(), our_redis_clients(redis_url)))
        frames = listener.wait_for(200)
    assert data_of(frames) == list(range(200))  # all of them, in order
    # Bounded, not one per call: after warming up, the thread pools may start one
    # more worker once, and then hold steady for the rest of the 200 calls.
    counts = [count for count, _ in samples]
    assert max(counts) <= threads + 1 and counts[-1] == counts[0], (threads, samples)
    # Bounded, not one per call: 200 publishes may see the pools open one more
    # connection (a reader replacing a timed-out one), never more.
    assert all(count <= clients + 1 for _, count in samples), (clients, samples)


def test_notify_user_from_sync_code(redis_layer: Any) -> None:
    with Listener(["warm.up"], user_keys=("42",)) as listener:
        listener.until_live("warm.up")
        notify_user(42, "inbox.new", count=3)
        assert listener.wait_for(1) == [{"jsonrpc": "2.0", "method": "inbox.new", "params": {"count": 3}}]


def test_publish_refuses_bad_input_before_sending(redis_layer: Any) -> None:
    with Listener(["news"]) as listener:
        listener.until_live("news")
        with pytest.raises(NoSuchTopic):
            publish("news.*", 1)
        with pytest.raises(TypeError):
            publish("news", object())
        publish("news", "after")
        assert data_of(listener.wait_for(1)) == ["after"]
        time.sleep(0.2)
        assert data_of(listener.take()) == ["after"]


async def test_publish_inside_a_running_loop_says_to_use_apublish() -> None:
    with pytest.raises(RuntimeError, match=r"use await apublish\(\)"):
        publish("news", 1)
    with pytest.raises(RuntimeError, match=r"use await anotify_user\(\)"):
        notify_user(1, "hello")


# manage.py wsrpc_publish ----------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "data"),
    [
        (["news", '{"text": "hi", "n": [1, 2]}'], {"text": "hi", "n": [1, 2]}),
        (["news", "hello"], "hello"),  # a bare word is a string
        (["news", "42"], 42),
        (["news"], None),
    ],
)
def test_the_command_publishes(redis_layer: Any, args: list[str], data: Any) -> None:
    out = io.StringIO()
    with Listener(["news"]) as listener:
        listener.until_live("news")
        call_command("wsrpc_publish", *args, stdout=out)
        assert listener.wait_for(1) == [event("news", data)]
    assert out.getvalue() == "published to news\n"


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        ("news.*", "wildcard '*' is not allowed here: publish to a concrete topic"),
        ("chat..lobby", "empty segment (two dots in a row, or a dot at an end)"),
        ("", "a topic cannot be empty"),
        ("news!", "segment 'news!' may hold only letters, digits, '-' and '_'"),
    ],
)
def test_the_command_refuses_an_invalid_topic(topic: str, reason: str) -> None:
    with pytest.raises(CommandError) as caught:
        call_command("wsrpc_publish", topic, "1")
    assert str(caught.value) == f"Invalid topic name: {reason}"
