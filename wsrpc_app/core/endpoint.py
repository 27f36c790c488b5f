"""One side of a bidirectional JSON-RPC connection, independent of transport.

The server's consumer and the Python client both drive an :class:`Endpoint`:
they feed it each incoming text frame and give it a coroutine that writes one.
It runs the peer's requests concurrently (bounded), answers them, and
correlates the peer's replies with the calls this side made.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from types import EllipsisType, MappingProxyType
from typing import Any

from . import eager, protocol
from .dispatch import Dispatcher
from .errors import PeerDisconnected, RpcError, TooManyRequests
from .outbox import Outbox
from .protocol import Batch, Invalid, Request, Response
from .types import Params, SendText

__all__ = ["Endpoint", "params_of"]

logger = logging.getLogger("wsrpc")

_NOTHING: Mapping[str, Any] = MappingProxyType({})


def params_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Params | None:
    """JSON-RPC params from Python arguments: positional or named, not both."""
    if args and kwargs:
        raise TypeError("JSON-RPC params are either positional or named, not both")
    if kwargs:
        return kwargs
    return list(args) if args else None


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

    __slots__ = (
        "inline", "outbox", "dispatcher", "context", "max_in_flight", "max_batch", "call_timeout",
        "handoff", "in_flight", "running", "pending", "_last_id", "closed",
    )

    def __init__(
        self,
        send: SendText,
        dispatcher: Dispatcher,
        context: Any,
        *,
        max_in_flight: int | None = None,
        max_batch: int | None = None,
        call_timeout: float | None = 30.0,
        max_outbound: int | None = None,
        on_overflow: Callable[[], None] | None = None,
        inline: dict[str, Callable[[Params | None], None]] | None = None,
        handoff: Callable[[], None] | None = None,
    ) -> None:
        #: Notifications handled at once, in order of arrival, outside the
        #: in-flight bound (the Python client's events).
        self.inline: Mapping[str, Callable[[Params | None], None]] = inline or _NOTHING
        self.outbox = Outbox(send, limit=max_outbound, on_overflow=on_overflow or self._overflowed)
        self.dispatcher = dispatcher
        self.context = context
        self.max_in_flight = max_in_flight
        self.max_batch = max_batch
        self.call_timeout = call_timeout
        self.handoff = handoff
        self.in_flight = 0
        #: The tasks running requests now, each with the future that ends with its request.
        self.running: dict[asyncio.Task[Any], asyncio.Future[Any]] = {}
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self._last_id = 0
        self.closed = False

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
        try:
            incoming = protocol.parse(frame, max_batch=self.max_batch)
        except RpcError as error:
            try:
                await self.send(protocol.error_reply(None, error))
            except PeerDisconnected:
                pass  # logged by send(); the transport closes the endpoint
            return
        if isinstance(incoming, Batch):
            requests = [m for m in map(self._settle, incoming.messages) if m is not None]
            if requests:
                await self._start(requests, batch=True)
        else:
            message = self._settle(incoming)
            if message is not None:
                await self._start([message], batch=False)

    def _settle(self, message: protocol.Message) -> Request | Invalid | None:
        """Consume a reply to one of this side's calls; return anything that needs an answer."""
        if isinstance(message, Response):
            future = self.pending.get(message.id) if isinstance(message.id, int) else None
            if future is None or future.done():
                logger.debug("dropped a reply to no pending call: id %r", message.id)
            elif message.error is not None:
                future.set_exception(message.error)
            else:
                future.set_result(message.result)
            return None
        if isinstance(message, Invalid) and message.response:
            # A malformed reply is never answered; fail the call it names.
            future = self.pending.get(message.id) if isinstance(message.id, int) else None
            if future is not None and not future.done():
                future.set_exception(message.error)
            logger.debug("dropped a malformed reply: %r", message.error)
            return None
        if isinstance(message, Request) and message.notification and message.method in self.inline:
            try:
                self.inline[message.method](message.params)
            except Exception:
                logger.exception("handling the notification %r failed", message.method)
            return None
        return message

    async def _start(self, messages: list[Request | Invalid], *, batch: bool) -> None:
        admitted: list[Request | Invalid] = []
        refused: list[bytes] = []
        running = 0
        for message in messages:
            if isinstance(message, Request):
                if self.max_in_flight is not None and self.in_flight >= self.max_in_flight:
                    if not message.notification:
                        refused.append(protocol.error_reply(message.id, TooManyRequests(
                            data={"max_in_flight": self.max_in_flight}
                        )))
                    continue
                self.in_flight += 1
                running += 1
            admitted.append(message)
        run = self._run(admitted, refused, batch, running)
        if self.handoff is not None:
            await self._run_here(run)
            return
        task = asyncio.get_running_loop().create_task(run)
        self.running[task] = task
        task.add_done_callback(self._ran)

    def _ran(self, task: asyncio.Task[Any]) -> None:
        self.running.pop(task, None)

    async def _run_here(self, run: Coroutine[Any, Any, None]) -> None:
        try:
            await eager.run_here(run, self._handed_off)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self.closed and task is not None and task.uncancel() == 0:
                return  # close() stopped the request; the task goes on with its own work
            raise
        finally:
            if self.running:
                ended = self.running.pop(asyncio.current_task(), None)  # type: ignore[arg-type]
                if ended is not None:
                    ended.set_result(None)

    def _handed_off(self) -> None:
        task = asyncio.current_task()
        assert task is not None and self.handoff is not None
        self.running[task] = task.get_loop().create_future()
        self.handoff()

    async def _run(self, messages: list[Request | Invalid], refused: list[bytes], batch: bool, running: int) -> None:
        try:
            reply = await self.dispatcher.answer(messages, self.context, batch=batch) if messages else None
        finally:
            self.in_flight -= running
        if refused:
            if not batch:
                reply = refused[0]
            else:
                parts = [reply[1:-1]] if reply else []
                reply = protocol.join_batch(parts + refused)
        if reply is not None:
            try:
                await self.send(reply)
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

    async def call(
        self,
        method: str,
        params: Params | None = None,
        *,
        timeout: float | None | EllipsisType = ...,
    ) -> Any:
        """Call a method of the peer and return its result.

        Raises :class:`RpcError` for an error reply, :class:`TimeoutError`
        when no reply comes in time and :class:`PeerDisconnected` when the
        connection closes first. Nothing stays pending either way.
        """
        if self.closed:
            raise PeerDisconnected("the connection is closed")
        id_ = self._next_id()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[id_] = future
        try:
            await self.send(protocol.request(method, params, id_))
            async with asyncio.timeout(self.call_timeout if timeout is ... else timeout):
                return await future
        finally:
            del self.pending[id_]
            if future.done() and not future.cancelled():
                future.exception()  # retrieved, so asyncio does not warn about it

    async def call_batch(
        self,
        calls: list[tuple[str, Params | None]],
        *,
        timeout: float | None | EllipsisType = ...,
    ) -> list[Any]:
        """Send several calls in one batch frame; each entry of the result is a value or an :class:`RpcError`."""
        if self.closed:
            raise PeerDisconnected("the connection is closed")
        loop = asyncio.get_running_loop()
        ids = [self._next_id() for _ in calls]
        futures = [loop.create_future() for _ in calls]
        self.pending.update(zip(ids, futures, strict=True))
        try:
            frame = protocol.join_batch(
                [protocol.request(method, params, id_) for (method, params), id_ in zip(calls, ids, strict=True)]
            )
            await self.send(frame)
            async with asyncio.timeout(self.call_timeout if timeout is ... else timeout):
                outcomes = await asyncio.gather(*futures, return_exceptions=True)
            for outcome in outcomes:
                if isinstance(outcome, PeerDisconnected):
                    raise outcome
            return list(outcomes)
        finally:
            for id_, future in zip(ids, futures, strict=True):
                del self.pending[id_]
                if future.done() and not future.cancelled():
                    future.exception()

    def _next_id(self) -> int:
        self._last_id += 1
        return self._last_id

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
        for future in self.pending.values():
            if not future.done():
                future.set_exception(PeerDisconnected("the connection closed before the reply"))
        running = list(self.running.items())
        for task, _ in running:
            task.cancel()
        if running:
            await asyncio.gather(*(ended for _, ended in running), return_exceptions=True)
