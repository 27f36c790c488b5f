"""One connection in pub/sub: what it subscribed to, and its user's group.

The hub delivers events to a :class:`Member`, which queues them for the
client; :meth:`Member.subscribe` checks the name, the subscription limit and
the ``Topic`` permissions before joining the hub.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from ..acl.access import aallowed, aretention_of
from ..acl.rules import Retention
from ..core import protocol
from ..core.endpoint import after_reply
from ..core.errors import PermissionDenied, TooManySubscriptions
from ..core.topics import is_pattern, validate_pattern
from .history import publications, recover
from .hub import Hub
from .process import current_hub, get_hub
from .results import Subscription
from .stream import Position

__all__ = ["Member"]


class Member:
    """The topics and patterns one connection receives events for; the hub's subscriber.

    ``deliver(frame)`` queues a frame for the client without waiting: the
    fan-out calls it for every event, so the transport may replace it with
    its own writer; ``limit`` is the most subscriptions it may hold
    (``None``: no limit).
    """

    __slots__ = ("user", "names", "limit", "deliver", "_user_key", "closed")

    def __init__(self, user: object, deliver: Callable[[str], object], *, limit: int | None = None) -> None:
        self.user = user
        self.names: set[str] = set()
        self.limit = limit
        self.deliver = deliver
        self._user_key = _user_key(user)
        self.closed = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} user={self.user!r} topics={len(self.names)}>"

    async def subscribe(self, name: str, *, since: Position | None = None, rewind: int | None = None) -> Subscription:
        """Receive events for a topic or pattern. Subscribing twice is harmless.

        For a topic with history the answer says where the topic stands, and
        ``since`` (a position the client had) or ``rewind`` (how many of the
        last events) recover events; live events follow the answer, with
        none repeated or skipped.
        """
        validate_pattern(name)
        plain = _plain(name, recovering=since is not None or rewind is not None)
        if name in self.names:
            return await self._again(plain)
        name = sys.intern(name)  # one string for every connection subscribed to it
        self._check_room()
        if not await aallowed(self.user, "subscribe", name):
            raise PermissionDenied(data={"topic": name, "action": "subscribe"})
        retention = None if is_pattern(name) else await aretention_of(name)
        if name in self.names:  # another request of this connection subscribed meanwhile
            return await self._again(plain)
        self._check_room()
        self.names.add(name)
        hub = await get_hub()
        if retention is None or hub.store is None:
            await hub.subscribe(self, name)
            return plain
        return await self._subscribe_with_history(hub, name, retention, since, rewind)

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
        hub = current_hub()
        if hub is not None:
            await hub.unsubscribe(self, name)
        return {"topic": name, "subscribed": False}

    async def revoke(self, name: str, reason: str) -> None:
        """The subscription to ``name`` ended on the server's side: tell the client."""
        self.names.discard(name)
        self.deliver(protocol.notification("rpc.unsubscribed", {"topic": name, "reason": reason}).decode())

    # Lifecycle ----------------------------------------------------------------

    async def open(self) -> None:
        """Join this process's group for the user, so ``notify_user()`` reaches the connection."""
        if self._user_key is not None:
            await (await get_hub()).join_user(self, self._user_key)

    async def close(self) -> None:
        """Leave every group; called once the connection is gone."""
        if self.closed:
            return
        self.closed = True
        hub = current_hub()
        if hub is None:
            return
        for name in list(self.names):
            await hub.unsubscribe(self, name)
        self.names.clear()
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
