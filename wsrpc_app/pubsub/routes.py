"""This process's routing table: which local subscriber gets which event. No I/O.

The hub (:mod:`wsrpc_app.pubsub.hub`) does the channel layer's I/O; it files
subscriptions here by group and hands each message received to
:meth:`Routes.deliver_event` or :meth:`Routes.deliver_user`. Each event is
encoded once per subscription name and the same frame queued to every
subscriber under it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from ..core.topics import is_pattern, matches
from ..core.types import JSON, JSONObject, Params
from .events import event_frame, gap_frame, position_json, topic_json
from .sequence import Gap
from .stream import Position
from .targets import Credentials

__all__ = ["Subscriber", "Connected", "Routes"]


class Subscriber(Protocol):
    """What pub/sub needs of a connection."""

    @property
    def id(self) -> str:
        """The connection's id, unique across processes ("" until the hub serves it)."""

    @property
    def user(self) -> object:
        """The Django user (or None), whose permissions are rechecked when grants change."""

    def deliver(self, frame: str) -> object:
        """Queue a frame for the client without waiting."""

    async def revoke(self, name: str, reason: str) -> None:
        """The subscription to ``name`` was ended by the server: tell the client."""


class Connected(Subscriber, Protocol):
    """What server code's orders need of a connection (:mod:`wsrpc_app.pubsub.orders`)."""

    @property
    def user_key(self) -> str | None:
        """The key of its user's group; None when anonymous."""

    @property
    def credentials(self) -> Credentials:
        """How it was authenticated."""

    def describe(self) -> JSONObject:
        """What the admin lists of it: its presence entry, since when it is open, its subscriptions."""

    async def subscribe_by_server(self, name: str) -> None:
        """Subscribe it to ``name`` on server code's order, and tell the client (``rpc.subscribed``)."""

    async def unsubscribe_by_server(self, name: str) -> None:
        """End its subscription to ``name`` on server code's order, and tell the client (``rpc.unsubscribed``)."""

    async def close_by_server(self, code: int, reason: str) -> None:
        """Close it with this WebSocket close code and reason."""

    async def call_by_server(self, method: str, params: Params | None, timeout: float | None) -> JSON:
        """Call its client's ``method``; raises RpcError, TimeoutError, or PeerDisconnected when it is gone."""


class Routes:
    """Local subscribers by group and subscription name, and the connections of each user group here."""

    __slots__ = ("topics", "users", "holds")

    def __init__(self) -> None:
        #: group -> subscription name (topic or pattern) -> subscribers
        self.topics: dict[str, dict[str, set[Subscriber]]] = {}
        #: user group -> that user's connections here
        self.users: dict[str, set[Subscriber]] = {}
        #: (topic, subscriber) -> the events held back from a subscription being made
        self.holds: dict[tuple[str, Subscriber], _Hold] = {}

    # Filing -------------------------------------------------------------------

    def add(self, group: str, name: str, subscriber: Subscriber) -> bool:
        """File a subscription; False when it was there already."""
        subscribers = self.topics.setdefault(group, {}).setdefault(name, set())
        if subscriber in subscribers:
            return False
        subscribers.add(subscriber)
        return True

    def remove(self, group: str, name: str, subscriber: Subscriber) -> bool:
        """Drop a subscription; False when there was none."""
        names = self.topics.get(group, {})
        subscribers = names.get(name)
        if not subscribers or subscriber not in subscribers:
            return False
        subscribers.discard(subscriber)
        self.holds.pop((name, subscriber), None)
        if not subscribers:
            del names[name]
            if not names:
                del self.topics[group]
        return True

    def hold(self, name: str, subscriber: Subscriber) -> None:
        """Hold back events of the topic ``name`` from ``subscriber`` until :meth:`release`."""
        self.holds[(name, subscriber)] = _Hold()

    def release(self, name: str, subscriber: Subscriber, position: Position) -> None:
        """The subscriber has the topic up to ``position``: deliver what was held after it, and nothing up to it."""
        hold = self.holds.get((name, subscriber))
        if hold is None or hold.floor is not None:
            return
        hold.floor = position
        held, hold.held = hold.held, []
        for epoch, offset, frame in held:
            if hold.admits(epoch, offset):
                subscriber.deliver(frame)

    def add_user(self, group: str, subscriber: Subscriber) -> None:
        self.users.setdefault(group, set()).add(subscriber)

    def remove_user(self, group: str, subscriber: Subscriber) -> bool:
        """Drop a user's connection; False when it was not there."""
        members = self.users.get(group)
        if members is None or subscriber not in members:
            return False
        members.discard(subscriber)
        if not members:
            del self.users[group]
        return True

    # Reading ------------------------------------------------------------------

    def groups(self) -> list[str]:
        """Every group some local subscriber listens on."""
        return [*self.topics, *self.users]

    def names_of(self, subscriber: Subscriber) -> list[str]:
        return [name for names in self.topics.values() for name, subs in names.items() if subscriber in subs]

    def subscriptions(self) -> Iterator[tuple[str, Subscriber]]:
        """Every (subscription name, subscriber) pair, safe to change while iterating."""
        for names in list(self.topics.values()):
            for name, subscribers in list(names.items()):
                for subscriber in list(subscribers):
                    yield name, subscriber

    # Delivering ---------------------------------------------------------------

    def deliver_event(self, group: str, topic: str, data: bytes | str, at: Position | None = None) -> int:
        """Queue an event published to ``topic`` and sent to ``group`` to each matching subscription here.

        ``at`` is the event's position in the topic's history, if it keeps one.
        Returns how many subscriptions it was queued to (held ones not counted).
        """
        names = self.topics.get(group)
        if not names:
            return 0
        queued = 0
        data_json = data.decode() if isinstance(data, bytes) else data
        topic_text = topic_json(topic)
        position = position_json(at.epoch, at.offset) if at is not None else ""
        for name, subscribers in list(names.items()):
            if name == topic:
                frame = event_frame(topic_text, data_json, None, position)
            elif is_pattern(name) and matches(name, topic):
                frame = event_frame(topic_text, data_json, topic_json(name), position)
            else:
                continue
            queued += self._deliver(name, subscribers, frame, at)
        return queued

    def deliver_gap(self, group: str, topic: str, gap: Gap) -> None:
        """Tell each subscription here that matches ``topic`` that it missed events it will never get."""
        names = self.topics.get(group)
        if not names:
            return
        topic_text = topic_json(topic)
        at = Position(gap.epoch, gap.offset)
        for name, subscribers in list(names.items()):
            if name == topic:
                frame = gap_frame(topic_text, gap, None)
            elif is_pattern(name) and matches(name, topic):
                frame = gap_frame(topic_text, gap, topic_json(name))
            else:
                continue
            self._deliver(name, subscribers, frame, at)

    def _deliver(self, name: str, subscribers: set[Subscriber], frame: str, at: Position | None) -> int:
        """Queue ``frame`` to the subscribers of ``name`` (held back from those being subscribed); how many."""
        if not self.holds or at is None:
            for subscriber in list(subscribers):
                subscriber.deliver(frame)
            return len(subscribers)
        queued = 0
        for subscriber in list(subscribers):
            hold = self.holds.get((name, subscriber))
            if hold is None:
                subscriber.deliver(frame)
                queued += 1
            elif hold.floor is None:
                hold.held.append((at.epoch, at.offset, frame))
            elif hold.admits(at.epoch, at.offset):
                # Later ones come in order after this one: none can repeat what the subscriber has.
                del self.holds[(name, subscriber)]
                subscriber.deliver(frame)
                queued += 1
        return queued

    def deliver_presence(self, group: str, topic: str, connection: str, frame: str) -> None:
        """Queue a join or leave frame to the exact subscribers of ``topic`` here, but ``connection`` itself."""
        for subscriber in list(self.topics.get(group, {}).get(topic, ())):
            if subscriber.id != connection:
                subscriber.deliver(frame)

    def deliver_user(self, group: str, frame: str) -> None:
        """Queue a frame to every connection of the user whose group this is."""
        for subscriber in list(self.users.get(group, ())):
            subscriber.deliver(frame)


class _Hold:
    """A subscription being made: its events wait until the subscriber's position is known and its reply sent."""

    __slots__ = ("held", "floor")

    def __init__(self) -> None:
        self.held: list[tuple[str, int, str]] = []
        #: Where the subscriber is once released; events up to it are not delivered again.
        self.floor: Position | None = None

    def admits(self, epoch: str, offset: int) -> bool:
        floor = self.floor
        return floor is None or epoch != floor.epoch or offset > floor.offset
