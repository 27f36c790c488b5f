"""One side of a JSON-RPC 2.0 conversation, as bookkeeping: no I/O, no asyncio.

A :class:`Session` takes in the text frames the peer sent and says what to
do about them; it builds the frames this side sends. It keeps what a side of
the conversation must remember between frames:

- the ids of the calls this side made and what waits for each reply (a
  future, for the asyncio :class:`~wsrpc_app.core.endpoint.Endpoint`; the
  session never looks inside);
- how many of the peer's requests are running, refusing those beyond the
  in-flight bound with -32029 at once;
- which replies of one batch belong together, joined into one array;
- which of the peer's requests are running, by id, so that the peer's
  ``rpc.cancel`` finds the one to stop (only this connection's, and only
  while it runs: any other id is ignored), and which of this side's calls an
  ``rpc.progress`` reports on.

Running methods, waiting and writing are the caller's: the shape of
websockets' ``protocol.py``, which the asyncio, sync and trio layers drive.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Collection, Iterable
from types import EllipsisType
from typing import Generic, Protocol, TypeVar

from . import protocol
from .errors import RpcError, TooManyRequests
from .protocol import Batch, Invalid, Request, Response
from .types import JSON, Id, Params

__all__ = ["Session", "Received", "Work", "Settled", "Progressed", "Cancellable"]

logger = logging.getLogger("wsrpc")

#: What waits for the reply to one of this side's calls.
W = TypeVar("W")


class Cancellable(Protocol):
    """One of the peer's requests while it runs, as the transport tracks it."""

    def cancel(self) -> object:
        """Stop the request; its reply becomes -32800 unless it has finished."""


@dataclasses.dataclass(slots=True)
class Work:
    """The peer's requests of one frame that this side must run and answer."""

    #: The requests admitted, and the invalid elements to answer with their errors.
    messages: list[Request | Invalid]
    #: Encoded -32029 replies to requests over the in-flight bound.
    refused: list[bytes]
    #: The frame was a batch: the replies go back as one array.
    batch: bool
    #: How many of ``messages`` count against the in-flight bound.
    running: int


@dataclasses.dataclass(slots=True)
class Settled(Generic[W]):
    """The peer answered one of this side's calls: ``waiter`` gets ``result``, or ``error`` when it is set."""

    waiter: W
    result: object = None
    error: RpcError | None = None


@dataclasses.dataclass(slots=True)
class Progressed(Generic[W]):
    """The peer reported ``value`` (``rpc.progress``) on the call ``waiter`` waits for."""

    waiter: W
    value: JSON


@dataclasses.dataclass(slots=True)
class Received(Generic[W]):
    """What one frame from the peer asks of this side, in the order to do it."""

    #: A frame to send back at once (a parse error), with nothing else to do.
    reply: bytes | None = None
    #: Progress on this side's calls, to hand on before ``settled``.
    progressed: list[Progressed[W]] = dataclasses.field(default_factory=list)
    #: Replies to this side's calls.
    settled: list[Settled[W]] = dataclasses.field(default_factory=list)
    #: The peer's running requests that ``rpc.cancel`` asks to stop.
    cancel: list[Cancellable] = dataclasses.field(default_factory=list)
    #: Notifications of the session's ``inline`` methods, to handle at once, in order.
    inline: list[Request] = dataclasses.field(default_factory=list)
    #: Requests to run, or None when the frame held none.
    work: Work | None = None


class Session(Generic[W]):
    """The state of one side of a connection.

    ``max_in_flight`` bounds the peer's requests running at once (``None``:
    no bound); ``max_batch`` the length of a batch frame; ``inline`` names
    notifications the caller handles at once, in order, outside the bound
    (the Python client's events).
    """

    __slots__ = ("max_in_flight", "max_batch", "inline", "in_flight", "pending", "running", "_last_id")

    def __init__(
        self,
        *,
        max_in_flight: int | None = None,
        max_batch: int | None = None,
        inline: Collection[str] = (),
    ) -> None:
        self.max_in_flight = max_in_flight
        self.max_batch = max_batch
        self.inline = inline
        #: The peer's requests running now.
        self.in_flight = 0
        #: This side's calls waiting for a reply, by id.
        self.pending: dict[int, W] = {}
        #: The peer's requests running now, by id (a peer may reuse an id: all of them).
        self.running: dict[Id, list[Cancellable]] = {}
        self._last_id = 0

    # The peer's frames ------------------------------------------------------

    def receive(self, frame: str | bytes) -> Received[W]:
        """Decode one frame from the peer and sort out what it asks for."""
        try:
            incoming = protocol.parse(frame, max_batch=self.max_batch)
        except RpcError as error:
            return Received(reply=protocol.error_reply(None, error))
        received: Received[W] = Received()
        if isinstance(incoming, Batch):
            requests = [r for r in (self._sort(m, received) for m in incoming.messages) if r is not None]
            if requests:
                received.work = self._admit(requests, batch=True)
        else:
            request = self._sort(incoming, received)
            if request is not None:
                received.work = self._admit([request], batch=False)
        return received

    def _sort(self, message: protocol.Message, received: Received[W]) -> Request | Invalid | None:
        """File a reply or an inline notification; return what needs running and answering."""
        if isinstance(message, Response):
            waiter = self.pending.get(message.id) if isinstance(message.id, int) else None
            if waiter is None:
                logger.debug("dropped a reply to no pending call: id %r", message.id)
            else:
                received.settled.append(Settled(waiter, message.result, message.error))
            return None
        if isinstance(message, Invalid) and message.response:
            # A malformed reply is never answered; it fails the call it names.
            waiter = self.pending.get(message.id) if isinstance(message.id, int) else None
            if waiter is not None:
                received.settled.append(Settled(waiter, error=message.error))
            logger.debug("dropped a malformed reply: %r", message.error)
            return None
        if isinstance(message, Request) and message.notification:
            if message.method == protocol.CANCEL:
                id_ = _target(message.params)
                if id_ is not ...:
                    received.cancel.extend(self.running.get(id_, ()))
                return None
            if message.method == protocol.PROGRESS:
                id_ = _target(message.params)
                waiter = self.pending.get(id_) if isinstance(id_, int) else None
                if waiter is not None:
                    assert isinstance(message.params, dict)
                    received.progressed.append(Progressed(waiter, message.params.get("value")))
                return None
            if message.method in self.inline:
                received.inline.append(message)
                return None
        return message

    def _admit(self, messages: list[Request | Invalid], *, batch: bool) -> Work:
        admitted: list[Request | Invalid] = []
        refused: list[bytes] = []
        running = 0
        bound = self.max_in_flight
        for message in messages:
            if isinstance(message, Request):
                if bound is not None and self.in_flight >= bound:
                    if not message.notification:
                        refused.append(protocol.error_reply(message.id, TooManyRequests(data={"max_in_flight": bound})))
                    continue
                self.in_flight += 1
                running += 1
            admitted.append(message)
        return Work(admitted, refused, batch, running)

    def finish(self, work: Work, reply: bytes | None) -> bytes | None:
        """``work`` ran and ``reply`` answers it: the frame to send, with any refusals joined in."""
        self.in_flight -= work.running
        if not work.refused:
            return reply
        if not work.batch:
            return work.refused[0]
        parts = [reply[1:-1]] if reply else []
        return protocol.join_batch(parts + work.refused)

    def started(self, id_: Id, request: Cancellable) -> None:
        """The peer's request ``id_`` runs as ``request`` until :meth:`ended`: ``rpc.cancel`` may stop it."""
        self.running.setdefault(id_, []).append(request)

    def ended(self, id_: Id, request: Cancellable) -> None:
        """The request has its outcome: a cancel that comes now is too late and ignored."""
        requests = self.running.get(id_)
        if requests is None:
            return
        if request in requests:
            requests.remove(request)
        if not requests:
            del self.running[id_]

    # This side's calls ------------------------------------------------------

    def call(self, method: str, params: Params | None, waiter: W) -> tuple[int, bytes]:
        """The id and frame of a call to the peer; ``waiter`` is filed under the id until :meth:`forget`."""
        id_ = self._file(waiter)
        return id_, protocol.request(method, params, id_)

    def call_batch(self, calls: Iterable[tuple[str, Params | None, W]]) -> tuple[bytes, list[int]]:
        """The frame of several calls in one batch, and their ids."""
        ids = []
        requests = []
        for method, params, waiter in calls:
            id_ = self._file(waiter)
            ids.append(id_)
            requests.append(protocol.request(method, params, id_))
        return protocol.join_batch(requests), ids

    def _file(self, waiter: W) -> int:
        self._last_id += 1
        self.pending[self._last_id] = waiter
        return self._last_id

    def forget(self, id_: int) -> None:
        """The call ``id_`` is over, answered or not."""
        self.pending.pop(id_, None)


def _target(params: Params | None) -> Id | EllipsisType:
    """The request id an ``rpc.cancel`` or ``rpc.progress`` names: ``{"id": ID}``; ``...`` when it names none."""
    id_ = params.get("id", ...) if isinstance(params, dict) else ...
    # true would find request 1 (equal dict keys); only a string, a number or null is an id.
    if id_ is None or isinstance(id_, str) or (isinstance(id_, int | float) and not isinstance(id_, bool)):
        return id_
    return ...
