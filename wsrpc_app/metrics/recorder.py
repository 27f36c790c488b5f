"""What the server counts, and the switch: :func:`recorder` is a :class:`Recorder` or :data:`SILENT`.

The hooks in the server and in pub/sub call one method of whatever
:func:`recorder` gives; without ``prometheus_client``, or with
``WSRPC["METRICS"]`` false, that is :data:`SILENT`, whose methods do
nothing. The hot paths (frames, bytes, calls and their durations) add to
a tally of the thread's own, in plain integers, which reaches the
instruments :data:`FLUSH_INTERVAL` seconds later, in one step per series:
a scraper sees them a quarter of a second late at most, and a call costs
no lock. Everything else goes to the instruments at once.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import threading
import time
from collections.abc import Callable, Container
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from django.core.signals import setting_changed
from django.dispatch import receiver

from ..conf import wsrpc_settings

if TYPE_CHECKING:
    from prometheus_client import Counter, Histogram

__all__ = ["SILENT", "CallObserver", "ClientCall", "Recorder", "Silent", "available", "recorder"]

#: ``observe(method, code, seconds)``: one request answered (``method`` None for an invalid one, ``code`` 0 for ok).
CallObserver = Callable[[str | None, int, float], None]

#: The label of every method name that is not registered: bounded cardinality.
UNKNOWN = "unknown"
#: The error code of a refusal for a limit (-32029).
TOO_MANY_REQUESTS = -32029


def _size(text: str | bytes) -> int:
    # isascii() is O(1) for str: the length is the UTF-8 size without encoding.
    return len(text) if isinstance(text, bytes) or text.isascii() else len(text.encode())


_NOT_TIMED = contextlib.nullcontext()

#: Seconds a thread's tally of frames, bytes and calls waits before it is added to the instruments.
FLUSH_INTERVAL = 0.25


class _Calls:
    """One (method, outcome)'s calls not yet added: how many, their total seconds, how many per bucket."""

    __slots__ = ("count", "seconds", "buckets")

    def __init__(self, buckets: int) -> None:
        self.count = 0
        self.seconds = 0.0
        self.buckets = [0] * buckets


class _Tally:
    """One thread's frames, bytes and calls not yet added to the instruments."""

    __slots__ = ("frames_in", "bytes_in", "frames_out", "bytes_out", "calls", "due")

    def __init__(self) -> None:
        self.frames_in = self.bytes_in = self.frames_out = self.bytes_out = 0
        self.calls: dict[tuple[Counter, Histogram], _Calls] = {}
        #: The loop that will flush it, once something waits in it.
        self.due: asyncio.AbstractEventLoop | None = None


class Silent:
    """Records nothing: metrics are off or ``prometheus_client`` is not installed."""

    enabled = False

    def call_observer(self, registry: Container[str]) -> CallObserver | None:
        return None

    def connection_opened(self) -> None: ...
    def connection_closed(self, code: int) -> None: ...
    def frame_received(self, text: str | bytes) -> None: ...
    def frame_sent(self, text: str) -> None: ...
    def slow_consumer_closed(self, dropped: int) -> None: ...
    def client_call(self, method: str) -> AbstractContextManager[object]:
        return _NOT_TIMED

    def rate_limited(self, limit: str) -> None: ...
    def published(self) -> None: ...
    def delivered(self, count: int) -> None: ...
    def recovered(self, count: int) -> None: ...
    def gap(self, missed: tuple[int, int] | None) -> None: ...
    def layer_error(self, operation: str) -> None: ...
    def layer_reconnected(self) -> None: ...
    def history_operation(self, operation: str) -> None: ...
    def presence_operation(self, operation: str) -> None: ...


SILENT = Silent()


class ClientCall:
    """One call from the server to a client, timed: ``with`` it around the call; ``outcome`` says how it ended."""

    __slots__ = ("method", "outcome", "started")

    def __init__(self, method: str) -> None:
        self.method = method
        self.outcome = "ok"
        self.started = time.perf_counter()

    def __enter__(self) -> ClientCall:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: object) -> None:
        from ..core.errors import PeerDisconnected, RpcError
        from . import instruments

        if isinstance(error, PeerDisconnected):
            self.outcome = "disconnected"
        elif isinstance(error, RpcError):
            self.outcome = str(error.code)
        elif isinstance(error, TimeoutError):
            self.outcome = "timeout"
        elif error is not None:
            self.outcome = "error"
        instruments.CLIENT_CALLS.labels(self.method, self.outcome).inc()
        instruments.CLIENT_CALL_DURATION.labels(self.method).observe(time.perf_counter() - self.started)


class Recorder(Silent):
    """Records into the instruments of :mod:`.instruments`."""

    enabled = True

    def __init__(self) -> None:
        from . import instruments as i

        self._i = i
        self._open = i.CONNECTIONS_OPEN
        self._frames_in, self._bytes_in = i.FRAMES_RECEIVED, i.RECEIVED_BYTES
        self._frames_out, self._bytes_out = i.FRAMES_SENT, i.SENT_BYTES
        self._delivered = i.EVENTS_DELIVERED
        # The duration buckets' upper bounds, +Inf last, as the histogram counts them.
        self._bounds = [float(bound) for bound in i.DURATION_BUCKETS] + [float("inf")]
        # (method label, code) -> its calls counter and its duration histogram.
        self._calls: dict[tuple[str | None, int], tuple[Counter, Histogram]] = {}
        self._local = threading.local()

    # The tally ---------------------------------------------------------------------

    def _tally(self) -> _Tally:
        try:
            tally: _Tally = self._local.tally
        except AttributeError:
            tally = self._local.tally = _Tally()
        if tally.due is None or not tally.due.is_running():
            # No flush ahead, or one on a loop of this thread that no longer runs.
            try:
                tally.due = asyncio.get_running_loop()
            except RuntimeError:  # no loop in this thread to flush later: the caller flushes
                tally.due = None
            else:
                tally.due.call_later(FLUSH_INTERVAL, self._flush, tally)
        return tally

    def _flush(self, tally: _Tally) -> None:
        """Add ``tally`` to the instruments and empty it (in its own thread)."""
        tally.due = None
        if tally.frames_in:
            self._frames_in.inc(tally.frames_in)
            self._bytes_in.inc(tally.bytes_in)
        if tally.frames_out:
            self._frames_out.inc(tally.frames_out)
            self._bytes_out.inc(tally.bytes_out)
        tally.frames_in = tally.bytes_in = tally.frames_out = tally.bytes_out = 0
        calls, tally.calls = tally.calls, {}
        for (counter, histogram), pending in calls.items():
            counter.inc(pending.count)
            _observe_many(histogram, pending)

    def _settle(self, tally: _Tally) -> None:
        if tally.due is None:
            self._flush(tally)

    # Calls ----------------------------------------------------------------------

    def call_observer(self, registry: Container[str]) -> CallObserver:
        """``observe(method, code, seconds)`` for a dispatcher of ``registry``'s methods."""
        calls = self._calls
        bounds = self._bounds

        def observe(method: str | None, code: int, seconds: float) -> None:
            children = calls.get((method, code))
            if children is None:  # a first outcome, or a name that is not registered (never cached)
                label = method if method is not None and method in registry else UNKNOWN
                children = calls.get((label, code))
                if children is None:
                    outcome = "ok" if code == 0 else str(code)
                    children = calls[(label, code)] = (
                        self._i.CALLS.labels(label, outcome),
                        self._i.CALL_DURATION.labels(label),
                    )
            tally = self._tally()
            pending = tally.calls.get(children)
            if pending is None:
                pending = tally.calls[children] = _Calls(len(bounds))
            pending.count += 1
            pending.seconds += seconds
            pending.buckets[bisect.bisect_left(bounds, seconds)] += 1
            self._settle(tally)
            if code == TOO_MANY_REQUESTS:  # only PUBLISH_RATE refusals reach a dispatcher
                self.rate_limited("publish_rate")

        return observe

    def client_call(self, method: str) -> ClientCall:
        return ClientCall(method)

    def rate_limited(self, limit: str) -> None:
        self._i.RATE_LIMITED.labels(limit).inc()

    # Connections and frames -------------------------------------------------------

    def connection_opened(self) -> None:
        self._open.inc()
        self._i.CONNECTIONS_OPENED.inc()

    def connection_closed(self, code: int) -> None:
        self._open.dec()
        self._i.CONNECTIONS_CLOSED.labels(str(code)).inc()

    def frame_received(self, text: str | bytes) -> None:
        tally = self._tally()
        tally.frames_in += 1
        tally.bytes_in += _size(text)
        self._settle(tally)

    def frame_sent(self, text: str) -> None:
        tally = self._tally()
        tally.frames_out += 1
        tally.bytes_out += _size(text)
        self._settle(tally)

    def slow_consumer_closed(self, dropped: int) -> None:
        self._i.SLOW_CONSUMER_CLOSES.inc()
        self._i.EVENTS_DROPPED.labels("slow_consumer").inc(dropped)

    # Pub/sub ----------------------------------------------------------------------

    def published(self) -> None:
        self._i.EVENTS_PUBLISHED.inc()

    def delivered(self, count: int) -> None:
        if count:
            self._delivered.inc(count)

    def recovered(self, count: int) -> None:
        self._i.EVENTS_RECOVERED.inc(count)

    def gap(self, missed: tuple[int, int] | None) -> None:
        self._i.EVENTS_DROPPED.labels("gap").inc(missed[1] - missed[0] + 1 if missed is not None else 1)

    def layer_error(self, operation: str) -> None:
        self._i.CHANNEL_LAYER_ERRORS.labels(operation).inc()

    def layer_reconnected(self) -> None:
        self._i.CHANNEL_LAYER_RECONNECTS.inc()

    def history_operation(self, operation: str) -> None:
        self._i.HISTORY_OPERATIONS.labels(operation).inc()

    def presence_operation(self, operation: str) -> None:
        self._i.PRESENCE_OPERATIONS.labels(operation).inc()


def _observe_many(histogram: Histogram, calls: _Calls) -> None:
    """Add ``calls`` to ``histogram`` in one step per bucket (prometheus_client has no public way to)."""
    buckets = getattr(histogram, "_buckets", None)
    total = getattr(histogram, "_sum", None)
    if buckets is None or total is None or len(buckets) != len(calls.buckets):
        for _ in range(calls.count):  # another prometheus_client: the mean, once per call
            histogram.observe(calls.seconds / calls.count)
        return
    total.inc(calls.seconds)
    for bucket, count in zip(buckets, calls.buckets, strict=True):
        if count:
            bucket.inc(count)


def available() -> bool:
    """Whether ``prometheus_client`` is installed (the ``wsrpc[metrics]`` extra)."""
    try:
        from . import instruments  # noqa: F401
    except ImportError:
        return False
    return True


_current: Silent | None = None


def recorder() -> Silent:
    """What records now: a :class:`Recorder` when ``METRICS`` is on and ``prometheus_client`` installed."""
    global _current
    if _current is None:
        _current = Recorder() if wsrpc_settings.METRICS and available() else SILENT
    return _current


@receiver(setting_changed)
def _reload(*, setting: str, **kwargs: Any) -> None:
    global _current
    if setting == "WSRPC":
        _current = None
