"""A batch of group messages onto channels_redis' Redis in one or two round trips, as its layers write them.

``RedisPubSubChannelLayer.group_send`` is one ``PUBLISH`` of the serialized
message on the group's Redis channel, one at a time behind a lock per shard.
:class:`PubSubWire` runs the same ``PUBLISH`` commands, one per group with
what the batch holds for it, a whole batch in one script call per shard.

``RedisChannelLayer.group_send`` reads the group's channels (expiring old
members), then adds the message, serialized with the channels it is for in
``__asgi_channel__``, to each channel's sorted set within its capacity:
four round trips per group, and the receiving process reads each message
with four more. :class:`CoreWire` reads every group of a batch in one
pipeline, then gives each channel what the batch holds for it as one
message (a ``wsrpc.batch`` of them when there are several, see
:mod:`.messages`), all in one script per host: the receiving hub reads a
batch once. Scores grow by a microsecond per message, so batches reach a
channel in the order they were sent.

:func:`redis_wire_for` chooses one only for those exact classes, when they
have what this module uses of them (checked once, against channels_redis
4.x); anything else gets None, and the layer's own ``group_send``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, cast

from .messages import batch_message
from .wire import GroupMessage, GroupSender, Wire, by_group

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

__all__ = ["PubSubWire", "CoreWire", "redis_wire_for"]

logger = logging.getLogger("wsrpc")

#: What one message adds to a channel's score over the one before it, in seconds.
SCORE_STEP = 1e-6

# KEYS: Redis channels. ARGV: the message for each.
_PUBLISH = """
for i = 1, #KEYS do
  redis.call('PUBLISH', KEYS[i], ARGV[i])
end
"""

# KEYS: channel keys (one per message, repeats allowed). ARGV: the messages, their channels' capacities,
# the first score, the step, the keys' expiry, the score below which messages expired.
_ADD = """
local n = #KEYS
local first = tonumber(ARGV[2 * n + 1])
local step = tonumber(ARGV[2 * n + 2])
local expiry = ARGV[2 * n + 3]
local expired = ARGV[2 * n + 4]
local cleaned = {}
local over = 0
for i = 1, n do
  local key = KEYS[i]
  if not cleaned[key] then
    redis.call('ZREMRANGEBYSCORE', key, 0, expired)
    cleaned[key] = true
  end
  if redis.call('ZCOUNT', key, '-inf', '+inf') < tonumber(ARGV[n + i]) then
    redis.call('ZADD', key, first + (i - 1) * step, ARGV[i])
    redis.call('EXPIRE', key, expiry)
  else
    over = over + 1
  end
end
return over
"""


#: What one host is sent: channel keys, messages, capacities.
_Adds = tuple[list[str], list[bytes], list[int]]


class _Shard(Protocol):
    _redis: Redis

    def _ensure_redis(self) -> None: ...


class _PubSubLoopLayer(Protocol):
    def _get_group_channel_name(self, group: str) -> str: ...

    def _get_shard(self, name: str) -> _Shard: ...


class _PubSubLayer(Protocol):
    """What :class:`PubSubWire` uses of ``RedisPubSubChannelLayer``."""

    def serialize(self, message: Mapping[str, object]) -> bytes: ...

    def _get_layer(self) -> _PubSubLoopLayer: ...


class _CoreLayer(Protocol):
    """What :class:`CoreWire` uses of ``RedisChannelLayer``."""

    prefix: str
    expiry: int
    group_expiry: int

    def serialize(self, message: Mapping[str, object]) -> bytes: ...

    def connection(self, index: int) -> Redis: ...

    def consistent_hash(self, value: str) -> int: ...

    def non_local_name(self, name: str) -> str: ...

    def get_capacity(self, channel: str) -> int: ...

    def _group_key(self, group: str) -> bytes: ...


class PubSubWire:
    """``PUBLISH`` per group as ``RedisPubSubChannelLayer`` does, in one script call per shard and batch."""

    def __init__(self, layer: _PubSubLayer) -> None:
        self.layer = layer
        self._loop_layer = layer._get_layer()
        self._scripts: dict[int, tuple[Redis, AsyncScript]] = {}

    async def send(self, messages: Sequence[GroupMessage]) -> None:
        by_shard: dict[int, tuple[_Shard, list[tuple[str, bytes]]]] = {}
        for group, parts in by_group(messages).items():
            name = self._loop_layer._get_group_channel_name(group)
            shard = self._loop_layer._get_shard(name)
            by_shard.setdefault(id(shard), (shard, []))[1].append((name, self.layer.serialize(batch_message(parts))))
        await asyncio.gather(*(self._publish(shard, items) for shard, items in by_shard.values()))

    async def _publish(self, shard: _Shard, items: list[tuple[str, bytes]]) -> None:
        # The shard's own client: its connections are the layer's, closed with it.
        shard._ensure_redis()
        client = shard._redis
        cached = self._scripts.get(id(shard))
        if cached is None or cached[0] is not client:
            cached = self._scripts[id(shard)] = (client, client.register_script(_PUBLISH))
        await cached[1](keys=[name for name, _ in items], args=[payload for _, payload in items])


class CoreWire:
    """``RedisChannelLayer``'s group sends of a batch: one pipeline reading the groups, one script per host adding."""

    def __init__(self, layer: _CoreLayer) -> None:
        self.layer = layer
        self._scripts: dict[int, tuple[Redis, AsyncScript]] = {}
        self._last_score = 0.0

    async def send(self, messages: Sequence[GroupMessage]) -> None:
        layer = self.layer
        now = time.time()
        members = await self._members({group for group, _ in messages}, now)
        # What each channel gets, in the batch's order: one message, or one batch of them.
        received: dict[str, list[Mapping[str, object]]] = {}
        for group, message in messages:
            for channel in members[group]:
                received.setdefault(channel, []).append(message)
        # Per host: channel keys, messages and capacities.
        adds: dict[int, _Adds] = {}
        for channel, parts in received.items():
            body = {**batch_message(parts), "__asgi_channel__": [channel]}
            name = layer.non_local_name(channel)
            keys, payloads, capacities = adds.setdefault(layer.consistent_hash(name), ([], [], []))
            keys.append(layer.prefix + name)
            payloads.append(layer.serialize(body))
            capacities.append(layer.get_capacity(channel))
        if not adds:
            return
        first = max(now, self._last_score + SCORE_STEP)
        self._last_score = first + SCORE_STEP * sum(len(add[0]) for add in adds.values())
        over = await asyncio.gather(*(self._add(index, add, first, now) for index, add in adds.items()))
        if any(over):
            logger.info("%s messages dropped: their channels were over capacity", sum(over))

    async def _members(self, groups: set[str], now: float) -> dict[str, list[str]]:
        layer = self.layer
        by_index: dict[int, list[str]] = {}
        for group in groups:
            by_index.setdefault(layer.consistent_hash(group), []).append(group)
        found: dict[str, list[str]] = {}

        async def read(index: int, names: list[str]) -> None:
            client: Redis = layer.connection(index)
            async with client.pipeline(transaction=False) as pipe:
                for group in names:
                    key = layer._group_key(group)
                    pipe.zremrangebyscore(key, min=0, max=int(now) - layer.group_expiry)
                    pipe.zrange(key, 0, -1)
                replies = await pipe.execute()
            for group, channels in zip(names, replies[1::2], strict=True):
                found[group] = [channel.decode() for channel in channels]

        await asyncio.gather(*(read(index, names) for index, names in by_index.items()))
        return found

    async def _add(self, index: int, add: _Adds, first: float, now: float) -> int:
        keys, payloads, capacities = add
        client: Redis = self.layer.connection(index)
        cached = self._scripts.get(index)
        if cached is None or cached[0] is not client:
            # The layer makes new clients after flush(): a script belongs to one.
            cached = self._scripts[index] = (client, client.register_script(_ADD))
        expiry = int(self.layer.expiry)
        return int(
            await cached[1](keys=keys, args=[*payloads, *capacities, first, SCORE_STEP, expiry, int(now) - expiry])
        )


_PUBSUB_NEEDS = ("_get_group_channel_name", "_get_shard")
_SHARD_NEEDS = ("_redis", "_ensure_redis")
_CORE_NEEDS = (
    "_group_key",
    "connection",
    "consistent_hash",
    "non_local_name",
    "get_capacity",
    "serialize",
    "prefix",
    "expiry",
    "group_expiry",
)


def _has(thing: object, names: tuple[str, ...]) -> bool:
    return all(hasattr(thing, name) for name in names)


def redis_wire_for(layer: GroupSender) -> Wire | None:
    """A wire for ``layer`` if it is exactly one of channels_redis' layers, as this module knows them; else None."""
    from channels_redis.core import RedisChannelLayer
    from channels_redis.pubsub import RedisPubSubChannelLayer

    if type(layer) is RedisPubSubChannelLayer:
        pubsub = cast(_PubSubLayer, layer)
        loop_layer = pubsub._get_layer()
        shards = getattr(loop_layer, "_shards", None)
        if _has(loop_layer, _PUBSUB_NEEDS) and shards and _has(shards[0], _SHARD_NEEDS):
            return PubSubWire(pubsub)
    elif type(layer) is RedisChannelLayer and _has(layer, _CORE_NEEDS):
        return CoreWire(cast(_CoreLayer, layer))
    return None
