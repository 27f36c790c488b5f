"""The hub of the running event loop, started on first use, and what it does on a permission change."""

from __future__ import annotations

import asyncio
import logging
import weakref

from channels.layers import get_channel_layer

from ..acl.access import aallowed, invalidate
from ..conf import wsrpc_settings
from .hub import ChannelLayer, Hub
from .messages import ControlMessage

__all__ = ["get_hub", "current_hub", "channel_layer", "recheck_subscriptions"]

logger = logging.getLogger("wsrpc")

_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()
_starting: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


def channel_layer() -> ChannelLayer:
    """The layer ``CHANNEL_LAYER`` names; RuntimeError when there is none."""
    layer: ChannelLayer | None = get_channel_layer(wsrpc_settings.CHANNEL_LAYER)
    if layer is None:
        raise RuntimeError(f"no channel layer {wsrpc_settings.CHANNEL_LAYER!r} in CHANNEL_LAYERS")
    return layer


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
            hub = Hub(channel_layer())
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
