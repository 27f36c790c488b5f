"""One connection in pub/sub: what it subscribed to, and its user's group.

The hub delivers events to a :class:`Member`, which queues them for the
client; :meth:`Member.subscribe` checks the name, the subscription limit and
the ``Topic`` permissions before joining the hub.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from ..acl.access import aallowed
from ..core import protocol
from ..core.errors import PermissionDenied, TooManySubscriptions
from ..core.topics import validate_pattern
from .process import current_hub, get_hub
from .results import Subscription

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

    async def subscribe(self, name: str) -> Subscription:
        """Receive events for a topic or pattern. Subscribing twice is harmless."""
        validate_pattern(name)
        if name in self.names:
            return {"topic": name, "subscribed": True}
        name = sys.intern(name)  # one string for every connection subscribed to it
        self._check_room()
        if not await aallowed(self.user, "subscribe", name):
            raise PermissionDenied(data={"topic": name, "action": "subscribe"})
        if name not in self.names:  # another request of this connection may have subscribed meanwhile
            self._check_room()
            self.names.add(name)
            await (await get_hub()).subscribe(self, name)
        return {"topic": name, "subscribed": True}

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


def _user_key(user: object) -> str | None:
    """The key of a logged-in user's group; None for anonymous connections."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return str(getattr(user, "pk", None))
