"""Who is connecting: the Django session cookie, or a DRF token on the handshake.

``AuthMiddlewareStack(inner)`` is a drop-in for Channels' own. It sets
``scope["user"]`` from the session cookie, as Channels' does, and from an
``Authorization: Token <key>`` header (``rest_framework.authtoken``) when
the handshake carries one, which wins over the cookie. A handshake whose
``Authorization`` header does not name a valid token of an active user is
refused (HTTP 403), never treated as anonymous: a client that meant to
authenticate must learn that it did not.
"""

from __future__ import annotations

import logging
from typing import Any

from channels.auth import AuthMiddleware
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import WebsocketDenier
from channels.sessions import CookieMiddleware, InstanceSessionWrapper, SessionMiddleware

__all__ = ["AuthMiddlewareStack", "TokenAuthMiddleware", "header"]

logger = logging.getLogger("wsrpc")

KEYWORD = "token"


def header(scope: dict[str, Any], name: bytes) -> str | None:
    """The value of a handshake header (the first one), decoded as latin-1."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin1")
    return None


@database_sync_to_async  # type: ignore[untyped-decorator]  # channels has no type hints
def _user_for_token(key: str) -> Any:
    try:
        from rest_framework.authtoken.models import Token
    except RuntimeError:  # rest_framework.authtoken is not in INSTALLED_APPS
        logger.warning("a token was presented but rest_framework.authtoken is not installed")
        return None
    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return None
    return token.user


class TokenAuthMiddleware(BaseMiddleware):  # type: ignore[misc]  # channels has no type hints
    """Sets ``scope["user"]`` from ``Authorization: Token <key>``; refuses the handshake for a bad one."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        value = header(scope, b"authorization")
        if value is None:
            return await self.inner(scope, receive, send)
        keyword, _, key = value.strip().partition(" ")
        user = await _user_for_token(key.strip()) if keyword.lower() == KEYWORD and key.strip() else None
        if user is None:
            logger.info("refused a handshake with an invalid Authorization header")
            return await WebsocketDenier()(scope, receive, send)
        return await self.inner(dict(scope, user=user), receive, send)


class _SessionMiddleware(SessionMiddleware):  # type: ignore[misc]  # channels has no type hints
    """Channels' SessionMiddleware without its work on every WebSocket message.

    Channels' wrapped ``send`` reads the session's ``modified`` and
    ``is_empty()`` through Django's LazyObject before every message, and then
    saves the session or sets a cookie only on ``http.response.start``: never
    for a WebSocket. In the fan-out benchmark (``python -m benchmarks.run
    fanout``) that was about 10 of the 33 µs of server CPU per delivered
    event. A WebSocket's messages now go straight to the server; HTTP takes
    Channels' path unchanged.
    """

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        wrapper = InstanceSessionWrapper(scope, send)
        await wrapper.resolve_session()
        if scope["type"] == "websocket":
            return await self.inner(wrapper.scope, receive, send)
        return await self.inner(wrapper.scope, receive, wrapper.send)


def AuthMiddlewareStack(inner: Any) -> Any:  # noqa: N802 - named as Channels' own, which it replaces
    """Session cookie and DRF token authentication for WebSocket handshakes.

    The same layers as Channels' ``AuthMiddlewareStack`` (cookies, session,
    user), with the token check inside them.
    """
    return CookieMiddleware(_SessionMiddleware(AuthMiddleware(TokenAuthMiddleware(inner))))
