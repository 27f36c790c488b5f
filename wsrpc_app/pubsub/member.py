"""One connection in pub/sub: what it subscribed to, its user's group, its id and presence.

The hub delivers events to a :class:`Member`, which queues them for the
client; :meth:`Member.subscribe` checks the name, the subscription limit and
the ``Topic`` permissions before joining the hub, and enters the
connection in the topic's presence when its row keeps one. Server code's
orders (:mod:`wsrpc_app.pubsub.orders`) reach the connection through its
member: subscribe, unsubscribe, close, call (the last two through its
``peer``).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from ..acl.access import aallowed, apresence_of, aretention_of
from ..acl.rules import PresenceMode, Retention
from ..core import protocol
from ..core.endpoint import after_reply
from ..core.errors import PeerDisconnected, PermissionDenied, TooManySubscriptions
from ..core.topics import is_pattern, validate_pattern
from ..core.types import JSON, JSONObject, Params, Timeout
from ..metrics.recorder import recorder
from .history import publications, recover
from .hub import Hub
from .process import current_hub, get_hub
from .results import Subscription
from .roster import client_entry
from .stream import Position
from .targets import Credentials

__all__ = ["Member", "Peer"]

logger = logging.getLogger("wsrpc")


class Peer(Protocol):
    """What a member needs of its connection to carry out server code's orders."""

    async def request(self, name: str, params: Params | None = None, *, timeout: Timeout = ...) -> JSON:
        """Call the client's ``name`` and return its result."""

    async def close_by_server(self, code: int, reason: str) -> None:
        """Close the WebSocket with this code and reason."""


class Member:
    """The topics and patterns one connection receives events for; the hub's subscriber.

    ``deliver(frame)`` queues a frame for the client without waiting: the
    fan-out calls it for every event, so the transport may replace it with
    its own writer; ``limit`` is the most subscriptions it may hold
    (``None``: no limit).
    """

    __slots__ = (
        "user",
        "names",
        "limit",
        "deliver",
        "_user_key",
        "closed",
        "id",
        "info",
        "credentials",
        "peer",
        "present",
        "granted",
        "since",
    )

    def __init__(
        self,
        user: object,
        deliver: Callable[[str], object],
        *,
        limit: int | None = None,
        info: JSONObject | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        self.user = user
        self.names: set[str] = set()
        self.limit = limit
        self.deliver = deliver
        self._user_key = _user_key(user)
        self.closed = False
        #: Unique across processes; given by the hub when the connection opens.
        self.id = ""
        #: What the client declared about itself on connecting.
        self.info = info
        self.credentials = credentials or Credentials()
        #: Its connection, for server code's closes and calls.
        self.peer: Peer | None = None
        #: The topics it is listed in or announced to, with their presence, and the entry that lists it.
        self.present: dict[str, tuple[PresenceMode, str]] = {}
        #: Subscriptions server code made, which permission changes leave alone.
        self.granted: set[str] = set()
        #: When it opened (seconds since the epoch).
        self.since = 0.0

    @property
    def user_key(self) -> str | None:
        return self._user_key

    def __repr__(self) -> str:
        return f"<{type(self).__name__} user={self.user!r} topics={len(self.names)}>"

    async def subscribe(
        self, name: str, *, since: Position | None = None, rewind: int | None = None, check: bool = True
    ) -> Subscription:
        """Receive events for a topic or pattern. Subscribing twice is harmless.

        For a topic with history the answer says where the topic stands, and
        ``since`` (a position the client had) or ``rewind`` (how many of the
        last events) recover events; live events follow the answer, with
        none repeated or skipped. ``check`` false skips the permission check
        (server code's order).
        """
        validate_pattern(name)
        plain = _plain(name, recovering=since is not None or rewind is not None)
        if name in self.names:
            return await self._again(plain)
        name = sys.intern(name)  # one string for every connection subscribed to it
        self._check_room()
        if check and not await aallowed(self.user, "subscribe", name):
            raise PermissionDenied(data={"topic": name, "action": "subscribe"})
        retention = None if is_pattern(name) else await aretention_of(name)
        presence = None if is_pattern(name) else await apresence_of(name)
        if name in self.names:  # another request of this connection subscribed meanwhile
            return await self._again(plain)
        self._check_room()
        self.names.add(name)
        hub = await get_hub()
        if retention is None or hub.store is None:
            await hub.subscribe(self, name)
            result = plain
        else:
            result = await self._subscribe_with_history(hub, name, retention, since, rewind)
        if presence is not None:
            await self._enter(hub, name, presence)
        return result

    async def _enter(self, hub: Hub, name: str, presence: PresenceMode) -> None:
        entry = protocol.encode(self.entry()).decode()
        try:
            await hub.attendance.enter(name, self.id, entry, presence)
        except BaseException:
            self.names.discard(name)
            await hub.unsubscribe(self, name)
            raise
        self.present[name] = (presence, entry)

    async def _leave(self, name: str) -> None:
        present = self.present.pop(name, None)
        hub = current_hub()
        if present is not None and hub is not None:
            await hub.attendance.leave(name, self.id, present[1], present[0])

    def entry(self) -> JSONObject:
        """This connection as ``rpc.presence`` lists it."""
        return client_entry(self.id, self.user, self.info)

    async def _again(self, plain: Subscription) -> Subscription:
        """Subscribed already: nothing to recover (the events came live), but say where the topic stands."""
        name = plain["topic"]
        hub = current_hub()
        retention = None if is_pattern(name) else await aretention_of(name)
        if hub is None or hub.store is None or retention is None:
            return plain
        position = (await recover(hub.store, name, retention)).position
        return {**plain, "offset": position.offset, "epoch": position.epoch}

    async def _subscribe_with_history(
        self, hub: Hub, name: str, retention: Retention, since: Position | None, rewind: int | None
    ) -> Subscription:
        # Events that arrive from now on wait until the answer is written,
        # then those after the position read below are delivered.
        assert hub.store is not None
        hub.routes.hold(name, self)
        try:
            await hub.subscribe(self, name)
            recovery = await recover(hub.store, name, retention, after=since, rewind=rewind)
        except BaseException:
            self.names.discard(name)
            hub.routes.holds.pop((name, self), None)
            await hub.unsubscribe(self, name)
            raise
        position = recovery.position
        hub.start_at(name, position)
        after_reply(lambda: hub.routes.release(name, self, position))
        result: Subscription = {"topic": name, "subscribed": True, "offset": position.offset, "epoch": position.epoch}
        if since is not None or rewind is not None:
            recorder().recovered(len(recovery.entries))
            result["recovered"] = recovery.recovered
            result["publications"] = publications(name, recovery)
        return result

    def _check_room(self) -> None:
        if self.limit is not None and len(self.names) >= self.limit:
            raise TooManySubscriptions(data={"max_subscriptions": self.limit})

    async def unsubscribe(self, name: str) -> Subscription:
        """Stop receiving events for a topic or pattern; ``subscribed`` is false whether or not it was."""
        validate_pattern(name)
        if name not in self.names:
            return {"topic": name, "subscribed": False}
        self.names.discard(name)
        self.granted.discard(name)
        hub = current_hub()
        if hub is not None:
            await hub.unsubscribe(self, name)
        await self._leave(name)
        return {"topic": name, "subscribed": False}

    async def revoke(self, name: str, reason: str) -> None:
        """The subscription to ``name`` ended on the server's side: tell the client."""
        self.names.discard(name)
        self.granted.discard(name)
        await self._leave(name)
        self.deliver(protocol.notification("rpc.unsubscribed", {"topic": name, "reason": reason}).decode())

    def describe(self) -> JSONObject:
        """This connection's entry, when it opened (ISO 8601, UTC) and its subscriptions: what the admin lists."""
        since = datetime.fromtimestamp(self.since, UTC).isoformat().replace("+00:00", "Z")
        return self.entry() | {"since": since, "subscriptions": sorted(self.names)}

    # Server code's orders -----------------------------------------------------

    async def subscribe_by_server(self, name: str) -> None:
        """Subscribe on server code's order, whatever the permissions, and tell the client (``rpc.subscribed``)."""
        if self.closed:
            return
        if name in self.names:
            self.granted.add(name)  # subscribed already: from now on server code's to end
            return
        result = await self.subscribe(name, check=False)
        self.granted.add(name)
        self.deliver(protocol.notification("rpc.subscribed", dict(result)).decode())

    async def unsubscribe_by_server(self, name: str) -> None:
        """End a subscription on server code's order, and tell the client (``rpc.unsubscribed``)."""
        if name not in self.names:
            return
        hub = current_hub()
        if hub is not None:
            await hub.unsubscribe(self, name)
        await self.revoke(name, "unsubscribed by the server")

    async def close_by_server(self, code: int, reason: str) -> None:
        if self.peer is not None and not self.closed:
            await self.peer.close_by_server(code, reason)

    async def call_by_server(self, method: str, params: Params | None, timeout: float | None) -> JSON:
        if self.peer is None or self.closed:
            raise PeerDisconnected("the connection is gone")
        return await self.peer.request(method, params, timeout=timeout)

    # Lifecycle ----------------------------------------------------------------

    async def open(self) -> None:
        """Take an id from the hub, and join this process's group for the user, so ``notify_user()`` reaches it."""
        try:
            hub = await get_hub()
        except Exception as exc:
            if self._user_key is not None:
                raise
            # As before connections had ids: an anonymous connection still serves calls without the layer.
            logger.warning("the channel layer cannot be reached; a connection opens without an id: %r", exc)
            return
        self.id = await hub.register(self)
        self.since = time.time()
        if self._user_key is not None:
            await hub.join_user(self, self._user_key)

    async def close(self) -> None:
        """Leave every group; called once the connection is gone."""
        if self.closed:
            return
        self.closed = True
        hub = current_hub()
        if hub is None:
            return
        hub.unregister(self.id)
        for name in list(self.names):
            await hub.unsubscribe(self, name)
        self.names.clear()
        for name in list(self.present):
            await self._leave(name)
        if self._user_key is not None:
            await hub.leave_user(self, self._user_key)


def _plain(name: str, *, recovering: bool) -> Subscription:
    """The answer for a subscription without history: asked to recover, it recovered nothing."""
    if recovering:
        return {"topic": name, "subscribed": True, "recovered": False, "publications": []}
    return {"topic": name, "subscribed": True}


def _user_key(user: object) -> str | None:
    """The key of a logged-in user's group; None for anonymous connections."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return str(getattr(user, "pk", None))
