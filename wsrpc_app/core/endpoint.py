"""One side of a bidirectional JSON-RPC connection on asyncio: a thin adapter over :class:`Session`.

The server's consumer, the Python client and the test client each drive an
:class:`Endpoint`: they feed it each incoming text frame and give it a
coroutine that writes one. The :class:`~wsrpc_app.core.session.Session` says
what a frame asks for; the endpoint runs the peer's requests concurrently,
writes the replies in order, and completes the futures of this side's calls.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable, Coroutine, Mapping
from types import MappingProxyType

from . import eager, protocol
from .dispatch import Dispatcher
from .errors import PeerDisconnected
from .outbox import Outbox
from .session import Received, Session, Work
from .types import JSON, Caller, Params, SendText, Timeout

__all__ = ["Endpoint", "InlineHandler", "after_reply"]

logger = logging.getLogger("wsrpc")

#: Handles a notification at once, in order of arrival (the Python client's events).
InlineHandler = Callable[[Params | None], None]

_NOTHING: Mapping[str, InlineHandler] = MappingProxyType({})
_Reply = asyncio.Future[JSON]
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

    Each request runs on a task of its own, unless the transport gives a
    ``handoff``: then it runs on the task that called :meth:`receive` until
    it first waits, when ``handoff()`` is called to read the next frames on
    another task while this one finishes the request.
    """

    __slots__ = ("session", "inline", "outbox", "dispatcher", "caller", "call_timeout", "handoff", "running", "closed")

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
    ) -> None:
        self.inline = inline or _NOTHING
        self.session: Session[_Reply] = Session(max_in_flight=max_in_flight, max_batch=max_batch, inline=self.inline)
        self.outbox = Outbox(send, limit=max_outbound, on_overflow=on_overflow or self._overflowed)
        self.dispatcher = dispatcher
        self.caller = caller
        self.call_timeout = call_timeout
        self.handoff = handoff
        #: The tasks running requests now, each with the future that ends with its request.
        self.running: dict[asyncio.Task[None], asyncio.Future[None]] = {}
        self.closed = False

    @property
    def pending(self) -> dict[int, _Reply]:
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
        if received.settled or received.inline:
            self._settle(received)
        if received.work is not None:
            await self._start(received.work)

    def _settle(self, received: Received[_Reply]) -> None:
        for settled in received.settled:
            future = settled.waiter
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
                    reply = await self.dispatcher.answer(work.messages, self.caller, batch=work.batch)
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

    def _overflowed(self) -> None:
        logger.warning("dropped frames for a peer whose outbound queue is full")

    async def call(self, method: str, params: Params | None = None, *, timeout: Timeout = ...) -> JSON:
        """Call a method of the peer and return its result.

        Raises :class:`RpcError` for an error reply, :class:`TimeoutError`
        when no reply comes in time and :class:`PeerDisconnected` when the
        connection closes first. Nothing stays pending either way.
        """
        if self.closed:
            raise PeerDisconnected("the connection is closed")
        future: _Reply = asyncio.get_running_loop().create_future()
        id_, frame = self.session.call(method, params, future)
        try:
            await self.send(frame)
            async with asyncio.timeout(self.call_timeout if timeout is ... else timeout):
                return await future
        finally:
            self.session.forget(id_)
            _retrieve(future)

    async def call_batch(self, calls: list[tuple[str, Params | None]], *, timeout: Timeout = ...) -> list[JSON]:
        """Send several calls in one batch frame; each entry of the result is a value or an :class:`RpcError`."""
        if self.closed:
            raise PeerDisconnected("the connection is closed")
        loop = asyncio.get_running_loop()
        futures: list[_Reply] = [loop.create_future() for _ in calls]
        frame, ids = self.session.call_batch(
            (method, params, future) for (method, params), future in zip(calls, futures, strict=True)
        )
        try:
            await self.send(frame)
            async with asyncio.timeout(self.call_timeout if timeout is ... else timeout):
                outcomes = await asyncio.gather(*futures, return_exceptions=True)
            for outcome in outcomes:
                if isinstance(outcome, PeerDisconnected):
                    raise outcome
            return list(outcomes)
        finally:
            for id_, future in zip(ids, futures, strict=True):
                self.session.forget(id_)
                _retrieve(future)

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
        for future in self.session.pending.values():
            if not future.done():
                future.set_exception(PeerDisconnected("the connection closed before the reply"))
        running = list(self.running.items())
        for task, _ in running:
            task.cancel()
        if running:
            await asyncio.gather(*(ended for _, ended in running), return_exceptions=True)


def _retrieve(future: _Reply) -> None:
    """Mark a future's exception as seen, so asyncio does not warn about it."""
    if future.done() and not future.cancelled():
        future.exception()
