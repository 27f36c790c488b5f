"""Running the application's callbacks (events, progress): sync ones at once, async ones on tasks of their own."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable

__all__ = ["Callbacks"]

logger = logging.getLogger("wsrpc")


class Callbacks:
    """Calls callbacks in the order things happen; an async one's task is kept until it ends or :meth:`cancel`.

    A callback that raises is logged, never raised to whoever called :meth:`run`.
    """

    __slots__ = ("tasks",)

    def __init__(self) -> None:
        #: The tasks of async callbacks still running.
        self.tasks: set[asyncio.Future[object]] = set()

    def run(self, callback: Callable[..., object], args: tuple[object, ...], what: str) -> None:
        """Call ``callback(*args)`` now; start it on a task if it returns an awaitable. ``what`` names it in logs."""
        try:
            outcome = callback(*args)
        except Exception:
            logger.exception("%s failed", what)
            return
        if inspect.isawaitable(outcome):
            task = asyncio.ensure_future(outcome)
            self.tasks.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Future[object]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("a callback failed", exc_info=task.exception())

    def cancel(self) -> list[asyncio.Future[object]]:
        """Cancel the running tasks; they are returned, to await if need be."""
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        return tasks
