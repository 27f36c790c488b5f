"""Whether the channel layer's Redis dropped its connections or lost its data since it was last asked.

A Redis that restarts, is flushed, or drops its clients (a network blink,
``CLIENT KILL``, a failover) can leave the layer's subscriptions and group
memberships gone while its clients reconnect silently. The hub asks a
:class:`RedisProbe` every ``WATCH_INTERVAL``: the probe keeps one connection
of its own to each host and a marker key in each; a new connection id means
the connections were dropped, a missing marker that the data was lost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisProbe"]


class RedisProbe:
    """Watches the Redis hosts of a channel layer (channels_redis' ``hosts`` format) under ``prefix``."""

    def __init__(self, hosts: Sequence[Mapping[str, object]], prefix: str, marker: str) -> None:
        from channels_redis.utils import create_pool
        from redis.asyncio import Redis

        self._key = f"{prefix}:wsrpc:alive:{marker}"
        self._clients: list[Redis] = [
            Redis(connection_pool=create_pool(dict(host)), single_connection_client=True) for host in hosts
        ]
        self._ids: list[int | None] = [None] * len(self._clients)

    async def disturbed(self) -> bool:
        """Whether some host dropped this probe's connection or lost the marker since the last call.

        The first call only takes note. Raises the client's error when a host
        cannot be reached.
        """
        disturbed = False
        for index, client in enumerate(self._clients):
            connection_id = int(await client.client_id())
            had_marker = await client.set(self._key, 1, ex=60, get=True) is not None
            seen = self._ids[index]
            self._ids[index] = connection_id
            if seen is not None and (connection_id != seen or not had_marker):
                disturbed = True
        return disturbed

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose()
