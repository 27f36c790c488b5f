"""The hub and the history store of the running event loop, made on first use; what a permission change does."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Mapping

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings

from ..acl.access import aallowed, invalidate
from ..conf import wsrpc_settings
from .hub import ChannelLayer, Hub
from .messages import ControlMessage
from .redis_store import RedisStore
from .store import HistoryStore, MemoryStore

__all__ = ["get_hub", "current_hub", "channel_layer", "history_store", "history_backend", "recheck_subscriptions"]

logger = logging.getLogger("wsrpc")

_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()
_starting: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


def channel_layer() -> ChannelLayer:
    """The layer ``CHANNEL_LAYER`` names; RuntimeError when there is none."""
    layer: ChannelLayer | None = get_channel_layer(wsrpc_settings.CHANNEL_LAYER)
    if layer is None:
        raise RuntimeError(f"no channel layer {wsrpc_settings.CHANNEL_LAYER!r} in CHANNEL_LAYERS")
    return layer


_memory_stores: weakref.WeakKeyDictionary[object, MemoryStore] = weakref.WeakKeyDictionary()
_redis_stores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[object, RedisStore, RedisStore]] = (
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


def history_store() -> HistoryStore | None:
    """The running loop's history store; None with a channel layer that has none."""
    return _stores()[0]


def _stores() -> tuple[HistoryStore | None, RedisStore | None]:
    """The history store and the probe of the layer's Redis, for the running loop."""
    layer = channel_layer()
    if isinstance(layer, InMemoryChannelLayer):
        store = _memory_stores.get(layer)
        if store is None:
            store = _memory_stores[layer] = MemoryStore()
        return store, None
    if history_backend() != "redis":
        return None, None
    loop = asyncio.get_running_loop()
    made = _redis_stores.get(loop)
    if made is None or made[0] is not layer:
        from channels_redis.utils import decode_hosts

        config = _layer_settings().get("CONFIG")
        config = config if isinstance(config, Mapping) else {}
        prefix = str(config.get("prefix", "asgi"))
        probe = RedisStore(decode_hosts(config.get("hosts")), prefix)
        hosts = wsrpc_settings.HISTORY_HOSTS
        made = (layer, RedisStore(decode_hosts(hosts), prefix) if hosts else probe, probe)
        _redis_stores[loop] = made
    return made[1], made[2]


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
            store, probe = _stores()
            hub = Hub(channel_layer(), store, probe)
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


async def recheck_subscriptions(hub: Hub, message: ControlMessage) -> None:
    """A permission changed somewhere: forget, then end the subscriptions no longer granted here."""
    invalidate()
    for name, subscriber in hub.routes.subscriptions():
        try:
            still = await aallowed(subscriber.user, "subscribe", name)
        except Exception:
            logger.exception("could not recheck the subscription to %r", name)
            continue
        if not still:
            await hub.unsubscribe(subscriber, name)
            await subscriber.revoke(name, "permission revoked")
