"""What the server counts, and the switch: :func:`recorder` is a :class:`Recorder` or :data:`SILENT`.

The hooks in the server and in pub/sub call one method of whatever
:func:`recorder` gives; without ``prometheus_client``, or with
``WSRPC["METRICS"]`` false, that is :data:`SILENT`, whose methods do
nothing. The hot paths (frames, calls) keep the bound children of the
instruments, so no label is looked up per frame.
"""

from __future__ import annotations

import contextlib
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
        # (method label, code) -> its calls counter and its duration histogram.
        self._calls: dict[tuple[str | None, int], tuple[Counter, Histogram]] = {}

    # Calls ----------------------------------------------------------------------

    def call_observer(self, registry: Container[str]) -> CallObserver:
        """``observe(method, code, seconds)`` for a dispatcher of ``registry``'s methods."""
        calls = self._calls

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
            children[0].inc()
            children[1].observe(seconds)
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
        self._frames_in.inc()
        self._bytes_in.inc(_size(text))

    def frame_sent(self, text: str) -> None:
        self._frames_out.inc()
        self._bytes_out.inc(_size(text))

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
