"""This process's end of the channel layer: one channel that feeds every local subscriber.

Channels' usual way gives every connection its own channel and puts each
connection in a group per topic, so a publish to 500 subscribers is 500
sends through Redis. Here group membership belongs to the process: one
channel per process (per event loop), joined to a group for each topic that
has local subscribers (the groups are in :mod:`~wsrpc_app.pubsub.messages`).
A publish reaches each process once; the routing table
(:mod:`~wsrpc_app.pubsub.routes`) then queues one frame per subscription
name to each local subscriber.

The hub does the I/O: joining and leaving groups, reading the channel,
keeping memberships alive. Events of topics with history go through a
:class:`~wsrpc_app.pubsub.sequence.Sequence` per topic and group, which puts
them in offset order; the hub fills the holes it finds from the history
store, and tells subscribers (``rpc.gap``) of what the store no longer has.
When Redis lost its data (restarted empty, flushed), the hub notices within
``WATCH_INTERVAL`` and joins its groups again at once, and checks the
position of each topic it sequences. The running loop's hub is
:func:`wsrpc_app.pubsub.process.get_hub`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from ..acl.access import aretention_of
from ..conf import wsrpc_settings
from . import messages
from .messages import CONTROL_GROUP, ControlMessage, subscription_group, user_group
from .routes import Routes, Subscriber
from .sequence import Gap, Sequence
from .store import HistoryStore
from .stream import Position, new_epoch

__all__ = ["Hub", "ChannelLayer", "ControlHandler", "Probe", "FILL_DELAY", "WATCH_INTERVAL"]

#: How long an event that came early waits for those before it, in seconds, before they are read from the store.
FILL_DELAY = 0.1
#: How often the hub asks Redis whether it lost its data, in seconds.
WATCH_INTERVAL = 1.0

#: An event of a topic with history, as sequences hold it.
_Event = tuple[Position, bytes | str]

logger = logging.getLogger("wsrpc")


class ChannelLayer(Protocol):
    """What the hub uses of a Channels layer."""

    async def new_channel(self, prefix: str = ...) -> str: ...

    async def receive(self, channel: str) -> Mapping[str, object]: ...

    async def group_add(self, group: str, channel: str) -> None: ...

    async def group_discard(self, group: str, channel: str) -> None: ...

    async def group_send(self, group: str, message: Mapping[str, object]) -> None: ...


class Probe(Protocol):
    """Asks the channel layer's Redis whether it lost its data (:class:`~wsrpc_app.pubsub.redis_store.RedisStore`)."""

    async def lost_data(self, marker: str) -> bool: ...


#: ``await handler(hub, message)`` for each control message.
ControlHandler = Callable[["Hub", ControlMessage], Awaitable[None]]


class Hub:
    """Local subscribers by group, and the one channel that feeds them.

    ``store`` keeps the history of topics (None: no history here); ``probe``
    tells when the layer's Redis lost its data (None: a layer without Redis).
    """

    def __init__(self, layer: ChannelLayer, store: HistoryStore | None = None, probe: Probe | None = None) -> None:
        self.layer = layer
        self.store = store
        self.probe = probe
        self.channel = ""
        self.routes = Routes()
        self.control_handlers: list[ControlHandler] = []
        #: group -> topic -> the order of that topic's events sent to that group
        self.sequences: dict[str, dict[str, Sequence[_Event]]] = {}
        self._filling: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._marker = new_epoch()

    async def start(self) -> None:
        self.channel = await self.layer.new_channel("wsrpc.")
        await self.layer.group_add(CONTROL_GROUP, self.channel)
        self._tasks = [
            asyncio.ensure_future(self._read()),
            asyncio.ensure_future(self._refresh()),
        ]
        if self.probe is not None:
            self._tasks.append(asyncio.ensure_future(self._watch()))

    async def stop(self) -> None:
        tasks, self._tasks = [*self._tasks, *self._filling.values()], []
        self._filling.clear()
        # Cancel until done: on Python 3.11, asyncio.wait_for (which redis-py
        # awaits inside channels_redis' receive) can swallow a cancellation that
        # races with its result (CPython gh-86296), leaving the reader running.
        while tasks:
            for task in tasks:
                task.cancel()
            _, still = await asyncio.wait(tasks, timeout=0.5)
            tasks = list(still)

    # Memberships --------------------------------------------------------------

    def names_of(self, subscriber: Subscriber) -> list[str]:
        return self.routes.names_of(subscriber)

    async def subscribe(self, subscriber: Subscriber, name: str) -> bool:
        """Add a subscription; False when it was there already."""
        group = subscription_group(name)
        joining = group not in self.routes.topics
        if not self.routes.add(group, name, subscriber):
            return False
        if joining:
            await self.layer.group_add(group, self.channel)
        return True

    async def unsubscribe(self, subscriber: Subscriber, name: str) -> bool:
        """Remove a subscription; False when there was none."""
        group = subscription_group(name)
        if not self.routes.remove(group, name, subscriber):
            return False
        if group not in self.routes.topics:
            self._forget(group)
            await self.layer.group_discard(group, self.channel)
        return True

    def _forget(self, group: str) -> None:
        for topic in self.sequences.pop(group, {}):
            task = self._filling.pop((group, topic), None)
            if task is not None:
                task.cancel()

    def start_at(self, topic: str, position: Position) -> None:
        """A subscriber of the exact ``topic`` read its position from the store: sequence its events from there."""
        group = subscription_group(topic)
        if group not in self.routes.topics:
            return
        sequence = self._sequence(group, topic)
        self._release(group, topic, sequence.start(position.epoch, position.offset))
        self._fill_later(group, topic, sequence)

    def _sequence(self, group: str, topic: str) -> Sequence[_Event]:
        by_topic = self.sequences.setdefault(group, {})
        sequence = by_topic.get(topic)
        if sequence is None:
            sequence = by_topic[topic] = Sequence()
        return sequence

    async def join_user(self, subscriber: Subscriber, user_key: str) -> None:
        group = user_group(user_key)
        joining = group not in self.routes.users
        self.routes.add_user(group, subscriber)
        if joining:
            await self.layer.group_add(group, self.channel)

    async def leave_user(self, subscriber: Subscriber, user_key: str) -> None:
        group = user_group(user_key)
        if self.routes.remove_user(group, subscriber) and group not in self.routes.users:
            await self.layer.group_discard(group, self.channel)

    # Incoming from the layer --------------------------------------------------

    async def _read(self) -> None:
        delay = 0.1
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if "Timeout" in type(exc).__name__:
                    # An idle channel: redis-py 8's default socket timeout (5 s)
                    # cuts RedisChannelLayer's 5 s blocking pop short (channels_redis#422).
                    logger.debug("channel layer receive timed out on an idle channel; receiving again")
                    continue
                # Never die silently: a dead reader would starve every subscriber here.
                logger.exception("channel layer receive failed; retrying in %.1f s", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            delay = 0.1
            try:
                await self.handle(message)
            except Exception:
                logger.exception("could not handle a channel layer message of type %r", message.get("type"))

    async def handle(self, received: Mapping[str, object]) -> None:
        message = messages.parse(received)
        if message is None:
            return
        if message["type"] == "wsrpc.event":
            epoch, offset = message.get("epoch"), message.get("offset")
            if epoch is None or offset is None:
                self.routes.deliver_event(message["group"], message["topic"], message["data"])
            else:
                self._sequenced(message["group"], message["topic"], Position(epoch, offset), message["data"])
        elif message["type"] == "wsrpc.user":
            self.routes.deliver_user(message["group"], message["frame"])
        else:
            for handler in list(self.control_handlers):
                await handler(self, message)

    # Events in order -----------------------------------------------------------

    def _sequenced(self, group: str, topic: str, at: Position, data: bytes | str) -> None:
        if group not in self.routes.topics:
            return  # left the group; a late message
        sequence = self._sequence(group, topic)
        self._release(group, topic, sequence.offer(at.epoch, at.offset, (at, data)))
        self._fill_later(group, topic, sequence)

    def _release(self, group: str, topic: str, released: list[_Event | Gap]) -> None:
        for item in released:
            if isinstance(item, Gap):
                self.routes.deliver_gap(group, topic, item)
            else:
                self.routes.deliver_event(group, topic, item[1], item[0])

    def _fill_later(self, group: str, topic: str, sequence: Sequence[_Event]) -> None:
        if sequence.hole is not None and (group, topic) not in self._filling:
            self._filling[(group, topic)] = asyncio.ensure_future(self._fill(group, topic, sequence))

    async def _fill(self, group: str, topic: str, sequence: Sequence[_Event]) -> None:
        """Wait for the events of a hole; read what did not come from the store; a gap for what it lost."""
        try:
            while (hole := sequence.hole) is not None:
                await asyncio.sleep(FILL_DELAY)
                if sequence.hole != hole:
                    continue  # some came meanwhile: wait for the rest
                first, through = hole
                retention = await aretention_of(topic)
                released: list[_Event | Gap]
                try:
                    if retention is None or self.store is None:
                        raise LookupError("the topic keeps no history")
                    position, entries, _ = await self.store.read(
                        topic, retention, after=first - 1, count=through - first + 1
                    )
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    logger.warning("could not read the missed events of %r from the store: %r", topic, exc)
                    released = sequence.skip(through)
                else:
                    if position.epoch != sequence.epoch:
                        released = sequence.start(position.epoch, position.offset)
                    else:
                        found: list[tuple[int, _Event]] = [
                            (entry.offset, (Position(position.epoch, entry.offset), entry.data))
                            for entry in entries
                            if entry.offset <= through
                        ]
                        released = sequence.fill(found, through)
                self._release(group, topic, released)
        finally:
            if self._filling.get((group, topic)) is asyncio.current_task():
                del self._filling[(group, topic)]

    # Keeping memberships alive ------------------------------------------------

    def refresh_interval(self) -> float:
        configured = wsrpc_settings.GROUP_REFRESH_INTERVAL
        if configured is not None:
            return float(configured)
        expiry = getattr(self.layer, "group_expiry", None)
        if not isinstance(expiry, int | float):
            return 3600.0
        return max(min(expiry / 3, 3600.0), 0.5)

    async def _refresh(self) -> None:
        # channels_redis drops group members after group_expiry (a day by
        # default); re-adding them well before that keeps subscriptions alive.
        while True:
            await asyncio.sleep(self.refresh_interval())
            await self.rejoin()

    async def rejoin(self) -> None:
        """Join every group this process listens on again."""
        for group in [CONTROL_GROUP, *self.routes.groups()]:
            try:
                await self.layer.group_add(group, self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("could not refresh membership of group %r", group)

    async def _watch(self) -> None:
        """Rejoin at once when Redis lost its data or could not be reached; then check the topics sequenced."""
        assert self.probe is not None
        healthy = True
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            try:
                lost = await self.probe.lost_data(self._marker)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if healthy:
                    logger.warning("the channel layer's Redis cannot be reached: %r", exc)
                healthy = False
                continue
            if lost or not healthy:
                if not healthy:
                    logger.warning("the channel layer's Redis is back; joining groups again")
                healthy = True
                await self.rejoin()
                await self.resync()

    async def resync(self) -> None:
        """Compare each sequenced topic with the store: a new epoch is a gap; events that never came are read."""
        if self.store is None:
            return
        for group, by_topic in list(self.sequences.items()):
            for topic, sequence in list(by_topic.items()):
                retention = await aretention_of(topic)
                if retention is None:
                    continue
                try:
                    position, _, _ = await self.store.read(topic, retention, after=None, count=0)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    logger.warning("could not read the position of %r: %r", topic, exc)
                    continue
                if self.sequences.get(group, {}).get(topic) is sequence:
                    self._release(group, topic, sequence.start(position.epoch, position.offset))
                    self._fill_later(group, topic, sequence)
