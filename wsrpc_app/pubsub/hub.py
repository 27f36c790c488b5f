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
keeping memberships alive. The running loop's hub is
:func:`wsrpc_app.pubsub.process.get_hub`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from ..conf import wsrpc_settings
from . import messages
from .messages import CONTROL_GROUP, ControlMessage, subscription_group, user_group
from .routes import Routes, Subscriber

__all__ = ["Hub", "ChannelLayer", "ControlHandler"]

logger = logging.getLogger("wsrpc")


class ChannelLayer(Protocol):
    """What the hub uses of a Channels layer."""

    async def new_channel(self, prefix: str = ...) -> str: ...

    async def receive(self, channel: str) -> Mapping[str, object]: ...

    async def group_add(self, group: str, channel: str) -> None: ...

    async def group_discard(self, group: str, channel: str) -> None: ...

    async def group_send(self, group: str, message: Mapping[str, object]) -> None: ...


#: ``await handler(hub, message)`` for each control message.
ControlHandler = Callable[["Hub", ControlMessage], Awaitable[None]]


class Hub:
    """Local subscribers by group, and the one channel that feeds them."""

    def __init__(self, layer: ChannelLayer) -> None:
        self.layer = layer
        self.channel = ""
        self.routes = Routes()
        self.control_handlers: list[ControlHandler] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.channel = await self.layer.new_channel("wsrpc.")
        await self.layer.group_add(CONTROL_GROUP, self.channel)
        self._tasks = [
            asyncio.ensure_future(self._read()),
            asyncio.ensure_future(self._refresh()),
        ]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
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
            await self.layer.group_discard(group, self.channel)
        return True

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
            self.routes.deliver_event(message["group"], message["topic"], message["data"])
        elif message["type"] == "wsrpc.user":
            self.routes.deliver_user(message["group"], message["frame"])
        else:
            for handler in list(self.control_handlers):
                await handler(self, message)

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
            for group in [CONTROL_GROUP, *self.routes.groups()]:
                try:
                    await self.layer.group_add(group, self.channel)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("could not refresh membership of group %r", group)
