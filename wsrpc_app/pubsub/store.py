"""Where topics keep their history: the store's interface, and the one kept in this process's memory.

A store appends an event and gives it the topic's next offset atomically,
and reads back the entries after an offset or the newest ones. Which store
a process uses follows the channel layer (:func:`wsrpc_app.pubsub.process.history_store`):
Redis for the Redis layers (:mod:`.redis_store`), this process's memory for
``InMemoryChannelLayer`` (one process, as that layer is), none otherwise.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
from typing import Protocol

from ..acl.rules import Retention
from .stream import Entry, Position, new_epoch

__all__ = ["HistoryStore", "MemoryStore"]


class HistoryStore(Protocol):
    """Appends and reads the history of topics."""

    async def append(self, topic: str, data: str, retention: Retention) -> Position:
        """Store one event (``data``: its JSON text) under the topic's next offset; its position."""

    async def read(
        self, topic: str, retention: Retention, *, after: int | None, count: int
    ) -> tuple[Position, list[Entry], float]:
        """The topic's position, up to ``count`` stored entries (after offset ``after``, or the newest), and now.

        Entries come in offset order; "now" is the store's clock, for
        :func:`~wsrpc_app.pubsub.stream.visible`. A topic never published to
        gets an epoch here, so its first event keeps it.
        """

    async def positions(self, topics: list[str]) -> dict[str, Position | None]:
        """Where each topic stands, in one round trip per host; None for a topic with no epoch (yet, or any more)."""


@dataclasses.dataclass(slots=True)
class _Stream:
    epoch: str
    offset: int
    entries: collections.deque[Entry]


class MemoryStore:
    """History in this process's memory, for ``InMemoryChannelLayer``; safe from several threads."""

    def __init__(self) -> None:
        self._streams: dict[str, _Stream] = {}
        self._lock = threading.Lock()

    def _stream(self, topic: str, retention: Retention) -> _Stream:
        stream = self._streams.get(topic)
        if stream is None:
            stream = self._streams[topic] = _Stream(new_epoch(), 0, collections.deque(maxlen=retention.size))
        elif stream.entries.maxlen != retention.size:
            stream.entries = collections.deque(stream.entries, maxlen=retention.size)
        return stream

    async def append(self, topic: str, data: str, retention: Retention) -> Position:
        with self._lock:
            stream = self._stream(topic, retention)
            stream.offset += 1
            stream.entries.append(Entry(stream.offset, time.time(), data))
            return Position(stream.epoch, stream.offset)

    async def read(
        self, topic: str, retention: Retention, *, after: int | None, count: int
    ) -> tuple[Position, list[Entry], float]:
        with self._lock:
            stream = self._stream(topic, retention)
            position = Position(stream.epoch, stream.offset)
            if after is None:
                entries = list(stream.entries)[-count:] if count > 0 else []
            else:
                entries = [entry for entry in stream.entries if entry.offset > after][:count]
            return position, entries, time.time()

    async def positions(self, topics: list[str]) -> dict[str, Position | None]:
        with self._lock:
            streams = {topic: self._streams.get(topic) for topic in topics}
            return {topic: Position(s.epoch, s.offset) if s else None for topic, s in streams.items()}

    def forget(self) -> None:
        """Lose every topic's history, as a restarted store would: each topic's next event starts a new epoch."""
        with self._lock:
            self._streams.clear()
