"""The running event loop's hub, history store and presence store, made on first use; what a permission change does."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable, Mapping
from typing import TypeVar

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings

from ..acl.access import aallowed, invalidate
from ..conf import wsrpc_settings
from .hub import ChannelLayer, Hub
from .messages import ControlMessage
from .orders import carry_out
from .presence_store import MemoryPresence, PresenceStore, RedisPresence
from .probe import RedisProbe
from .redis_store import RedisStore
from .relay import Relay, wire_for
from .store import HistoryStore, MemoryStore
from .stream import new_epoch

__all__ = [
    "get_hub",
    "current_hub",
    "channel_layer",
    "relay",
    "history_store",
    "presence_store",
    "history_backend",
    "recheck_subscriptions",
]

logger = logging.getLogger("wsrpc")

M = TypeVar("M")
R = TypeVar("R")

_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()
_starting: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


def channel_layer() -> ChannelLayer:
    """The layer ``CHANNEL_LAYER`` names; RuntimeError when there is none."""
    layer: ChannelLayer | None = get_channel_layer(wsrpc_settings.CHANNEL_LAYER)
    if layer is None:
        raise RuntimeError(f"no channel layer {wsrpc_settings.CHANNEL_LAYER!r} in CHANNEL_LAYERS")
    return layer


_relays: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[object, Relay]] = weakref.WeakKeyDictionary()


def relay() -> Relay:
    """The running loop's relay onto the channel layer (:mod:`.relay`)."""
    layer = channel_layer()
    loop = asyncio.get_running_loop()
    made = _relays.get(loop)
    if made is None or made[0] is not layer:
        made = _relays[loop] = (layer, Relay(wire_for(layer)))
    return made[1]


_memory_stores: weakref.WeakKeyDictionary[object, MemoryStore] = weakref.WeakKeyDictionary()
_redis_stores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[object, RedisStore]] = (
    weakref.WeakKeyDictionary()
)


def history_backend() -> str | None:
    """Where the channel layer's topics keep history: ``"redis"``, ``"memory"``, or None when it cannot."""
    backend = _layer_settings().get("BACKEND")
    if not isinstance(backend, str):
        return None
    if backend.startswith("channels_redis."):
        return "redis"
    if backend == "channels.layers.InMemoryChannelLayer":
        return "memory"
    return None


def _layer_settings() -> Mapping[str, object]:
    layers = getattr(settings, "CHANNEL_LAYERS", {}) or {}
    config = layers.get(wsrpc_settings.CHANNEL_LAYER, {})
    return config if isinstance(config, Mapping) else {}


def _redis_hosts() -> tuple[list[dict[str, object]], str]:
    """The Redis hosts of the channel layer, decoded as channels_redis does, and its key prefix."""
    from channels_redis.utils import decode_hosts

    config = _layer_settings().get("CONFIG")
    config = config if isinstance(config, Mapping) else {}
    return decode_hosts(config.get("hosts")), str(config.get("prefix", "asgi"))


def history_store() -> HistoryStore | None:
    """The running loop's history store; None with a channel layer that has none."""
    return _layer_store(_memory_stores, MemoryStore, _redis_stores, _history_on_redis)


def _history_on_redis(hosts: list[dict[str, object]], prefix: str) -> RedisStore:
    from channels_redis.utils import decode_hosts

    return RedisStore(decode_hosts(wsrpc_settings.HISTORY_HOSTS) if wsrpc_settings.HISTORY_HOSTS else hosts, prefix)


_memory_presences: weakref.WeakKeyDictionary[object, MemoryPresence] = weakref.WeakKeyDictionary()
_redis_presences: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[object, RedisPresence]] = (
    weakref.WeakKeyDictionary()
)


def presence_store() -> PresenceStore | None:
    """The running loop's presence store (on the channel layer's Redis); None with a layer that has none."""
    return _layer_store(_memory_presences, MemoryPresence, _redis_presences, RedisPresence)


def _layer_store(
    memory: weakref.WeakKeyDictionary[object, M],
    make_memory: Callable[[], M],
    redis: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[object, R]],
    make_redis: Callable[[list[dict[str, object]], str], R],
) -> M | R | None:
    """The store for the channel layer: one per in-memory layer, one per loop on Redis (its connections' loop)."""
    layer = channel_layer()
    if isinstance(layer, InMemoryChannelLayer):
        store = memory.get(layer)
        if store is None:
            store = memory[layer] = make_memory()
        return store
    if history_backend() != "redis":
        return None
    loop = asyncio.get_running_loop()
    made = redis.get(loop)
    if made is None or made[0] is not layer:
        made = redis[loop] = (layer, make_redis(*_redis_hosts()))
    return made[1]


def _probe() -> RedisProbe | None:
    """A watch on the channel layer's Redis, for a new hub; None for a layer without Redis."""
    if history_backend() != "redis":
        return None
    hosts, prefix = _redis_hosts()
    return RedisProbe(hosts, prefix, new_epoch())


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
            hub = Hub(channel_layer(), history_store(), _probe(), presence_store())
            hub.control_handlers.append(recheck_subscriptions)
            hub.command_handler = carry_out
            await hub.start()
            _hubs[loop] = hub
    return hub


def current_hub() -> Hub | None:
    """The running loop's hub, if one was started."""
    try:
        return _hubs.get(asyncio.get_running_loop())
    except RuntimeError:
        return None


async def recheck_subscriptions(hub: Hub, message: ControlMessage) -> None:
    """A permission changed somewhere: forget, then end the subscriptions no longer granted here."""
    invalidate()
    for name, subscriber in hub.routes.subscriptions():
        if name in getattr(subscriber, "granted", ()):
            continue  # server code made it (subscribe_user); server code ends it, not a permission change
        try:
            still = await aallowed(subscriber.user, "subscribe", name)
        except Exception:
            logger.exception("could not recheck the subscription to %r", name)
            continue
        if not still:
            await hub.unsubscribe(subscriber, name)
            await subscriber.revoke(name, "permission revoked")
