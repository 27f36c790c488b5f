"""Many tasks' requests joined into one round trip: what arrives while the previous one is under way goes next.

A :class:`Batcher` runs one flush at a time. Items submitted during one
loop turn, or while a flush is waiting on the network, are flushed
together, in the order they were submitted: idle, a request goes out on
the next loop turn; under load, batches grow by themselves and the round
trips per item fall. No timer holds anything back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["Batcher", "Overloaded"]

T = TypeVar("T")
R = TypeVar("R")


class Overloaded(Exception):
    """More items wait than the batcher's limit: the other end does not keep up."""


class Batcher(Generic[T, R]):
    """Joins submitted items into batches for ``await flush(items)``, which returns one result per item, in order.

    A flush that raises fails every item of its batch with that exception;
    one that takes longer than ``timeout`` seconds fails them with
    :class:`TimeoutError`. At most ``limit`` items wait: beyond that,
    :meth:`submit` raises :class:`Overloaded` at once.
    """

    def __init__(
        self,
        flush: Callable[[list[T]], Awaitable[Sequence[R]]],
        *,
        limit: int,
        timeout: float,
    ) -> None:
        self._flush = flush
        self.limit = limit
        self.timeout = timeout
        self._items: list[T] = []
        self._futures: list[asyncio.Future[R]] = []
        self._runner: asyncio.Task[None] | None = None

    @property
    def waiting(self) -> int:
        """Items submitted and not yet being flushed."""
        return len(self._items)

    def submit(self, item: T) -> asyncio.Future[R]:
        """Queue ``item`` for the next flush; its future gets its result or the flush's exception."""
        if len(self._items) >= self.limit:
            raise Overloaded(f"{len(self._items)} waiting")
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._items.append(item)
        self._futures.append(future)
        if self._runner is None:
            self._runner = asyncio.ensure_future(self._run())
        return future

    async def _run(self) -> None:
        try:
            while self._items:
                items, futures = self._items, self._futures
                self._items, self._futures = [], []
                await self._flush_one(items, futures)
        except asyncio.CancelledError:
            # The loop is closing: whoever still waits is told, not left hanging.
            for future in self._futures:
                future.cancel()
            self._items, self._futures = [], []
            raise
        finally:
            self._runner = None

    async def _flush_one(self, items: list[T], futures: list[asyncio.Future[R]]) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                results = await self._flush(items)
        except asyncio.CancelledError:
            for future in futures:
                future.cancel()
            raise
        except Exception as exc:
            for future in futures:
                if not future.done():
                    future.set_exception(exc)
            # Retrieved here, so that callers that stopped waiting leave no "never retrieved" warning.
            for future in futures:
                if not future.cancelled():
                    future.exception()
            return
        for future, result in zip(futures, results, strict=True):
            if not future.done():
                future.set_result(result)
