"""How a batch of group messages goes onto the channel layer.

Every wire sends what a batch holds for one destination (a group, or a
channel) as one message: a ``wsrpc.batch`` when there are several
(:func:`~.messages.batch_message`), which the receiving hub takes apart.
:class:`LayerWire` uses the layer's own ``group_send``, which every layer
has. For the two layers of channels_redis, :mod:`.redis_wire` puts a whole
batch on Redis in one or two round trips, writing exactly what the layer's
``group_send`` would write for those messages;
:func:`~.relay.wire_for` picks one of those only for a layer whose class it
knows, and ``LayerWire`` for any other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Protocol

from .messages import batch_message

__all__ = ["GroupMessage", "Wire", "LayerWire", "GroupSender", "by_group"]

#: A message and the group it is for.
GroupMessage = tuple[str, Mapping[str, object]]

#: How many group sends :class:`LayerWire` has under way at once.
CONCURRENCY = 32


class GroupSender(Protocol):
    async def group_send(self, group: str, message: Mapping[str, object]) -> None: ...


class Wire(Protocol):
    """Sends a batch of group messages; raises when they cannot all be sent."""

    async def send(self, messages: Sequence[GroupMessage]) -> None: ...


class LayerWire:
    """Through the layer's ``group_send``: one message per group and batch, up to :data:`CONCURRENCY` groups at once."""

    def __init__(self, layer: GroupSender) -> None:
        self.layer = layer
        self._slots = asyncio.Semaphore(CONCURRENCY)

    async def send(self, messages: Sequence[GroupMessage]) -> None:
        await asyncio.gather(*(self._send(group, batch_message(parts)) for group, parts in by_group(messages).items()))

    async def _send(self, group: str, message: Mapping[str, object]) -> None:
        async with self._slots:
            await self.layer.group_send(group, message)


def by_group(messages: Sequence[GroupMessage]) -> dict[str, list[Mapping[str, object]]]:
    """Each group's messages, in the order they were sent: what one ``wsrpc.batch`` carries there."""
    grouped: dict[str, list[Mapping[str, object]]] = {}
    for group, message in messages:
        grouped.setdefault(group, []).append(message)
    return grouped
