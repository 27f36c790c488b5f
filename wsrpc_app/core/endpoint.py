"""One side of a bidirectional JSON-RPC connection on asyncio: a thin adapter over :class:`Session`.

The server's consumer, the Python client and the test client each drive an
:class:`Endpoint`: they feed it each incoming text frame and give it a
coroutine that writes one. The :class:`~wsrpc_app.core.session.Session` says
what a frame asks for; the endpoint runs the peer's requests concurrently,
writes the replies in order, and completes the futures of this side's calls.

Long calls (``rpc.cancel``, ``rpc.progress``): each of the peer's requests
is tracked while it runs, so that the peer's ``rpc.cancel`` cancels its task
(a batch member on its own) and it is answered -32800; a call of this side
that stops waiting for its reply (timeout, cancelled task) sends
``rpc.cancel``, so nothing runs on at the peer for nobody; ``rpc.progress``
from the peer reaches the call's ``progress`` callback.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from types import MappingProxyType

from . import eager, progress, protocol
from .callbacks import Callbacks
from .dispatch import Dispatcher
from .errors import PeerDisconnected, RequestCancelled
from .outbox import Outbox
from .protocol import Invalid, Request
from .session import Received, Session, Work
from .types import JSON, Caller, Params, SendText, Timeout

__all__ = ["Endpoint", "InlineHandler", "ProgressCallback", "after_reply"]

logger = logging.getLogger("wsrpc")

#: Handles a notification at once, in order of arrival (the Python client's events).
InlineHandler = Callable[[Params | None], None]

#: Hears the peer's progress on a call: ``callback(value)``, sync or async.
ProgressCallback = Callable[[JSON], Awaitable[object] | object]

_NOTHING: Mapping[str, InlineHandler] = MappingProxyType({})
_Reply = asyncio.Future[JSON]


@dataclasses.dataclass(slots=True)
class _Call:
    """One of this side's calls: the future of its reply, and who hears its progress."""

    future: _Reply
    on_progress: ProgressCallback | None = None


class _Running:
    """One of the peer's requests while it runs on ``task``: what ``rpc.cancel`` stops."""

    __slots__ = ("id", "task", "endpoint", "cancelled", "reporter")

    def __init__(self, id_: JSON, task: asyncio.Task[object], endpoint: Endpoint) -> None:
        self.id = id_
        self.task: asyncio.Task[object] | None = task
        self.endpoint: Endpoint | None = endpoint
        self.cancelled = False
        self.reporter: progress.Reporter | None = None

    def cancel(self) -> None:
        if not self.cancelled and self.task is not None:
            self.cancelled = True
            self.task.cancel()

    def progress(self) -> progress.Progress:
        """The request's reporter, made when the method first asks for it."""
        if self.reporter is None:
            if self.endpoint is None or self.task is None:
                return progress.NOWHERE
            self.reporter = progress.Reporter(
                self.id, self.endpoint.deliver_bytes, rate=self.endpoint.progress_rate, loop=self.task.get_loop()
            )
        return self.reporter

    def end(self) -> None:
        """The request has its outcome: the report still held goes unless it was cancelled; no more after.

        The references go too: copies of the request's context (in the
        timers its method armed) keep this object alive for a while, and
        must not keep the connection with it.
        """
        if self.reporter is not None:
            self.reporter.end(flush=not self.cancelled)
        self.task = self.endpoint = self.reporter = None


#: What the request running in this context does once its reply is queued.
_after_reply: contextvars.ContextVar[list[Callable[[], None]] | None] = contextvars.ContextVar(
    "wsrpc_after_reply", default=None
)


def after_reply(callback: Callable[[], None]) -> None:
    """Call ``callback()`` once the reply to the request running now is queued (at once outside one).

    A method whose result promises something about the notifications that
    follow it (``rpc.subscribe``: live events come after the reply) uses it
    to hold them back until the reply is on its way. The callback also runs
    when the request ends without a reply.
    """
    callbacks = _after_reply.get()
    if callbacks is None:
        callback()
    else:
        callbacks.append(callback)


class Endpoint:
    """Runs the peer's requests and tracks the calls made to the peer.

    ``max_in_flight`` bounds the requests running at once; a request beyond it
    is answered -32029 at once. ``call_timeout`` is the default time, in
    seconds, to wait for the peer's reply (``None``: wait forever).
    ``max_outbound`` bounds the frames waiting to be written; past it
    ``on_overflow`` is called and nothing more is written.

    ``progress_rate`` bounds the ``rpc.progress`` notifications of each of
    the peer's requests per second (``None``: no bound).

    Each request runs on a task of its own, unless the transport gives a
    ``handoff``: then it runs on the task that called :meth:`receive` until
    it first waits, when ``handoff()`` is called to read the next frames on
    another task while this one finishes the request.
    """

    __slots__ = (
        "session",
        "inline",
        "outbox",
        "dispatcher",
        "caller",
        "call_timeout",
        "progress_rate",
        "handoff",
        "running",
        "callbacks",
        "closed",
    )

    def __init__(
        self,
        send: SendText,
        dispatcher: Dispatcher,
        caller: Caller,
        *,
        max_in_flight: int | None = None,
        max_batch: int | None = None,
        call_timeout: float | None = 30.0,
        max_outbound: int | None = None,
        on_overflow: Callable[[], None] | None = None,
        inline: Mapping[str, InlineHandler] | None = None,
        handoff: Callable[[], None] | None = None,
        progress_rate: float | None = 20.0,
    ) -> None:
        self.inline = inline or _NOTHING
        self.session: Session[_Call] = Session(max_in_flight=max_in_flight, max_batch=max_batch, inline=self.inline)
        self.outbox = Outbox(send, limit=max_outbound, on_overflow=on_overflow or self._overflowed)
        self.dispatcher = dispatcher
        self.caller = caller
        self.call_timeout = call_timeout
        self.progress_rate = progress_rate
        self.handoff = handoff
        #: The tasks running requests now, each with the future that ends with its request.
        self.running: dict[asyncio.Task[None], asyncio.Future[None]] = {}
        #: Progress callbacks; those still running are cancelled by :meth:`close`.
        self.callbacks = Callbacks()
        self.closed = False

    @property
    def pending(self) -> dict[int, _Call]:
        """This side's calls waiting for the peer's reply, by id."""
        return self.session.pending

    @property
    def in_flight(self) -> int:
        """The peer's requests running now."""
        return self.session.in_flight

    # Incoming ---------------------------------------------------------------

    async def receive(self, frame: str | bytes) -> None:
        """Handle one text frame from the peer.

        Returns without waiting for methods to run, or, with a ``handoff``,
        once they ran or the reading moved to another task.
        """
        if self.closed:
            # close() has cancelled the running methods; a late frame must not
            # start new ones that nothing would ever cancel or answer.
            logger.debug("dropped a frame received after close")
            return
        received = self.session.receive(frame)
        if received.reply is not None:
            await self._reply(received.reply)
            return
        if received.settled or received.inline or received.progressed or received.cancel:
            self._settle(received)
        if received.work is not None:
            await self._start(received.work)

    def _settle(self, received: Received[_Call]) -> None:
        for running in received.cancel:
            running.cancel()
        for progressed in received.progressed:
            self._progressed(progressed.waiter, progressed.value)
        for settled in received.settled:
            future = settled.waiter.future
            if future.done():
                continue  # the caller gave up waiting
            if settled.error is not None:
                future.set_exception(settled.error)
            else:
                future.set_result(settled.result)
        for request in received.inline:
            try:
                self.inline[request.method](request.params)
            except Exception:
                logger.exception("handling the notification %r failed", request.method)

    def _progressed(self, call: _Call, value: JSON) -> None:
        if call.on_progress is not None and not call.future.done():
            self.callbacks.run(call.on_progress, (value,), "a progress callback")

    async def _start(self, work: Work) -> None:
        run = self._run(work)
        if self.handoff is not None:
            await self._run_here(run)
            return
        task = asyncio.get_running_loop().create_task(run)
        self.running[task] = task
        task.add_done_callback(self._ran)

    def _ran(self, task: asyncio.Task[None]) -> None:
        self.running.pop(task, None)

    async def _run_here(self, run: Coroutine[object, object, None]) -> None:
        try:
            await eager.run_here(run, self._handed_off)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self.closed and task is not None and task.uncancel() == 0:
                return  # close() stopped the request; the task goes on with its own work
            raise
        finally:
            if self.running:
                task = asyncio.current_task()
                ended = self.running.pop(task, None) if task is not None else None
                if ended is not None:
                    ended.set_result(None)

    def _handed_off(self) -> None:
        task = asyncio.current_task()
        assert task is not None and self.handoff is not None
        self.running[task] = task.get_loop().create_future()
        self.handoff()

    async def _run(self, work: Work) -> None:
        reply = None
        callbacks: list[Callable[[], None]] = []
        _after_reply.set(callbacks)  # in this request's own context (a task's, or run_here's copy)
        try:
            try:
                if work.messages:
                    reply = await self.dispatcher.answer(
                        work.messages, self.caller, batch=work.batch, reply=self._answer
                    )
            finally:
                reply = self.session.finish(work, reply)
            if reply is not None:
                await self._reply(reply)
        finally:
            for callback in callbacks:
                try:
                    callback()
                except Exception:
                    logger.exception("a callback after the reply failed")

    async def _answer(self, message: Request | Invalid) -> bytes | None:
        """The reply to one request, which ``rpc.cancel`` may stop while it runs (-32800)."""
        if isinstance(message, Invalid) or message.notification:
            return await self.dispatcher.reply(message, self.caller)
        task = asyncio.current_task()
        assert task is not None
        request = _Running(message.id, task, self)
        self.session.started(message.id, request)
        progress.running(request.progress)  # this request's own context: a task's, or run_here's copy
        try:
            reply = await self.dispatcher.reply(message, self.caller)
        except asyncio.CancelledError:
            if request.cancelled and task.uncancel() == 0:
                return protocol.error_reply(message.id, RequestCancelled(data={"id": message.id}))
            raise
        finally:
            self.session.ended(message.id, request)
            request.end()
        if request.cancelled:  # the method caught the cancellation and finished
            task.uncancel()
        return reply

    async def _reply(self, frame: bytes) -> None:
        try:
            await self.send(frame)
        except PeerDisconnected:
            pass  # logged by send(); the transport closes the endpoint

    # Outgoing ---------------------------------------------------------------

    async def send(self, data: bytes) -> None:
        """Write one encoded frame after those queued before it; a frame for a peer already gone is dropped."""
        if self.closed:
            return
        try:
            await self.outbox.send(data.decode())
        except PeerDisconnected:
            if not self.closed:
                raise
        except Exception as exc:
            if self.closed:
                return
            logger.warning("could not write to the peer: %r", exc)
            raise PeerDisconnected(str(exc)) from exc

    def deliver(self, frame: str) -> bool:
        """Queue a frame without waiting (fan-out); False when it was dropped."""
        return not self.closed and self.outbox.push(frame)

    def deliver_bytes(self, frame: bytes) -> bool:
        """:meth:`deliver` an encoded frame."""
        return not self.closed and self.outbox.push(frame.decode())

    def _overflowed(self) -> None:
        logger.warning("dropped frames for a peer whose outbound queue is full")

    async def call(
        self,
        method: str,
        params: Params | None = None,
        *,
        timeout: Timeout = ...,
        progress: ProgressCallback | None = None,
    ) -> JSON:
        """Call a method of the peer and return its result.

        Raises :class:`RpcError` for an error reply, :class:`TimeoutError`
        when no reply comes in time and :class:`PeerDisconnected` when the
        connection closes first. Nothing stays pending either way; when the
        call stops waiting without a reply (its timeout, or its task was
        cancelled), the peer is sent ``rpc.cancel``. ``progress(value)`` hears
        the peer's ``rpc.progress`` reports on this call, in order.
        """
        if self.closed:
            raise PeerDisconnected("the connection is closed")
        call = _Call(asyncio.get_running_loop().create_future(), progress)
        id_, frame = self.session.call(method, params, call)
        try:
            await self.send(frame)
            async with asyncio.timeout(self.call_timeout if timeout is ... else timeout):
                return await call.future
        finally:
            self.session.forget(id_)
            self._given_up([id_], [call])

    async def call_batch(self, calls: list[tuple[str, Params | None]], *, timeout: Timeout = ...) -> list[JSON]:
        """Send several calls in one batch frame; each entry of the result is a value or an :class:`RpcError`."""
        if self.closed:
            raise PeerDisconnected("the connection is closed")
        loop = asyncio.get_running_loop()
        waiting = [_Call(loop.create_future()) for _ in calls]
        frame, ids = self.session.call_batch(
            (method, params, call) for (method, params), call in zip(calls, waiting, strict=True)
        )
        try:
            await self.send(frame)
            async with asyncio.timeout(self.call_timeout if timeout is ... else timeout):
                outcomes = await asyncio.gather(*(call.future for call in waiting), return_exceptions=True)
            for outcome in outcomes:
                if isinstance(outcome, PeerDisconnected):
                    raise outcome
            return list(outcomes)
        finally:
            for id_ in ids:
                self.session.forget(id_)
            self._given_up(ids, waiting)

    def _given_up(self, ids: list[int], calls: list[_Call]) -> None:
        """The calls are over: cancel at the peer those that got no reply, so their work stops."""
        for id_, call in zip(ids, calls, strict=True):
            future = call.future
            if future.done() and not future.cancelled():
                future.exception()  # seen, so asyncio does not warn about it
            else:  # no reply: the wait timed out, or the waiting task was cancelled (which cancels the future)
                future.cancel()
                self.deliver_bytes(protocol.cancel(id_))

    async def notify(self, method: str, params: Params | None = None) -> None:
        """Send a notification to the peer."""
        if self.closed:
            raise PeerDisconnected("the connection is closed")
        await self.send(protocol.notification(method, params))

    # Closing ----------------------------------------------------------------

    async def close(self) -> None:
        """The connection is gone: cancel running methods and fail pending calls at once."""
        if self.closed:
            return
        self.closed = True
        self.outbox.close()
        for call in self.session.pending.values():
            if not call.future.done():
                call.future.set_exception(PeerDisconnected("the connection closed before the reply"))
        self.callbacks.cancel()
        running = list(self.running.items())
        for task, _ in running:
            task.cancel()
        if running:
            await asyncio.gather(*(ended for _, ended in running), return_exceptions=True)
