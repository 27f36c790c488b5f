"""Progress of a running request: ``rpc.progress`` notifications, at most so many a second.

A method that takes a parameter named ``progress`` gets a :class:`Progress`
(filled by wsrpc like ``connection``, never from the request).
``progress(value)`` reports ``value`` to the caller, who receives
``{"jsonrpc": "2.0", "method": "rpc.progress", "params": {"id": ID, "value": value}}``
before the reply. It may be called from the event loop (and awaited, or not)
or from the worker thread of a sync method. Reports faster than the rate are
coalesced: the latest waits for its turn and replaces any that waited
before it; the latest of all goes out before the reply (SPEC: at least ten a
second get through). Over HTTP, and after the request ended, reports go
nowhere.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
from collections.abc import Callable, Generator
from typing import Generic, TypeVar

from . import protocol
from .types import JSON, Id

__all__ = ["Progress", "Reporter", "Gate", "current", "running", "NOWHERE"]

T = TypeVar("T")


class Gate(Generic[T]):
    """No I/O: which reports go at once and which wait, at most ``rate`` a second (``None``: no bound)."""

    __slots__ = ("interval", "last", "_held")

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        #: When the last report went.
        self.last = -math.inf
        self._held: list[T] = []

    def offer(self, report: T, now: float) -> bool:
        """True: send ``report`` now. False: it waits, replacing the one that waited, until :attr:`due`."""
        # A microsecond of slack: reports exactly one interval apart all go, whatever the float rounding.
        if not self._held and now >= self.last + self.interval - 1e-6:
            self.last = now
            return True
        self._held[:] = [report]
        return False

    @property
    def due(self) -> float:
        """When the report waiting may go."""
        return self.last + self.interval

    def take(self, now: float) -> list[T]:
        """The report that waited (none or one), to send now."""
        held, self._held = self._held, []
        if held:
            self.last = now
        return held


class _Reported:
    """What ``progress(value)`` returns: awaiting it is optional and returns at once."""

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        return
        yield


_REPORTED = _Reported()


class Progress:
    """Reports a request's progress to its caller: ``progress(value)`` or ``await progress(value)``.

    This one reports to nobody: what a method gets over HTTP, or for a
    notification, which no caller waits for.
    """

    __slots__ = ()

    def __call__(self, value: JSON) -> _Reported:
        return _REPORTED

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


#: The reporter of requests whose caller hears no progress.
NOWHERE = Progress()


class Reporter(Progress):
    """Progress of the request ``id_``: frames through ``send``, at most ``rate`` a second.

    Safe to call from any thread; the frames go from ``loop``. :meth:`end`
    when the request has its outcome: no report goes after that.
    """

    __slots__ = ("_id", "_send", "_loop", "_gate", "_timer", "_ended")

    def __init__(
        self, id_: Id, send: Callable[[bytes], object], *, rate: float | None, loop: asyncio.AbstractEventLoop
    ) -> None:
        self._id = id_
        self._send = send
        self._loop = loop
        self._gate: Gate[bytes] = Gate(rate)
        self._timer: asyncio.TimerHandle | None = None
        self._ended = False

    def __call__(self, value: JSON) -> _Reported:
        """Raises :class:`TypeError` at once when ``value`` has no JSON form."""
        frame = protocol.progress(self._id, value)
        if _running_loop() is self._loop:
            self._report(frame)
        else:
            try:
                self._loop.call_soon_threadsafe(self._report, frame)
            except RuntimeError:  # the loop is closed: nobody to report to
                pass
        return _REPORTED

    def _report(self, frame: bytes) -> None:
        if self._ended:
            return
        if self._gate.offer(frame, self._loop.time()):
            self._send(frame)
        elif self._timer is None:
            self._timer = self._loop.call_at(self._gate.due, self._release)

    def _release(self) -> None:
        self._timer = None
        for frame in self._gate.take(self._loop.time()):
            self._send(frame)

    def end(self, *, flush: bool) -> None:
        """The request has its outcome: send the report that waits when ``flush``, and none after."""
        if self._ended:
            return
        self._ended = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        held = self._gate.take(self._loop.time())
        if flush:
            for frame in held:
                self._send(frame)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


#: Makes the reporter of the request running in this context (set by the endpoint).
_current: contextvars.ContextVar[Callable[[], Progress] | None] = contextvars.ContextVar("wsrpc_progress", default=None)


def current() -> Progress:
    """The reporter of the request running in this context; :data:`NOWHERE` outside one."""
    make = _current.get()
    return NOWHERE if make is None else make()


def running(make: Callable[[], Progress]) -> None:
    """The request running in this context reports through what ``make()`` returns."""
    _current.set(make)
