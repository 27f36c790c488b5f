"""The WebSocket consumer: an :class:`Endpoint` on a Channels connection."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Coroutine
from typing import Any

from asgiref.sync import markcoroutinefunction
from channels.exceptions import DenyConnection, StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer

from ..conf import wsrpc_settings
from ..core import protocol
from ..core.endpoint import Endpoint
from ..core.errors import CloseCode, InvalidRequest
from ..core.types import ASGIMessage, Receive, Scope, Send
from ..metrics.recorder import SILENT, Silent, recorder
from .connection import Connection
from .identity import BadInfo
from .idle import idle_sweep
from .log_context import bind_connection
from .wiring import get_registry, server_dispatcher

__all__ = ["RpcConsumer", "CloseCode"]

logger = logging.getLogger("wsrpc")


class RpcConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]  # channels has no type hints
    """JSON-RPC 2.0 over one WebSocket, both ways.

    Subclass and override :meth:`on_connect` (raise
    ``channels.exceptions.DenyConnection`` there to refuse the connection) and
    :meth:`on_disconnect`.
    """

    connection: Connection
    endpoint: Endpoint
    # Channels' per-connection channel and groups are unused: the hub holds
    # memberships for the whole process (pubsub/hub.py).
    groups = ()
    channel_layer = None
    _lifespan_timer: asyncio.TimerHandle | None = None
    #: Set once a request first waited on the task the server started, which
    #: since then is that request's: the end of the connection, or the error
    #: another reading task met, for that task to return.
    _ended: asyncio.Future[None] | None = None
    #: Counts this connection's frames and its close (server/metrics); silent until it opens and once it closed.
    _metrics: Silent = SILENT

    @classmethod
    def as_asgi(cls, **initkwargs: Any) -> Any:  # Any: django-stubs' path() wants a view
        """An ASGI application that runs a new consumer for each connection, as Channels' ``as_asgi``.

        Channels' is a coroutine that awaits the consumer's, suspended for the
        life of every connection; this one is a plain function that returns
        the consumer's coroutine. It carries the same attributes.
        """

        def app(scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
            return cls(**initkwargs)(scope, receive, send)

        vars(app).update(consumer_class=cls, consumer_initkwargs=initkwargs)
        functools.update_wrapper(app, cls, updated=())  # name and docstring from the class
        return markcoroutinefunction(app)  # an ASGI 3 application to asgiref and servers

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Coroutine[object, object, None]:
        # A plain function returning the reading coroutine: one frame less
        # held for the life of every connection.
        # Channels would give every connection a channel of its own on the
        # layer (with RedisPubSubChannelLayer, a Redis subscription each).
        # Layer traffic goes through the process's hub instead (pubsub/hub.py).
        self.scope = scope
        self.base_send = send
        self._receive = receive
        return self._read(first=True)

    async def _read(self, first: bool = False) -> None:
        """Read and handle messages for as long as this task is the one reading.

        One source of messages, so a plain loop: Channels' await_many_dispatch
        makes a task and an asyncio.wait() per message to serve several.
        Requests run on the reading task until they first wait; then reading
        moves to a new task (:meth:`_handoff`) and this one ends with its
        request. The ``first`` task, the server's, then waits for the end of
        the connection, as the server expects of an application.
        """
        me = self._reader = asyncio.current_task()
        receive = self._receive
        try:
            while self._reader is me:
                message = await receive()
                if message["type"] == "websocket.receive":  # the hot path, without the lookup
                    await self.websocket_receive(message)
                else:
                    await self.dispatch(message)
        except StopConsumer:
            self._end()
        except BaseException as exc:
            if first:  # the server's own task: the server reports it
                raise
            self._end(exc)
            if not isinstance(exc, Exception):
                raise
            await self.endpoint.close()  # stops the requests; the server's task then raises exc
            return
        if first and self._ended is not None:
            await self._ended

    def _handoff(self) -> None:
        # A request on the reading task waits; the next frames are read on a new task.
        loop = asyncio.get_running_loop()
        if self._ended is None:
            self._ended = loop.create_future()
        self._reader = loop.create_task(self._read())

    def _end(self, error: BaseException | None = None) -> None:
        ended = self._ended
        if ended is None or ended.done():
            return
        if error is None:
            ended.set_result(None)
        elif isinstance(error, asyncio.CancelledError):
            ended.cancel()
        else:
            ended.set_exception(error)

    async def dispatch(self, message: ASGIMessage) -> None:
        # Channels' dispatch runs aclose_old_connections() (a thread hop) before
        # every message and finds handlers with getattr. Sync methods manage
        # their DB connections in their own thread instead (server/threads.py), and the
        # message types handled here are listed explicitly.
        handler = self.handlers.get(message["type"])
        if handler is None:
            logger.warning("ignored a message of unknown type %r", message["type"])
            return
        await handler(self, message)

    # Hooks ------------------------------------------------------------------

    async def on_connect(self) -> None:
        """Called when a WebSocket connection is opening, before it is accepted."""

    async def on_disconnect(self, code: int) -> None:
        """Called when the WebSocket connection has closed."""

    # Lifecycle --------------------------------------------------------------

    async def connect(self) -> None:
        registry = get_registry()
        call_timeout: float | None = wsrpc_settings.CALL_TIMEOUT
        try:
            self.connection = Connection(
                self.scope,
                registry,
                server_dispatcher(registry),
                call_timeout=call_timeout,
                max_subscriptions=wsrpc_settings.MAX_SUBSCRIPTIONS,
                publish_rate=wsrpc_settings.PUBLISH_RATE,
            )
        except BadInfo as exc:
            logger.info("refused a handshake: %s", exc)
            raise DenyConnection() from exc
        self.connection.closer = self._close_by_server
        self.endpoint = Endpoint(
            self._send_text,
            self.connection.dispatcher,
            self.connection,
            max_in_flight=wsrpc_settings.MAX_IN_FLIGHT,
            max_batch=wsrpc_settings.MAX_BATCH_LENGTH,
            call_timeout=call_timeout,
            max_outbound=wsrpc_settings.MAX_OUTBOUND_QUEUE,
            on_overflow=self._overflowed,
            handoff=self._handoff,
            progress_rate=wsrpc_settings.PROGRESS_RATE,
        )
        self.connection.attach(self.endpoint)
        self.max_message_bytes: int | None = wsrpc_settings.MAX_MESSAGE_BYTES
        await self.on_connect()
        await self.accept()
        await self.connection.open()
        bind_connection(self.connection.id, self.connection.user)
        self._metrics = recorder()
        self._metrics.connection_opened()
        self._start_timers()

    # Timers: the loop's idle sweep (server/idle.py), and a handle for MAX_LIFESPAN.

    def _start_timers(self) -> None:
        loop = asyncio.get_running_loop()
        self.last_seen = loop.time()
        idle: float | None = wsrpc_settings.IDLE_TIMEOUT
        lifespan: float | None = wsrpc_settings.MAX_LIFESPAN
        if idle is not None:
            idle_sweep().watch(self, idle)
        if lifespan is not None:
            self._lifespan_timer = loop.call_later(lifespan, self._expire, CloseCode.LIFESPAN_REACHED, "lifespan")

    def idled(self) -> None:
        self._expire(CloseCode.IDLE_TIMEOUT, "idle timeout")

    def _expire(self, code: int, why: str) -> None:
        logger.info("closing a connection: %s", why)
        self._closing = asyncio.ensure_future(self._close_with(code))

    def _stop_timers(self) -> None:
        idle_sweep().forget(self)
        if self._lifespan_timer is not None:
            self._lifespan_timer.cancel()

    def _overflowed(self) -> None:
        logger.warning("closing a connection that does not read: %d frames waiting", self.endpoint.outbox.limit or 0)
        self._metrics.slow_consumer_closed(self.endpoint.outbox.limit or 0)  # the queue it closed on was full
        self._closing = asyncio.ensure_future(self._close_with(CloseCode.SLOW_CONSUMER))

    async def _close_with(self, code: int, reason: str | None = None) -> None:
        self._stop_timers()
        await self.endpoint.close()
        await self.connection.close()
        await self.close(code=code, reason=reason)

    async def _close_by_server(self, code: int, reason: str) -> None:
        logger.info("closing a connection on server code's order (%d %s)", code, reason)
        # A close frame's reason holds at most 123 bytes (RFC 6455 section 5.5).
        await self._close_with(code, reason.encode()[:123].decode(errors="ignore"))

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        """Close the WebSocket; ``code`` may be a :class:`CloseCode`."""
        # autobahn (daphne) refuses a close code that is not exactly an int.
        exact = int(code) if code is not None and code is not True else None
        self._count_close(CloseCode.NORMAL if exact is None else exact)
        await super().close(code=code if exact is None else exact, reason=reason)

    def _count_close(self, code: int) -> None:
        metrics, self._metrics = self._metrics, SILENT  # once, with the code of whoever closed first
        metrics.connection_closed(code)

    async def _send_text(self, text: str) -> None:
        self._metrics.frame_sent(text)
        await self.base_send({"type": "websocket.send", "text": text})

    async def websocket_receive(self, message: ASGIMessage) -> None:
        self.last_seen = asyncio.get_running_loop().time()
        text = message.get("text")
        frame = text if text is not None else message.get("bytes") or b""
        self._metrics.frame_received(frame)
        # The limit is on frames, binary ones included: a large binary frame
        # closes the connection as a large text frame does.
        if self._too_big(frame):
            logger.info("closing a connection that sent a frame over %s bytes", self.max_message_bytes)
            await self.endpoint.close()
            await self._close_too_big()
            return
        if text is None:
            await self.endpoint.send(
                protocol.error_reply(None, InvalidRequest(data="binary frames are not accepted; send JSON as text"))
            )
            return
        await self.endpoint.receive(text)

    async def _close_too_big(self) -> None:
        try:
            await self.close(code=CloseCode.MESSAGE_TOO_BIG)
        except Exception as exc:  # the server refused the code; the socket is still open
            logger.debug("the server refused close code 1009 (%s); closing with 4009", exc)
            await self.close(code=CloseCode.MESSAGE_TOO_BIG_PRIVATE)

    def _too_big(self, data: str | bytes) -> bool:
        limit = self.max_message_bytes
        if limit is None or len(data) * 4 <= limit:  # UTF-8 takes at most 4 bytes a character
            return False
        return len(data) > limit or (isinstance(data, str) and len(data.encode()) > limit)

    async def websocket_disconnect(self, message: ASGIMessage) -> None:
        self._count_close(message.get("code", CloseCode.NORMAL))
        self._stop_timers()
        endpoint = getattr(self, "endpoint", None)
        if endpoint is not None:
            await endpoint.close()
            await self.connection.close()
        try:
            await self.on_disconnect(message.get("code", CloseCode.NORMAL))
        finally:
            raise StopConsumer()

    handlers = {
        "websocket.connect": AsyncWebsocketConsumer.websocket_connect,
        "websocket.receive": websocket_receive,
        "websocket.disconnect": websocket_disconnect,
    }
