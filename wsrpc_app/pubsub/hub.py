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
On the Redis layers the hub also watches the layer: every ``WATCH_INTERVAL``
it asks Redis whether it dropped its connections or lost its data
(:mod:`~wsrpc_app.pubsub.probe`), and pings itself through the layer. When
Redis was out of reach, dropped its connections or lost its data, or the
pings stop coming back, the layer's subscriptions and memberships cannot be
trusted: the hub takes a new channel and joins every group with it, then
checks the position of each topic it sequences, reading what its
subscribers missed. The running loop's hub is
:func:`wsrpc_app.pubsub.process.get_hub`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from ..acl.access import aretention_of
from ..conf import wsrpc_settings
from ..metrics.recorder import recorder
from . import messages
from .attendance import Attendance
from .messages import (
    CONTROL_GROUP,
    CommandMessage,
    ControlMessage,
    ReplyMessage,
    ping_message,
    process_group,
    subscription_group,
    user_group,
)
from .presence_store import PresenceStore
from .routes import Connected, Routes, Subscriber
from .sequence import Gap, Sequence
from .store import HistoryStore
from .stream import Position, new_epoch
from .targets import connection_id

__all__ = ["Hub", "ChannelLayer", "ControlHandler", "CommandHandler", "Probe", "FILL_DELAY", "WATCH_INTERVAL"]

#: How long an event that came early waits for those before it, in seconds, before they are read from the store.
FILL_DELAY = 0.1
#: How many times a hole is read from a store that cannot be reached (waiting twice as long each time)
#: before its events are given up as a gap.
FILL_TRIES = 5
#: How often the hub asks Redis whether it lost its data, and pings itself through the layer, in seconds.
WATCH_INTERVAL = 1.0
#: How long the layer may bring nothing, not even the hub's own pings, before the hub subscribes anew.
STALL_AFTER = 3.0
#: How often the hub compares the topics it sequences with the store, in watch intervals: events
#: the layer lost when nothing came after them are found there.
TAIL_EVERY = 5

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
    """Tells whether the layer's Redis dropped its connections or lost its data (:mod:`.probe`)."""

    async def disturbed(self) -> bool: ...


#: ``await handler(hub, message)`` for each control message.
ControlHandler = Callable[["Hub", ControlMessage], Awaitable[None]]
#: ``await handler(hub, message)`` for each order for this process's connections.
CommandHandler = Callable[["Hub", CommandMessage], Awaitable[None]]


class Hub:
    """Local subscribers by group, and the one channel that feeds them.

    ``store`` keeps the history of topics (None: no history here); ``probe``
    tells when the layer's Redis lost its data (None: a layer without Redis);
    ``presence`` keeps who is subscribed where, and which processes live
    (None: no presence here).

    The hub also knows this process's connections by id (:meth:`register`),
    acts on the orders server code sends them (``command_handler``,
    :mod:`wsrpc_app.pubsub.orders`), and hands the replies to the calls made
    from this process to whoever waits for them (``calls``).
    """

    def __init__(
        self,
        layer: ChannelLayer,
        store: HistoryStore | None = None,
        probe: Probe | None = None,
        presence: PresenceStore | None = None,
    ) -> None:
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
        self._reader: asyncio.Task[None] | None = None
        self._marker = new_epoch()
        self._ping_group = process_group(self._marker)
        self._heard = 0.0
        #: This process's connections by id, once served (:meth:`register`).
        self.connections: dict[str, Connected] = {}
        self._numbers = itertools.count(1)
        self.attendance = Attendance(presence, self._marker, layer)
        self.command_handler: CommandHandler | None = None
        #: call id -> what receives that call's replies
        self.calls: dict[str, Callable[[ReplyMessage], None]] = {}

    @property
    def marker(self) -> str:
        """This process's marker: the first part of its connections' ids, and of its group's name."""
        return self._marker

    @property
    def group(self) -> str:
        """This process's own group: its pings, the orders for its connections, the replies to its calls."""
        return self._ping_group

    @property
    def tasks(self) -> list[asyncio.Task[None]]:
        """The hub's own tasks running now: its reader, its timers, its heartbeat, its fills."""
        reader = [self._reader] if self._reader is not None else []
        beat = [self.attendance.task] if self.attendance.task is not None else []
        return [*reader, *self._tasks, *beat, *self._filling.values()]

    def _own_groups(self) -> list[str]:
        return [CONTROL_GROUP, self._ping_group]

    async def start(self) -> None:
        self.channel = await self.layer.new_channel("wsrpc.")
        for group in self._own_groups():
            await self.layer.group_add(group, self.channel)
        self._heard = asyncio.get_running_loop().time()
        self._reader = asyncio.ensure_future(self._read())
        self._tasks = [asyncio.ensure_future(self._refresh())]
        if self.probe is not None:
            self._tasks.append(asyncio.ensure_future(self._watch()))

    async def stop(self) -> None:
        await self.attendance.stop()
        tasks = self.tasks
        self._tasks, self._reader = [], None
        self._filling.clear()
        await _cancel(tasks)

    # Connections --------------------------------------------------------------

    async def register(self, connection: Connected) -> str:
        """Serve a connection: its id, unique across processes; this process now counts in presence."""
        await self.attendance.start()
        id_ = connection_id(self._marker, next(self._numbers))
        self.connections[id_] = connection
        return id_

    def unregister(self, id_: str) -> None:
        self.connections.pop(id_, None)

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
                recorder().layer_error("receive")
                logger.exception("channel layer receive failed; retrying in %.1f s", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            delay = 0.1
            self._heard = asyncio.get_running_loop().time()
            for part in messages.unbatched(message):
                try:
                    await self.handle(part)
                except Exception:
                    logger.exception("could not handle a channel layer message of type %r", part.get("type"))

    async def handle(self, received: Mapping[str, object]) -> None:
        message = messages.parse(received)
        if message is None:
            return
        if message["type"] == "wsrpc.event":
            epoch, offset = message.get("epoch"), message.get("offset")
            if epoch is None or offset is None:
                recorder().delivered(self.routes.deliver_event(message["group"], message["topic"], message["data"]))
            else:
                self._sequenced(message["group"], message["topic"], Position(epoch, offset), message["data"])
        elif message["type"] == "wsrpc.user":
            self.routes.deliver_user(message["group"], message["frame"])
        elif message["type"] == "wsrpc.ping":
            pass  # heard: the reader noted the time
        elif message["type"] == "wsrpc.presence":
            self.routes.deliver_presence(message["group"], message["topic"], message["connection"], message["frame"])
        elif message["type"] == "wsrpc.reply":
            receive = self.calls.get(message["call"])
            if receive is not None:
                receive(message)
        elif message["type"] == "wsrpc.command":
            if self.command_handler is not None:
                await self.command_handler(self, message)
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
                recorder().gap(item.missed)
                self.routes.deliver_gap(group, topic, item)
            else:
                recorder().delivered(self.routes.deliver_event(group, topic, item[1], item[0]))

    def _fill_later(self, group: str, topic: str, sequence: Sequence[_Event]) -> None:
        if (sequence.hole is not None or sequence.settling) and (group, topic) not in self._filling:
            self._filling[(group, topic)] = asyncio.ensure_future(self._fill(group, topic, sequence))

    async def _fill(self, group: str, topic: str, sequence: Sequence[_Event]) -> None:
        """Wait for the events of a hole; read what did not come from the store; a gap for what it lost."""
        failures = 0
        try:
            while sequence.settling or sequence.hole is not None:
                hole = sequence.hole
                await asyncio.sleep(FILL_DELAY * 2**failures)
                if sequence.settling:
                    self._release(group, topic, sequence.settle())
                    continue
                if hole is None or sequence.hole != hole:
                    continue  # some came meanwhile: wait for the rest
                first, through = hole
                retention = await aretention_of(topic)
                released: list[_Event | Gap]
                if retention is None or self.store is None:
                    self._release(group, topic, sequence.skip(through))  # the topic keeps no history any more
                    continue
                try:
                    position, entries, _ = await self.store.read(
                        topic, retention, after=first - 1, count=through - first + 1
                    )
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    failures += 1
                    if failures < FILL_TRIES:
                        continue
                    logger.warning("could not read the missed events of %r from the store: %r", topic, exc)
                    released = sequence.skip(through)
                else:
                    failures = 0
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
        for group in [*self._own_groups(), *self.routes.groups()]:
            try:
                await self.layer.group_add(group, self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("could not refresh membership of group %r", group)

    async def _watch(self) -> None:
        """Subscribe anew when Redis was out of reach, dropped its connections or lost its data, or went quiet."""
        assert self.probe is not None
        loop = asyncio.get_running_loop()
        healthy = True
        ticks = 0
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            ticks += 1
            try:
                disturbed = await self.probe.disturbed()
                await self.layer.group_send(self._ping_group, ping_message())
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                recorder().layer_error("probe")
                if healthy:
                    logger.warning("the channel layer's Redis cannot be reached: %r", exc)
                healthy = False
                continue
            quiet = loop.time() - self._heard
            if quiet <= STALL_AFTER and healthy and not disturbed:
                if ticks % TAIL_EVERY == 0:
                    await self._resync_quietly()
                continue
            logger.warning(
                "the channel layer's Redis %s; subscribing anew",
                "was out of reach" if not healthy else "dropped its connections" if disturbed else "went quiet",
            )
            recorder().layer_reconnected()
            try:
                await self.renew()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("could not subscribe anew: %r", exc)
                healthy = False
            else:
                healthy = await self._resync_quietly()

    async def _resync_quietly(self) -> bool:
        try:
            await self.resync()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.warning("could not compare the topics with their history: %r", exc)
            return False
        return True

    async def renew(self) -> None:
        """Read from a new channel, joined to every group: for a layer whose subscriptions were lost."""
        channel = await self.layer.new_channel("wsrpc.")
        if self._reader is not None:
            await _cancel([self._reader])
        old, groups = self.channel, [*self._own_groups(), *self.routes.groups()]
        for group in groups:  # leaving first makes RedisPubSubChannelLayer unsubscribe, then subscribe again
            try:
                await self.layer.group_discard(group, old)
            except Exception as exc:
                logger.debug("could not leave group %r: %r", group, exc)
        self.channel = channel
        self._heard = asyncio.get_running_loop().time()
        self._reader = asyncio.ensure_future(self._read())
        await self.rejoin()

    async def resync(self) -> None:
        """Compare each sequenced topic with the store: a new epoch is a gap; events that never came are read."""
        if self.store is None or not self.sequences:
            return
        topics = sorted({topic for by_topic in self.sequences.values() for topic in by_topic})
        positions = await self.store.positions(topics)
        for group, by_topic in list(self.sequences.items()):
            for topic, sequence in list(by_topic.items()):
                position = positions.get(topic)
                if position is None and sequence.epoch is not None:
                    # The history is gone (Redis lost it): its next event starts a new epoch.
                    retention = await aretention_of(topic)
                    if retention is None:
                        continue
                    position, _, _ = await self.store.read(topic, retention, after=None, count=0)
                if position is not None and self.sequences.get(group, {}).get(topic) is sequence:
                    self._release(group, topic, sequence.start(position.epoch, position.offset))
                    self._fill_later(group, topic, sequence)


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel tasks until they are done.

    On Python 3.11, asyncio.wait_for (which redis-py awaits inside
    channels_redis' receive) can swallow a cancellation that races with its
    result (CPython gh-86296), leaving a reader running.
    """
    while tasks:
        for task in tasks:
            task.cancel()
        _, still = await asyncio.wait(tasks, timeout=0.5)
        tasks = list(still)
