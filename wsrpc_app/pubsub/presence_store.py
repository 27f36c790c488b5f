"""Where presence is kept: which processes live, and the entries of each topic's subscribers.

A process's hub says it lives every third of ``PRESENCE_TTL`` (a
heartbeat); a process not heard from for ``PRESENCE_TTL`` seconds is dead,
and the entries of its connections (their ids start with its marker, see
:mod:`~wsrpc_app.pubsub.targets`) are left out of every read, and deleted by
it. So a process killed without cleaning up disappears from presence within
``PRESENCE_TTL`` seconds; one that stops cleanly removes its entries as its
connections close.

On Redis, under the channel layer's key prefix (times from Redis' clock):

- ``<prefix>:wsrpc:procs``, a sorted set: each process's marker, scored by
  the time its last heartbeat expires; on every host;
- ``<prefix>:wsrpc:{<topic>}:p``, a hash: connection id -> entry JSON,
  expiring ``PRESENCE_TTL`` after the last heartbeat of a process with a
  subscriber there; sharded by topic like the history.

:class:`MemoryPresence` keeps the same in this process, for
``InMemoryChannelLayer``.
"""

from __future__ import annotations

import asyncio
import binascii
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from .roster import live

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

__all__ = ["PresenceStore", "MemoryPresence", "RedisPresence"]


class PresenceStore(Protocol):
    """The living processes and the presence entries of topics."""

    async def heartbeat(self, marker: str, ttl: float) -> bool:
        """The process ``marker`` lives for ``ttl`` more seconds; True when the store did not know it (any more)."""

    async def retire(self, marker: str) -> None:
        """The process ``marker`` stopped."""

    async def processes(self) -> list[str]:
        """The markers of the living processes."""

    async def add(self, topic: str, entries: Mapping[str, str], ttl: float) -> None:
        """Keep these entries (connection id -> entry JSON) of ``topic``."""

    async def remove(self, topic: str, connection: str) -> None:
        """Forget the entry of ``connection`` in ``topic``."""

    async def touch(self, topics: Sequence[str], ttl: float) -> None:
        """The topics still have subscribers here: keep their entries ``ttl`` more seconds."""

    async def members(self, topic: str) -> list[str]:
        """The entries of ``topic`` whose processes live, as JSON texts."""


class MemoryPresence:
    """Presence in this process's memory; safe from several threads.

    Its "processes" are the hubs of this process's event loops: a hub whose
    loop closed is gone at once, whatever its last heartbeat (tests run one
    loop after another).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._processes: dict[str, float] = {}
        self._loops: dict[str, weakref.ref[asyncio.AbstractEventLoop]] = {}
        self._topics: dict[str, dict[str, str]] = {}

    async def heartbeat(self, marker: str, ttl: float) -> bool:
        loop = weakref.ref(asyncio.get_running_loop())
        with self._lock:
            now = time.monotonic()
            new = self._processes.get(marker, 0.0) < now
            self._processes[marker] = now + ttl
            self._loops[marker] = loop
            return new

    async def retire(self, marker: str) -> None:
        with self._lock:
            self._processes.pop(marker, None)
            self._loops.pop(marker, None)

    async def processes(self) -> list[str]:
        with self._lock:
            return self._living()

    def _living(self) -> list[str]:
        now = time.monotonic()
        for marker, until in list(self._processes.items()):
            loop = self._loops[marker]()
            if loop is None or loop.is_closed() or until < now:
                del self._processes[marker], self._loops[marker]
        return sorted(self._processes)

    async def add(self, topic: str, entries: Mapping[str, str], ttl: float) -> None:
        with self._lock:
            self._topics.setdefault(topic, {}).update(entries)

    async def remove(self, topic: str, connection: str) -> None:
        with self._lock:
            entries = self._topics.get(topic)
            if entries is not None:
                entries.pop(connection, None)
                if not entries:
                    del self._topics[topic]

    async def touch(self, topics: Sequence[str], ttl: float) -> None:
        pass  # nothing expires here but processes

    async def members(self, topic: str) -> list[str]:
        with self._lock:
            entries = self._topics.get(topic, {})
            kept, dead = live(entries, self._living())
            for connection in dead:
                del entries[connection]
            return kept


# KEYS: procs. ARGV: marker, ttl. Whether the marker was new.
_HEARTBEAT = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local known = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], string.format('%.6f', t + tonumber(ARGV[2])), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.6f', t - 86400))
redis.call('EXPIRE', KEYS[1], 86400)
if known and tonumber(known) >= t then return 0 end
return 1
"""

# KEYS: procs.
_PROCESSES = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
return redis.call('ZRANGEBYSCORE', KEYS[1], string.format('%.6f', t), '+inf')
"""

# KEYS: topic hash, procs. The entries of living processes; the others' are deleted.
_MEMBERS = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local alive = {}
for _, marker in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], string.format('%.6f', t), '+inf')) do
  alive[marker] = true
end
local all = redis.call('HGETALL', KEYS[1])
local kept, dead = {}, {}
for i = 1, #all, 2 do
  local marker = string.match(all[i], '^([^.]+)')
  if marker and alive[marker] then kept[#kept + 1] = all[i + 1] else dead[#dead + 1] = all[i] end
end
for i = 1, #dead, 1000 do
  redis.call('HDEL', KEYS[1], unpack(dead, i, math.min(i + 999, #dead)))
end
return kept
"""


class RedisPresence:
    """Presence on Redis hosts given in channels_redis' ``hosts`` format, under ``prefix``.

    Connections belong to the event loop that first uses the store, as for
    :class:`~wsrpc_app.pubsub.redis_store.RedisStore`.
    """

    def __init__(self, hosts: Sequence[Mapping[str, object]], prefix: str) -> None:
        from channels_redis.utils import create_pool
        from redis.asyncio import Redis

        self._procs = f"{prefix}:wsrpc:procs"
        self._prefix = prefix
        self._clients: list[Redis] = [Redis(connection_pool=create_pool(dict(host))) for host in hosts]
        self._heartbeat: list[AsyncScript] = [client.register_script(_HEARTBEAT) for client in self._clients]
        self._processes = self._clients[0].register_script(_PROCESSES)
        self._members: list[AsyncScript] = [client.register_script(_MEMBERS) for client in self._clients]

    def _shard(self, topic: str) -> int:
        return binascii.crc32(topic.encode()) % len(self._clients) if len(self._clients) > 1 else 0

    def _key(self, topic: str) -> str:
        return f"{self._prefix}:wsrpc:{{{topic}}}:p"

    async def heartbeat(self, marker: str, ttl: float) -> bool:
        new = False
        for script in self._heartbeat:
            new = bool(await script(keys=[self._procs], args=[marker, ttl])) or new
        return new

    async def retire(self, marker: str) -> None:
        for client in self._clients:
            await client.zrem(self._procs, marker)

    async def processes(self) -> list[str]:
        markers = await self._processes(keys=[self._procs])
        return sorted(_text(marker) for marker in markers)

    async def add(self, topic: str, entries: Mapping[str, str], ttl: float) -> None:
        pipeline = self._clients[self._shard(topic)].pipeline(transaction=False)
        pipeline.hset(self._key(topic), items=[part for pair in entries.items() for part in pair])
        pipeline.expire(self._key(topic), max(int(ttl), 1))
        await pipeline.execute()

    async def remove(self, topic: str, connection: str) -> None:
        await self._clients[self._shard(topic)].hdel(self._key(topic), connection)

    async def touch(self, topics: Sequence[str], ttl: float) -> None:
        by_shard: dict[int, list[str]] = {}
        for topic in topics:
            by_shard.setdefault(self._shard(topic), []).append(topic)
        for shard, names in by_shard.items():
            pipeline = self._clients[shard].pipeline(transaction=False)
            for topic in names:
                pipeline.expire(self._key(topic), max(int(ttl), 1))
            await pipeline.execute()

    async def members(self, topic: str) -> list[str]:
        shard = self._shard(topic)
        texts = await self._members[shard](keys=[self._key(topic), self._procs])
        return [_text(text) for text in texts]

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose(close_connection_pool=True)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
