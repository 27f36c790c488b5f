"""Topic history in Redis: one stream per topic, offsets given out atomically by a script.

Each topic that keeps history has two keys, sharded by topic over the
Redis hosts (those of the channel layer unless ``HISTORY_HOSTS`` names
others):

- ``<prefix>:wsrpc:{<topic>}:m``, a hash: the topic's ``epoch`` and last
  ``offset``; it outlives quiet spells (``META_TTL``), so offsets go on
  where they stopped;
- ``<prefix>:wsrpc:{<topic>}:s``, a stream whose entry ids are
  ``<offset>-1``, trimmed to about ``history_size`` entries and expiring
  ``history_ttl`` seconds after the last append.

A script appends and numbers an event in one step, so offsets have no hole
and no repeat whichever process publishes. When Redis loses the hash
(restarted empty, flushed, expired), the next read or append starts a new
epoch. Times come from Redis' clock, so every process ages entries alike.
"""

from __future__ import annotations

import binascii
import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ..acl.rules import Retention
from .batching import Batcher
from .stream import Entry, Position, new_epoch

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

__all__ = ["RedisStore", "META_TTL"]

#: Appends a shard holds while Redis is busy; one more is refused as overload.
MAX_APPENDS = 10_000
#: Seconds a batch of appends may take before its publishes are told the store did not answer.
APPEND_TIMEOUT = 5.0

#: An append: topic, data, retention.
_Append = tuple[str, str, Retention]

#: How long a quiet topic keeps its epoch and offset: a week.
META_TTL = 7 * 24 * 3600

# KEYS: meta, stream. ARGV: a new epoch, max length, stream ttl, meta ttl, data.
_APPEND = """
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'e', epoch, 'o', 0)
end
local offset = redis.call('HINCRBY', KEYS[1], 'o', 1)
local now = redis.call('TIME')
local stamp = now[1] .. '.' .. string.format('%06d', now[2])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], offset .. '-1', 't', stamp, 'd', ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return {epoch, offset}
"""

# KEYS: meta, stream. ARGV: a new epoch, after ('' for the newest), count, meta ttl.
_READ = """
local epoch = redis.call('HGET', KEYS[1], 'e')
local offset = 0
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'e', epoch, 'o', 0)
  redis.call('EXPIRE', KEYS[1], ARGV[4])
else
  offset = tonumber(redis.call('HGET', KEYS[1], 'o'))
end
local now = redis.call('TIME')
local count = tonumber(ARGV[3])
local entries = {}
if count > 0 then
  if ARGV[2] == '' then
    entries = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', count)
  else
    entries = redis.call('XRANGE', KEYS[2], '(' .. ARGV[2] .. '-1', '+', 'COUNT', count)
  end
end
return {epoch, offset, now[1] .. '.' .. string.format('%06d', now[2]), entries}
"""


class RedisStore:
    """History on Redis hosts given in channels_redis' ``hosts`` format, under ``prefix``.

    Connections belong to the event loop that first uses the store: make
    one store per loop (:func:`wsrpc_app.pubsub.process.history_store` does).
    """

    def __init__(self, hosts: Sequence[Mapping[str, object]], prefix: str) -> None:
        from channels_redis.utils import create_pool
        from redis.asyncio import Redis

        self.prefix = prefix
        self._clients: list[Redis] = [Redis(connection_pool=create_pool(dict(host))) for host in hosts]
        self._appends = [
            Batcher(functools.partial(self._append_batch, shard), limit=MAX_APPENDS, timeout=APPEND_TIMEOUT)
            for shard in range(len(self._clients))
        ]
        self._read: list[AsyncScript] = [client.register_script(_READ) for client in self._clients]

    def _shard(self, topic: str) -> int:
        if len(self._clients) == 1:
            return 0
        return binascii.crc32(topic.encode()) % len(self._clients)

    def _keys(self, topic: str) -> list[str]:
        base = f"{self.prefix}:wsrpc:{{{topic}}}"
        return [f"{base}:m", f"{base}:s"]

    async def append(self, topic: str, data: str, retention: Retention) -> Position:
        """Store ``data`` as ``topic``'s next event; appends made meanwhile on this loop share one round trip."""
        return await self._appends[self._shard(topic)].submit((topic, data, retention))

    async def _append_batch(self, shard: int, items: list[_Append]) -> list[Position]:
        # EVAL, not EVALSHA: a pipeline of scripts would first ask whether Redis knows them.
        async with self._clients[shard].pipeline(transaction=False) as pipe:
            for topic, data, retention in items:
                meta_ttl = max(META_TTL, retention.ttl)
                pipe.eval(_APPEND, 2, *self._keys(topic), new_epoch(), retention.size, retention.ttl, meta_ttl, data)
            replies = await pipe.execute()
        return [Position(_text(epoch), int(offset)) for epoch, offset in replies]

    async def read(
        self, topic: str, retention: Retention, *, after: int | None, count: int
    ) -> tuple[Position, list[Entry], float]:
        from redis.exceptions import ConnectionError

        script = self._read[self._shard(topic)]
        args = [new_epoch(), "" if after is None else after, count, max(META_TTL, retention.ttl)]
        try:
            epoch, offset, now, raw = await script(keys=self._keys(topic), args=args)
        except ConnectionError:
            # A pooled connection Redis dropped fails once; reading again is harmless.
            epoch, offset, now, raw = await script(keys=self._keys(topic), args=args)
        entries = [_entry(item) for item in raw]
        if after is None:
            entries.reverse()
        return Position(_text(epoch), int(offset)), entries, float(_text(now))

    async def positions(self, topics: list[str]) -> dict[str, Position | None]:
        from redis.exceptions import ConnectionError

        by_shard: dict[int, list[str]] = {}
        for topic in topics:
            by_shard.setdefault(self._shard(topic), []).append(topic)
        found: dict[str, Position | None] = {}
        for shard, names in by_shard.items():
            try:
                metas = await self._hmget_all(shard, names)
            except ConnectionError:
                metas = await self._hmget_all(shard, names)
            for topic, (epoch, offset) in zip(names, metas, strict=True):
                found[topic] = (
                    Position(_text(epoch), int(_text(offset))) if epoch is not None and offset is not None else None
                )
        return found

    async def _hmget_all(self, shard: int, topics: list[str]) -> list[tuple[object, object]]:
        pipeline = self._clients[shard].pipeline(transaction=False)
        for topic in topics:
            pipeline.hmget(self._keys(topic)[0], ["e", "o"])
        metas: list[tuple[object, object]] = await pipeline.execute()
        return metas

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose(close_connection_pool=True)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entry(item: Sequence[object]) -> Entry:
    entry_id, fields = item
    assert isinstance(fields, Sequence)
    values = dict(zip(fields[::2], fields[1::2], strict=True))
    return Entry(int(_text(entry_id).split("-", 1)[0]), float(_text(values[b"t"])), _text(values[b"d"]))
