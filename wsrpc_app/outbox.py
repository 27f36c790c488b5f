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

    ``limit`` is the most frames that may wait (``None``: no bound).
    """

    def __init__(self, write: SendText, *, limit: int | None, on_overflow: Callable[[], None]) -> None:
        self._write = write
        self.limit = limit
        self._on_overflow = on_overflow
        self._queue: collections.deque[str] = collections.deque()
        self._writing = False
        self._drainer: asyncio.Task[None] | None = None
        self.closed = False

    def __len__(self) -> int:
        return len(self._queue)

    def push(self, frame: str) -> bool:
        """Queue a frame without waiting; False when it was dropped."""
        if self.closed:
            return False
        if self.limit is not None and len(self._queue) >= self.limit:
            self.close()
            self._on_overflow()
            return False
        self._queue.append(frame)
        if not self._writing:
            # Written at once while the transport takes it; a task only if it has to wait.
            self._writing = True
            self._drainer = eager.start(self._drain_quietly())
        return True

    async def send(self, frame: str) -> None:
        """Write a frame after those queued before it.

        Raises :class:`PeerDisconnected` when the peer cannot be written to.
        """
        if self.closed:
            raise PeerDisconnected("the connection is closed")
        if self._writing or self._queue:
            if not self.push(frame):
                raise PeerDisconnected("the outbound queue overflowed")
            return
        self._writing = True
        try:
            await self._write(frame)
            await self._drain()
        except BaseException:
            self._writing = False
            raise

    async def _drain(self) -> None:
        queue = self._queue
        while queue and not self.closed:
            await self._write(queue.popleft())
        self._writing = False

    async def _drain_quietly(self) -> None:
        try:
            await self._drain()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the peer is gone; the transport reports the close
            logger.debug("dropped %d queued frames: %r", len(self._queue), exc)
            self.close()

    def close(self) -> None:
        """Drop what is queued and refuse more."""
        self.closed = True
        self._queue.clear()
        drainer = self._drainer
        if drainer is not None and not drainer.done() and drainer is not asyncio.current_task():
            drainer.cancel()
