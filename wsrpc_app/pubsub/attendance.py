"""This process's part of presence: its heartbeat, and the entries of its connections.

The hub owns one :class:`Attendance`. It starts with the first connection
the hub serves: from then on the process tells the presence store that it
lives every third of ``PRESENCE_TTL``, and keeps the entries of its
subscribers there (:mod:`~wsrpc_app.pubsub.presence_store`). A store that
forgot the process (Redis restarted empty or was out of reach too long)
gets every entry back on the next heartbeat. Join and leave frames go to
the exact topic's group, as events do.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Protocol

from ..acl.rules import PresenceMode
from ..conf import wsrpc_settings
from ..core.errors import Unavailable
from ..metrics.recorder import recorder
from .messages import presence_message
from .presence_store import PresenceStore
from .roster import join_frame, leave_frame

__all__ = ["Attendance", "GroupSender", "presence_ttl"]

logger = logging.getLogger("wsrpc")


class GroupSender(Protocol):
    """What attendance uses of a channel layer."""

    async def group_send(self, group: str, message: Mapping[str, object]) -> None: ...


def presence_ttl() -> float:
    """``PRESENCE_TTL``: how long a process not heard from still counts as living."""
    value = wsrpc_settings.PRESENCE_TTL
    return float(value) if value is not None else 30.0


class Attendance:
    """The heartbeat of process ``marker`` and the presence entries of its connections, in ``store``."""

    def __init__(self, store: PresenceStore | None, marker: str, layer: GroupSender) -> None:
        self.store = store
        self.marker = marker
        self.layer = layer
        #: topic -> connection id -> entry JSON, of this process's subscribers
        self.entries: dict[str, dict[str, str]] = {}
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Say that this process lives, and keep saying it."""
        if self.task is not None or self.store is None:
            return
        self.task = asyncio.ensure_future(self._beat_forever())
        try:
            await self.beat()
        except Exception as exc:
            logger.warning("could not tell the presence store that this process lives: %r", exc)

    async def stop(self) -> None:
        task, self.task = self.task, None
        if task is None:
            return
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if self.store is not None:
            try:
                await self.store.retire(self.marker)
            except Exception as exc:
                logger.debug("could not retire from the presence store: %r", exc)

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(presence_ttl() / 3)
            try:
                await self.beat()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("could not tell the presence store that this process lives: %r", exc)

    async def beat(self) -> None:
        assert self.store is not None
        ttl = presence_ttl()
        forgotten = await self.store.heartbeat(self.marker, ttl)
        topics = [topic for topic, entries in self.entries.items() if entries]
        if forgotten:
            for topic in topics:
                await self.store.add(topic, dict(self.entries.get(topic, {})), ttl)
        elif topics:
            await self.store.touch(topics, ttl)

    async def enter(self, topic: str, connection: str, entry: str, mode: PresenceMode) -> None:
        """``connection`` subscribed to ``topic``: list it, and tell the others. Raises :class:`Unavailable`."""
        recorder().presence_operation("enter")
        try:
            if mode.listed and self.store is not None:
                self.entries.setdefault(topic, {})[connection] = entry
                await self.store.add(topic, {connection: entry}, presence_ttl())
            if mode.join_leave:
                message = presence_message(topic, connection, join_frame(topic, entry))
                await self.layer.group_send(message["group"], message)
        except Exception as exc:
            self._forget(topic, connection)
            logger.warning("could not enter %r in the presence of %r: %r", connection, topic, exc)
            raise Unavailable(data={"reason": "the presence store cannot be reached; retry later"}) from exc

    async def leave(self, topic: str, connection: str, entry: str, mode: PresenceMode) -> None:
        """``connection`` is no longer subscribed to ``topic``. Never raises: a failure is logged."""
        listed = self._forget(topic, connection)
        recorder().presence_operation("leave")
        try:
            if listed and self.store is not None:
                await self.store.remove(topic, connection)
            if mode.join_leave:
                message = presence_message(topic, connection, leave_frame(topic, entry))
                await self.layer.group_send(message["group"], message)
        except Exception as exc:
            logger.warning("could not remove %r from the presence of %r: %r", connection, topic, exc)

    def _forget(self, topic: str, connection: str) -> bool:
        entries = self.entries.get(topic)
        if entries is None or entries.pop(connection, None) is None:
            return False
        if not entries:
            del self.entries[topic]
        return True
