"""Finding the connections that went quiet: one timer per event loop for all of them.

A timer per connection costs about 700 bytes (an asyncio ``TimerHandle``,
uvloop's timer and their arguments) for a deadline that is almost never
reached. Instead each event loop has one :class:`IdleSweep`: it looks at
every watched connection's ``last_seen`` a few times per idle period and
calls ``idled()`` on those quiet for longer. A connection is closed between
``idle`` and ``idle`` plus a quarter of it (at most 5 s) after its last frame.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Protocol

__all__ = ["Watched", "IdleSweep", "idle_sweep"]

#: The longest time between two sweeps, in seconds.
MAX_INTERVAL = 5.0


class Watched(Protocol):
    """What the sweep needs of a connection."""

    #: The event loop's time of its last frame.
    last_seen: float

    def idled(self) -> None:
        """It was quiet for its idle timeout: close it."""


class IdleSweep:
    """The watched connections of one event loop, each with its idle timeout in seconds."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.watched: dict[Watched, float] = {}
        self._interval = MAX_INTERVAL
        self._timer: asyncio.TimerHandle | None = None

    def watch(self, connection: Watched, idle: float) -> None:
        self.watched[connection] = idle
        interval = min(idle / 4, MAX_INTERVAL)
        if self._timer is None or interval < self._interval:
            self._interval = interval
            self._schedule()

    def forget(self, connection: Watched) -> None:
        self.watched.pop(connection, None)

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.loop.call_later(self._interval, self._sweep)

    def _sweep(self) -> None:
        self._timer = None
        now = self.loop.time()
        quiet = [c for c, idle in self.watched.items() if now - c.last_seen >= idle]
        for connection in quiet:
            del self.watched[connection]
            connection.idled()
        if self.watched:
            self._interval = min(min(self.watched.values()) / 4, MAX_INTERVAL)
            self._schedule()


_sweeps: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, IdleSweep] = weakref.WeakKeyDictionary()


def idle_sweep() -> IdleSweep:
    """The running event loop's sweep."""
    loop = asyncio.get_running_loop()
    sweep = _sweeps.get(loop)
    if sweep is None:
        sweep = _sweeps[loop] = IdleSweep(loop)
    return sweep
