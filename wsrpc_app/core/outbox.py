"""The frames waiting to be written to one peer, in order and bounded.

Replies are written straight away when nothing is queued ahead of them, so
the common case costs no extra task switch. Events pushed by the fan-out
never wait: they are queued, and a peer whose queue reaches the limit (a
client that stopped reading) is dropped through ``on_overflow`` instead of
growing memory or slowing everyone else.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable

from . import eager
from .errors import PeerDisconnected
from .types import SendText

__all__ = ["Outbox"]

logger = logging.getLogger("wsrpc")


class Outbox:
    """Writes frames to one peer through ``write``, one at a time, in order.

    ``limit`` is the most frames that may wait (``None``: no bound). The
    queue exists only while frames wait: an idle connection holds none.
    """

    __slots__ = ("_write", "limit", "_on_overflow", "_queue", "_writing", "_drainer", "closed")

    def __init__(self, write: SendText, *, limit: int | None, on_overflow: Callable[[], None]) -> None:
        self._write = write
        self.limit = limit
        self._on_overflow = on_overflow
        self._queue: collections.deque[str] | None = None
        self._writing = False
        self._drainer: asyncio.Task[None] | None = None
        self.closed = False

    def __len__(self) -> int:
        return len(self._queue) if self._queue is not None else 0

    def push(self, frame: str) -> bool:
        """Queue a frame without waiting; False when it was dropped."""
        if self.closed:
            return False
        if not self._writing:
            # Written at once while the transport takes it; a task only if it has to wait.
            self._writing = True
            self._drainer = eager.start(self._flush(frame))
            return True
        queue = self._queue
        if queue is None:
            queue = self._queue = collections.deque()
        if self.limit is not None and len(queue) >= self.limit:
            self.close()
            self._on_overflow()
            return False
        queue.append(frame)
        return True

    async def send(self, frame: str) -> None:
        """Write a frame after those queued before it.

        Raises :class:`PeerDisconnected` when the peer cannot be written to.
        """
        if self.closed:
            raise PeerDisconnected("the connection is closed")
        if self._writing:
            if not self.push(frame):
                raise PeerDisconnected("the outbound queue overflowed")
            return
        self._writing = True
        try:
            await self._write(frame)
        finally:
            self._hand_over()  # even when this write failed or its sender gave up

    def _hand_over(self) -> None:
        # Frames queued during a write go out on a drainer of their own: a
        # sender waits for its own frame, never for the ones behind it.
        if self._queue and not self.closed:
            self._drainer = eager.start(self._flush(None))
        else:
            self._queue = None
            self._writing = False

    async def _drain(self) -> None:
        queue = self._queue
        while queue and not self.closed:
            await self._write(queue.popleft())
        self._queue = None
        self._writing = False

    async def _flush(self, frame: str | None) -> None:
        """Write ``frame`` (if any) and what waits behind it, closing the outbox if the transport fails."""
        try:
            if frame is not None:
                await self._write(frame)
            await self._drain()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the peer is gone; the transport reports the close
            logger.debug("dropped %d queued frames: %r", len(self), exc)
            self.close()

    def close(self) -> None:
        """Drop what is queued and refuse more."""
        self.closed = True
        self._queue = None
        drainer = self._drainer
        if drainer is not None and not drainer.done() and drainer is not asyncio.current_task():
            drainer.cancel()
