"""``WebSocketProxy``: the ASGI application an API gateway routes to.

::

    path("ws/chat/<room>/", WebSocketProxy.as_asgi(target="ws://chat:8000/ws/chat/{room}/"))

At each handshake it formats the target from the route's kwargs, connects to
it (offering the client's subprotocols, forwarding the chosen headers) and
only then accepts the client, with the subprotocol the target chose. When the
target cannot be reached, refuses, or does not answer within
``connect_timeout``, the client's handshake is refused: HTTP 502 (504 for a
timeout; the target's own 401 or 403 as it is) where the ASGI server allows a
status (uvicorn), 403 otherwise (daphne). Then a
:class:`~wsrpc_app.proxy.tunnel.Tunnel` carries the frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl as ssl_module
from collections.abc import Iterable
from http import HTTPStatus
from typing import Literal, TypedDict, Unpack

from websockets.asyncio.client import ClientConnection, connect
from websockets.http11 import USER_AGENT

from ..core.types import ASGIMessage, Receive, Scope, Send
from .closing import refusal_status
from .headers import DEFAULT_FORWARDED_HEADERS, forwarded, header_names
from .target import BadTarget, TargetTemplate
from .tunnel import Tunnel

__all__ = ["WebSocketProxy", "ProxyOptions"]

logger = logging.getLogger("wsrpc.proxy")


class ProxyOptions(TypedDict, total=False):
    """The keyword options of :class:`WebSocketProxy` (and of ``as_asgi``)."""

    forward_headers: Iterable[str]
    trust_forwarded: bool
    forward_query: bool
    ssl: ssl_module.SSLContext | None
    proxy: str | Literal[True] | None
    connect_timeout: float | None
    close_timeout: float | None
    ping_interval: float | None
    ping_timeout: float | None
    max_message_bytes: int | None
    max_queue: int | None
    write_limit: int


class WebSocketProxy:
    """Forwards a WebSocket to ``target`` and back, frame by frame.

    ``target`` is a ``ws://`` or ``wss://`` URL whose ``{name}`` placeholders
    (in its path or query) are filled from the URL route's kwargs; the
    client's query string is appended unless ``forward_query`` is false.
    ``forward_headers`` names the request headers passed on (``Cookie``
    only when listed); ``X-Forwarded-For``, ``-Proto`` and ``-Host`` are
    added, extending the client's own only with ``trust_forwarded``.
    ``ssl`` is for ``wss://`` targets: certificates are verified against
    the system's CAs by default; give an :class:`ssl.SSLContext` to trust a
    private CA. ``proxy`` is an
    HTTP or SOCKS proxy to reach the target through (``True``: the
    ``https_proxy``/``no_proxy`` environment); none by default.

    Each option has a default and ``None`` disables a limit or a timeout.
    """

    def __init__(
        self,
        target: str,
        *,
        forward_headers: Iterable[str] = DEFAULT_FORWARDED_HEADERS,
        trust_forwarded: bool = False,
        forward_query: bool = True,
        ssl: ssl_module.SSLContext | None = None,
        proxy: str | Literal[True] | None = None,
        # Timeouts
        connect_timeout: float | None = 10.0,
        close_timeout: float | None = 5.0,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        # Limits
        max_message_bytes: int | None = 1024 * 1024,
        max_queue: int | None = 16,
        write_limit: int = 32 * 1024,
    ) -> None:
        self.target = TargetTemplate(target)
        self.forward_headers = header_names(forward_headers)
        self.trust_forwarded = trust_forwarded
        self.forward_query = forward_query
        self.ssl = ssl
        self.proxy = proxy
        self.connect_timeout = connect_timeout
        self.close_timeout = close_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.max_message_bytes = max_message_bytes
        self.max_queue = max_queue
        self.write_limit = write_limit

    @classmethod
    def as_asgi(cls, target: str, **options: Unpack[ProxyOptions]) -> WebSocketProxy:
        """The ASGI application for a route: options are checked now, not at the first handshake."""
        return cls(target, **options)

    def __repr__(self) -> str:
        return f"<WebSocketProxy to {self.target.template}>"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            raise ValueError(f"WebSocketProxy serves WebSocket connections, not {scope['type']!r}")
        if (await receive())["type"] != "websocket.connect":
            return  # the client left before its handshake reached the application
        try:
            url = self.target_url(scope)
        except BadTarget as exc:
            logger.warning("refusing a WebSocket to proxy: %s", exc)
            await refuse(scope, send, 404)
            return
        # Listen for the client leaving while connecting, so that a client that gave up cancels the attempt.
        connecting = asyncio.ensure_future(self._connect(url, scope))
        leaving = asyncio.ensure_future(receive())
        try:
            await asyncio.wait({connecting, leaving}, return_when=asyncio.FIRST_COMPLETED)
            if not connecting.done():  # the client left first
                connecting.cancel()
            await asyncio.gather(connecting, return_exceptions=True)
            if connecting.cancelled():
                return
            error = connecting.exception()
            if error is not None:
                leaving.cancel()
                await asyncio.gather(leaving, return_exceptions=True)
                status = refusal_status(error)
                logger.info("refusing a WebSocket with %d: could not open %s: %r", status, _redacted(url), error)
                with contextlib.suppress(OSError):  # the client may have left meanwhile
                    await refuse(scope, send, status)
                return
            await send({"type": "websocket.accept", "subprotocol": connecting.result().subprotocol})
        except BaseException:
            _abandon(connecting)
            leaving.cancel()
            raise
        await Tunnel(connecting.result(), receive, send, leaving, max_message_bytes=self.max_message_bytes).run()

    def target_url(self, scope: Scope) -> str:
        """The target for this handshake's scope."""
        kwargs = scope.get("url_route", {}).get("kwargs", {})
        query = bytes(scope.get("query_string", b"")).decode("latin1") if self.forward_query else ""
        return self.target.url(kwargs, query)

    async def _connect(self, url: str, scope: Scope) -> ClientConnection:
        headers = forwarded(scope, self.forward_headers, trust_forwarded=self.trust_forwarded)
        return await connect(
            url,
            additional_headers=headers.headers,
            user_agent_header=headers.user_agent or USER_AGENT,
            subprotocols=list(scope.get("subprotocols") or ()) or None,
            proxy=self.proxy,
            open_timeout=self.connect_timeout,
            close_timeout=self.close_timeout,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            max_size=self.max_message_bytes,
            max_queue=self.max_queue,
            write_limit=self.write_limit,
            ssl=(self.ssl or True) if url.startswith("wss:") else None,
        )


async def refuse(scope: Scope, send: Send, status: int) -> None:
    """Refuse the client's handshake: with ``status`` where the server allows one, else its 403."""
    if "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close"})
        return
    start: ASGIMessage = {
        "type": "websocket.http.response.start",
        "status": status,
        "headers": [(b"content-type", b"text/plain; charset=utf-8")],
    }
    await send(start)
    await send({"type": "websocket.http.response.body", "body": f"{status} {HTTPStatus(status).phrase}\n".encode()})


def _abandon(connecting: asyncio.Future[ClientConnection]) -> None:
    """Stop connecting to the target, or drop the connection just made: the handshake will not go on."""
    if not connecting.done():
        connecting.cancel()
    elif not connecting.cancelled() and connecting.exception() is None:
        connecting.result().transport.abort()


def _redacted(url: str) -> str:
    """``url`` without its query, which may carry a token."""
    return url.split("?", 1)[0]
