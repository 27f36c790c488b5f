"""This process's end of the channel layer: topic groups, local subscribers, fan-out.

Channels' usual way gives every connection its own channel and puts each
connection in a group per topic, so a publish to 500 subscribers is 500
sends through Redis. Here group membership belongs to the process: one
channel per process (per event loop), joined to a group for each topic that
has local subscribers. A publish reaches each process once; the process
encodes the event once per subscription name and queues that same frame to
each local subscriber.

Groups (channel-layer group names):

- ``wsrpc.t.<topic>``: subscribers of that exact topic;
- ``wsrpc.p.<segment>``: patterns whose first segment is that literal
  (``sensors.*.temp`` joins ``wsrpc.p.sensors``);
- ``wsrpc.any``: patterns that start with a wildcard (``#``, ``*.error``);
- ``wsrpc.u.<user key>``: connections of one user;
- ``wsrpc.control``: every process, for permission changes.

A publish to ``a.b`` is therefore three group sends (``wsrpc.t.a.b``,
``wsrpc.p.a``, ``wsrpc.any``), whatever the number of subscribers; a group
nobody joined costs one round trip to Redis and nothing else. Each message
names the group it was sent to, so a process in several of them still
delivers each event once per matching subscription.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import weakref
from collections.abc import Iterable
from typing import Any, Protocol

from channels.layers import get_channel_layer

from ..conf import wsrpc_settings
from ..core.topics import is_pattern, matches

__all__ = ["Hub", "Subscriber", "get_hub", "publish_groups", "user_group", "CONTROL_GROUP", "event_frame"]

logger = logging.getLogger("wsrpc")

CONTROL_GROUP = "wsrpc.control"
ANY_GROUP = "wsrpc.any"
EVENT = "wsrpc.event"
USER = "wsrpc.user"
CONTROL = "wsrpc.control"
# Channels refuses group names of 100 characters or more.
_MAX_GROUP = 99


class Subscriber(Protocol):
    """What the hub needs of a connection."""

    def deliver(self, frame: str) -> None: ...

    async def revoke(self, name: str, reason: str) -> None: ...


def _group(prefix: str, key: str) -> str:
    name = f"{prefix}{key}"
    if len(name) <= _MAX_GROUP:
        return name
    return f"wsrpc.h.{hashlib.sha256(name.encode()).hexdigest()}"


def subscription_group(name: str) -> str:
    """The group a subscription to ``name`` (a topic or a pattern) listens on."""
    if not is_pattern(name):
        return _group("wsrpc.t.", name)
    first = name.split(".", 1)[0]
    return ANY_GROUP if first in ("*", "#") else _group("wsrpc.p.", first)


def publish_groups(topic: str) -> tuple[str, str, str]:
    """The groups a publish to the concrete ``topic`` goes to."""
    return _group("wsrpc.t.", topic), _group("wsrpc.p.", topic.split(".", 1)[0]), ANY_GROUP


def user_group(user_key: str) -> str:
    return _group("wsrpc.u.", user_key)


def event_frame(topic_json: str, data_json: str, subscription_json: str | None) -> str:
    """An ``rpc.event`` notification, assembled from already encoded parts."""
    extra = f',"subscription":{subscription_json}' if subscription_json is not None else ""
    return f'{{"jsonrpc":"2.0","method":"rpc.event","params":{{"topic":{topic_json},"data":{data_json}{extra}}}}}'


def _json_string(value: str) -> str:
    # Topic names hold only [A-Za-z0-9_.*#-], which need no escaping.
    return f'"{value}"'


class Hub:
    """Local subscribers by group, and the one channel that feeds them."""

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.channel = ""
        #: group -> subscription name (topic or pattern) -> subscribers
        self.routes: dict[str, dict[str, set[Subscriber]]] = {}
        #: user group -> that user's connections here
        self.user_routes: dict[str, set[Subscriber]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.control_handlers: list[Any] = []

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

    # Subscriptions ----------------------------------------------------------

    def names_of(self, subscriber: Subscriber) -> Iterable[str]:
        return [name for names in self.routes.values() for name, subs in names.items() if subscriber in subs]

    async def subscribe(self, subscriber: Subscriber, name: str) -> bool:
        """Add a subscription; False when it was there already."""
        group = subscription_group(name)
        names = self.routes.get(group)
        joining = names is None
        if names is None:
            names = self.routes[group] = {}
        subscribers = names.setdefault(name, set())
        if subscriber in subscribers:
            return False
        subscribers.add(subscriber)
        if joining:
            await self.layer.group_add(group, self.channel)
        return True

    async def unsubscribe(self, subscriber: Subscriber, name: str) -> bool:
        """Remove a subscription; False when there was none."""
        group = subscription_group(name)
        names = self.routes.get(group, {})
        subscribers = names.get(name)
        if not subscribers or subscriber not in subscribers:
            return False
        subscribers.discard(subscriber)
        if not subscribers:
            del names[name]
            if not names:
                del self.routes[group]
                await self.layer.group_discard(group, self.channel)
        return True

    async def join_user(self, subscriber: Subscriber, user_key: str) -> None:
        group = user_group(user_key)
        members = self.user_routes.setdefault(group, set())
        members.add(subscriber)
        if len(members) == 1:
            await self.layer.group_add(group, self.channel)

    async def leave_user(self, subscriber: Subscriber, user_key: str) -> None:
        group = user_group(user_key)
        members = self.user_routes.get(group)
        if members is None or subscriber not in members:
            return
        members.discard(subscriber)
        if not members:
            del self.user_routes[group]
            await self.layer.group_discard(group, self.channel)

    # Incoming from the layer ------------------------------------------------

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

    async def handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == EVENT:
            self._deliver_event(message["group"], message["topic"], message["data"])
        elif kind == USER:
            frame = message["frame"]
            for subscriber in list(self.user_routes.get(message["group"], ())):
                subscriber.deliver(frame)
        elif kind == CONTROL:
            for handler in list(self.control_handlers):
                await handler(self, message)
        else:
            logger.warning("ignored a channel layer message of unknown type %r", kind)

    def _deliver_event(self, group: str, topic: str, data: bytes | str) -> None:
        names = self.routes.get(group)
        if not names:
            return
        data_json = data.decode() if isinstance(data, bytes) else data
        topic_json = _json_string(topic)
        for name, subscribers in list(names.items()):
            if name == topic:
                frame = event_frame(topic_json, data_json, None)
            elif is_pattern(name) and matches(name, topic):
                frame = event_frame(topic_json, data_json, _json_string(name))
            else:
                continue
            for subscriber in list(subscribers):
                subscriber.deliver(frame)

    # Keeping memberships alive ---------------------------------------------

    def refresh_interval(self) -> float:
        configured = wsrpc_settings.GROUP_REFRESH_INTERVAL
        if configured is not None:
            return float(configured)
        try:
            expiry = float(self.layer.group_expiry)
        except AttributeError:
            return 3600.0
        return max(min(expiry / 3, 3600.0), 0.5)

    async def _refresh(self) -> None:
        # channels_redis drops group members after group_expiry (a day by
        # default); re-adding them well before that keeps subscriptions alive.
        while True:
            await asyncio.sleep(self.refresh_interval())
            groups = [CONTROL_GROUP, *self.routes, *self.user_routes]
            for group in groups:
                try:
                    await self.layer.group_add(group, self.channel)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("could not refresh membership of group %r", group)


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()
_starting: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


async def get_hub() -> Hub:
    """The hub of the running event loop, started on first use."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is not None:
        return hub
    lock = _starting.setdefault(loop, asyncio.Lock())
    async with lock:
        hub = _hubs.get(loop)
        if hub is None:
            layer = get_channel_layer(wsrpc_settings.CHANNEL_LAYER)
            if layer is None:
                raise RuntimeError(f"no channel layer {wsrpc_settings.CHANNEL_LAYER!r} in CHANNEL_LAYERS")
            hub = Hub(layer)
            from ..acl.access import recheck_subscriptions

            hub.control_handlers.append(recheck_subscriptions)
            await hub.start()
            _hubs[loop] = hub
    return hub


def current_hub() -> Hub | None:
    """The running loop's hub, if one was started."""
    try:
        return _hubs.get(asyncio.get_running_loop())
    except RuntimeError:
        return None
