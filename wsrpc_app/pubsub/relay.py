"""The group messages of one process's publishes onto the channel layer, many publishes in one round trip.

Every publish and user notification of an event loop goes through its
:class:`Relay`: what the loop's tasks hand in while the
previous batch is on its way goes out together next, through the fastest
:mod:`.wire` the layer allows. One batch is under way at a time, so a
publish storm holds a bounded number of Redis connections, never the
whole pool, and batches go out in the order they were made.
"""

from __future__ import annotations

from collections.abc import Sequence

from .batching import Batcher
from .wire import GroupMessage, GroupSender, LayerWire, Wire

__all__ = ["Relay", "wire_for", "MAX_WAITING", "SEND_TIMEOUT"]

#: Publishes a relay holds while the layer is busy; one more is refused as overload.
MAX_WAITING = 10_000
#: Seconds a batch may take on the layer before its publishes are told the layer did not answer.
SEND_TIMEOUT = 5.0


class Relay:
    """Sends lists of group messages (one list per publish) through ``wire``, in batches."""

    def __init__(self, wire: Wire) -> None:
        self.wire = wire
        self._batcher: Batcher[Sequence[GroupMessage], None] = Batcher(
            self._flush, limit=MAX_WAITING, timeout=SEND_TIMEOUT
        )

    async def send(self, messages: Sequence[GroupMessage]) -> None:
        """Send ``messages`` in the next batch; raises what sending the batch raised.

        :class:`~.batching.Overloaded` when :data:`MAX_WAITING` publishes
        already wait, :class:`TimeoutError` after :data:`SEND_TIMEOUT`.
        """
        await self._batcher.submit(messages)

    async def _flush(self, batch: list[Sequence[GroupMessage]]) -> list[None]:
        await self.wire.send([message for messages in batch for message in messages])
        return [None] * len(batch)


def wire_for(layer: GroupSender) -> Wire:
    """The fastest wire that writes what ``layer`` would: a channels_redis one for its exact classes.

    Call it in the event loop that will use the wire: the channels_redis
    wires hold that loop's connections.
    """
    try:
        from .redis_wire import redis_wire_for
    except ImportError:  # channels_redis not installed
        return LayerWire(layer)
    return redis_wire_for(layer) or LayerWire(layer)
