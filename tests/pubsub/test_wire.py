"""The channels_redis wires write what the layers' own ``group_send`` writes, and the layers' ``receive`` reads it.

Each test makes real layers on the live Redis, under a key prefix of its
own, joins channels to groups with the layer's API, sends a batch through
the wire, and reads it back with the layer's ``receive``, next to the same
messages sent with ``group_send``. The ``RedisChannelLayer`` wire may join
what a batch holds for one channel into one ``wsrpc.batch`` message; the
hub handles its parts one by one (``unbatched``), as the tests read them.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from channels.layers import InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer

from wsrpc_app.pubsub.messages import unbatched
from wsrpc_app.pubsub.redis_wire import CoreWire, PubSubWire
from wsrpc_app.pubsub.relay import Relay, wire_for
from wsrpc_app.pubsub.wire import LayerWire

KEY = base64.urlsafe_b64encode(b"k" * 32).decode()
WIRES = {RedisChannelLayer: CoreWire, RedisPubSubChannelLayer: PubSubWire}


def _hosts(redis_url: str, count: int) -> list[Any]:
    # Several "hosts" on one Redis: databases 0, 1, … shard the keys as separate servers would.
    base = redis_url.rsplit("/", 1)[0]
    return [f"{base}/{index}" for index in range(count)]


@pytest.fixture(params=[RedisChannelLayer, RedisPubSubChannelLayer], ids=["RedisChannelLayer", "RedisPubSubLayer"])
def layer_class(request: pytest.FixtureRequest) -> type:
    cls: type = request.param
    return cls


@pytest.fixture
async def make_layer(layer_class: type, redis_url: str) -> AsyncIterator[Any]:
    made: list[Any] = []

    def make(*, hosts: int = 1, **config: Any) -> Any:
        layer = layer_class(hosts=_hosts(redis_url, hosts), prefix=f"wsrpc-wire-{uuid.uuid4().hex[:10]}", **config)
        made.append(layer)
        return layer

    yield make
    for layer in made:
        await (layer.close_pools() if isinstance(layer, RedisChannelLayer) else layer.flush())


async def _joined(layer: Any, groups: dict[str, list[str]]) -> dict[str, str]:
    """New channels, by name, each joined to the groups ``groups`` lists for it; live once a probe gets through."""
    channels = {name: await layer.new_channel("wsrpc.") for name in groups}
    for name, names in groups.items():
        for group in names:
            await layer.group_add(group, channels[name])
    for name, channel in channels.items():
        probe = f"probe-{name}"
        await layer.group_add(probe, channel)
        await layer.group_send(probe, {"type": "probe"})
        assert await _receive(layer, channel) == {"type": "probe"}
        await layer.group_discard(probe, channel)
    return channels


async def _receive(layer: Any, channel: str, within: float = 5.0) -> Any:
    return await asyncio.wait_for(layer.receive(channel), within)


async def _receive_all(layer: Any, channel: str, count: int) -> list[Any]:
    """The next ``count`` messages on ``channel``, those of batches one by one, as the hub handles them."""
    parts: list[Any] = []
    while len(parts) < count:
        parts.extend(unbatched(await _receive(layer, channel)))
    assert len(parts) == count
    return parts


async def _silent(layer: Any, channel: str) -> bool:
    try:
        await asyncio.wait_for(layer.receive(channel), 0.3)
    except TimeoutError:
        return True
    return False


def _by_group(received: dict[str, list[Any]]) -> dict[str, dict[str, list[int]]]:
    """Each channel's offsets, by the group they came through."""
    found: dict[str, dict[str, list[int]]] = {}
    for name, messages in received.items():
        for message in messages:
            found.setdefault(name, {}).setdefault(message["group"], []).append(message["offset"])
    return found


def _message(n: int, group: str) -> dict[str, Any]:
    return {"type": "wsrpc.event", "group": group, "topic": "a.b", "data": f'{{"n":{n}}}'.encode(), "offset": n}


async def test_the_wire_is_chosen_for_exactly_the_known_layers(make_layer: Any, layer_class: type) -> None:
    layer = make_layer()
    assert type(wire_for(layer)) is WIRES[layer_class]

    subclass = type("Custom", (layer_class,), {})
    assert type(wire_for(subclass(hosts=layer.hosts if hasattr(layer, "hosts") else None))) is LayerWire


def test_other_layers_get_their_own_group_send() -> None:
    assert type(wire_for(InMemoryChannelLayer())) is LayerWire


@pytest.mark.parametrize("hosts", [1, 2])
async def test_a_batch_arrives_as_group_send_delivers_it(make_layer: Any, hosts: int) -> None:
    layer = make_layer(hosts=hosts)
    channels = await _joined(layer, {"first": ["g.one", "g.two"], "second": ["g.one"], "third": ["g.three"]})
    batch = [
        ("g.one", _message(1, "g.one")),
        ("g.two", _message(2, "g.two")),
        ("g.one", _message(3, "g.one")),
        ("g.nobody", _message(4, "g.nobody")),
    ]
    await wire_for(layer).send(batch)
    wired = {
        name: await _receive_all(layer, channel, 3 if name == "first" else 2)
        for name, channel in channels.items()
        if name != "third"
    }

    for group, message in batch:
        await layer.group_send(group, message)
    sent = {
        name: await _receive_all(layer, channel, 3 if name == "first" else 2)
        for name, channel in channels.items()
        if name != "third"
    }

    # Each group's messages arrive in order; what a batch holds for different groups may come in either
    # order (one message per group, or per channel; with two hosts, from different servers).
    assert _by_group(wired) == _by_group(sent)
    assert _by_group(wired) == {"first": {"g.one": [1, 3], "g.two": [2]}, "second": {"g.one": [1, 3]}}
    assert sorted(wired["first"], key=lambda message: message["offset"]) == [
        _message(1, "g.one"),
        _message(2, "g.two"),
        _message(3, "g.one"),
    ]
    assert await _silent(layer, channels["third"])


async def test_encrypted_layers_read_what_the_wire_wrote(make_layer: Any) -> None:
    layer = make_layer(symmetric_encryption_keys=[KEY])
    channels = await _joined(layer, {"only": ["secret"]})
    await wire_for(layer).send([("secret", _message(1, "secret"))])
    assert await _receive(layer, channels["only"]) == _message(1, "secret")


async def test_many_batches_reach_a_channel_in_the_order_they_were_sent(make_layer: Any) -> None:
    layer = make_layer(capacity=1000)
    channels = await _joined(layer, {"reader": ["odd", "even"]})
    relay = Relay(wire_for(layer))
    # 300 sends from as many tasks, in batches the relay makes: one channel, each group's in order.
    await asyncio.gather(
        *(relay.send([("odd" if n % 2 else "even", _message(n, "odd" if n % 2 else "even"))]) for n in range(300))
    )
    received = {"reader": await _receive_all(layer, channels["reader"], 300)}
    assert _by_group(received) == {"reader": {"even": list(range(0, 300, 2)), "odd": list(range(1, 300, 2))}}


async def test_a_full_channel_drops_what_group_send_would_drop(redis_url: str) -> None:
    layer = RedisChannelLayer(hosts=[redis_url], prefix=f"wsrpc-wire-{uuid.uuid4().hex[:10]}", capacity=3)
    wire = wire_for(layer)
    try:
        channels = await _joined(layer, {"slow": ["busy"]})
        # Five batches, each one message on the channel: the channel holds three.
        for n in range(5):
            await wire.send([("busy", _message(n, "busy"))])
        assert [message["offset"] for message in await _receive_all(layer, channels["slow"], 3)] == [0, 1, 2]
        assert await _silent(layer, channels["slow"])
    finally:
        await layer.close_pools()


async def test_the_layer_wire_keeps_each_groups_order(make_layer: Any) -> None:
    layer = make_layer()
    channels = await _joined(layer, {"reader": ["x", "y"]})
    await LayerWire(layer).send([("x" if n % 3 else "y", _message(n, "x" if n % 3 else "y")) for n in range(30)])
    received = {"reader": await _receive_all(layer, channels["reader"], 30)}
    assert _by_group(received) == {"reader": {"x": [n for n in range(30) if n % 3], "y": list(range(0, 30, 3))}}


async def test_a_batch_is_read_once_per_channel_on_redis_channel_layer(redis_url: str) -> None:
    """What one batch holds for a channel is one message there: one read however many publishes it carries."""
    layer = RedisChannelLayer(hosts=[redis_url], prefix=f"wsrpc-wire-{uuid.uuid4().hex[:10]}")
    try:
        channels = await _joined(layer, {"hub": ["a", "b"]})
        await wire_for(layer).send([("a" if n % 2 else "b", _message(n, "a" if n % 2 else "b")) for n in range(50)])
        received = await _receive(layer, channels["hub"])
        assert received["type"] == "wsrpc.batch"
        assert [part["offset"] for part in unbatched(received)] == list(range(50))
        assert await _silent(layer, channels["hub"])
    finally:
        await layer.close_pools()


@pytest.mark.parametrize(
    "message",
    [
        {"type": "wsrpc.batch"},
        {"type": "wsrpc.batch", "messages": "not a list"},
        {"type": "wsrpc.batch", "messages": [{"type": "wsrpc.ping"}, 3]},
    ],
)
def test_a_malformed_batch_carries_nothing(message: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    assert unbatched(message) == []
    assert "malformed channel layer batch" in caplog.text


def test_a_message_that_is_not_a_batch_carries_itself() -> None:
    ping = {"type": "wsrpc.ping"}
    assert unbatched(ping) == [ping]
