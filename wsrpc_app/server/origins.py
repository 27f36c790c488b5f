"""Which web pages may open a WebSocket to this server.

A browser sends the page's ``Origin`` with every WebSocket handshake and,
unlike for ``fetch``, enforces nothing itself: without a check, any site a
logged-in user visits could open a socket that carries their session cookie
and act as them (cross-site WebSocket hijacking). ``OriginValidator``
refuses such handshakes (HTTP 403).

A handshake with no ``Origin`` at all does not come from a browser page:
browsers always send it. It comes from a service, a script, the Python
client; it carries no one's cookies by accident, so hijacking is not
possible through it, and it is let through by default
(``ALLOW_NO_ORIGIN``). It still has to authenticate like any other.
"""

from __future__ import annotations

from collections.abc import Awaitable
from urllib.parse import ParseResult, urlparse

from asgiref.sync import markcoroutinefunction
from channels.security.websocket import OriginValidator as ChannelsOriginValidator
from channels.security.websocket import WebsocketDenier
from django.conf import settings

from ..conf import wsrpc_settings
from ..core.types import ASGIApp, Receive, Scope, Send

__all__ = ["OriginValidator", "allowed_origins", "deny"]


def allowed_origins() -> list[str]:
    """``WSRPC["ALLOWED_ORIGINS"]``, or by default the hosts of ``ALLOWED_HOSTS``."""
    configured = wsrpc_settings.ALLOWED_ORIGINS
    if configured is not None:
        return list(configured)
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not hosts:
        hosts = ["localhost", "127.0.0.1", "[::1]"]  # as Django's own DEBUG default
    return hosts


def deny(scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
    """Refuses the WebSocket handshake: Channels' ``WebsocketDenier``, a 403 from a server."""
    denier: ASGIApp = WebsocketDenier()  # an ASGI 3 application; channels has no type hints
    return denier(scope, receive, send)


def _origin(scope: Scope) -> ParseResult | None:
    """The handshake's ``Origin``, parsed; the last one when there are several, as Channels reads it."""
    origin = None
    for name, value in scope.get("headers", ()):
        if name == b"origin":
            origin = urlparse(value.decode("latin1"))
    return origin


class OriginValidator:
    """Refuses WebSocket handshakes from pages whose origin is not allowed.

    Patterns are Channels': ``https://example.com``, ``example.com`` (any
    scheme and port), ``.example.com`` (and its subdomains), ``*``, matched
    by Channels' own ``OriginValidator``. Settings are read at each handshake.

    Unlike Channels' validator, whose coroutine stays suspended in
    ``await application(...)`` with the parsed origin for the life of every
    connection, ``__call__`` is a plain function: it checks the origin and
    returns the application's coroutine (or the denier's).
    """

    def __init__(self, application: ASGIApp) -> None:
        self.application = application

    @markcoroutinefunction  # an ASGI 3 application to asgiref and servers, though a plain function
    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] != "websocket":
            channels_validator: ASGIApp = ChannelsOriginValidator(self.application, [])
            return channels_validator(scope, receive, send)  # Channels' ValueError, when awaited
        if self.valid_origin(_origin(scope)):
            return self.application(scope, receive, send)
        return deny(scope, receive, send)

    @property
    def allowed_origins(self) -> list[str]:
        return allowed_origins()

    def valid_origin(self, parsed_origin: ParseResult | None) -> bool:
        if parsed_origin is None:
            return bool(wsrpc_settings.ALLOW_NO_ORIGIN)
        return _matches(parsed_origin, self.allowed_origins)


def _matches(origin: ParseResult, patterns: list[str]) -> bool:
    """Whether ``origin`` matches one of ``patterns``, by Channels' own rules."""
    return bool(ChannelsOriginValidator(None, patterns).validate_origin(origin))
