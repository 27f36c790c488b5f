"""Whether the channel layer answers now: a round trip, for ``wsrpc/health/``.

On a Redis layer every host of the layer is sent ``PING`` on a connection
of its own; on any other layer a message goes to a new channel and is read
back. Nothing is cached: each check asks the layer again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Protocol

from .process import _redis_hosts, channel_layer, history_backend

__all__ = ["check_layer"]


class _RoundTrip(Protocol):
    async def new_channel(self, prefix: str = ...) -> str: ...
    async def send(self, channel: str, message: Mapping[str, object]) -> None: ...
    async def receive(self, channel: str) -> Mapping[str, object]: ...


async def check_layer(timeout: float | None) -> None:
    """Return once the layer answered; raise its error, or :class:`TimeoutError` past ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        if history_backend() == "redis":
            await _ping_redis()
            return
        layer: _RoundTrip = channel_layer()  # type: ignore[assignment]  # every channel layer sends and receives
        channel = await layer.new_channel("wsrpc.health.")
        await layer.send(channel, {"type": "wsrpc.health"})
        await layer.receive(channel)


async def _ping_redis() -> None:
    from channels_redis.utils import create_pool
    from redis.asyncio import Redis

    hosts, _ = _redis_hosts()
    for host in hosts:
        client = Redis(connection_pool=create_pool(dict(host)))
        try:
            await client.ping()
        finally:
            await client.aclose(close_connection_pool=True)
