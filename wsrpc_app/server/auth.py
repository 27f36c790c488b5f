"""Who is connecting: the Django session cookie, or a DRF token on the handshake.

``AuthMiddlewareStack(inner)`` is a drop-in for Channels' own. It sets
``scope["cookies"]``, ``scope["session"]`` and ``scope["user"]`` as
Channels' does, the user from the session cookie, or from an
``Authorization: Token <key>`` header (``rest_framework.authtoken``) when
the handshake carries one, which wins over the cookie. A handshake whose
``Authorization`` header does not name a valid token of an active user is
refused (HTTP 403), never treated as anonymous: a client that meant to
authenticate must learn that it did not.

For a WebSocket it does all of that in one step, with one copy of the
scope, and keeps nothing of its own alive for the life of the connection
(see :class:`HandshakeAuthMiddleware`). Other scopes (HTTP, if ever wrapped)
go through Channels' layers unchanged, with :class:`TokenAuthMiddleware`
inside them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from importlib import import_module
from typing import TYPE_CHECKING

from asgiref.sync import markcoroutinefunction
from channels.auth import AuthMiddleware, get_user
from channels.db import database_sync_to_async
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.conf import settings
from django.http import parse_cookie

from ..core.types import ASGIApp, Receive, Scope, Send
from .origins import deny

if TYPE_CHECKING:  # models: not at import time
    from django.contrib.auth.base_user import AbstractBaseUser

__all__ = ["AuthMiddlewareStack", "HandshakeAuthMiddleware", "TokenAuthMiddleware", "header"]

logger = logging.getLogger("wsrpc")

KEYWORD = "token"


def header(scope: Scope, name: bytes) -> str | None:
    """The value of a handshake header (the first one), decoded as latin-1."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin1")
    return None


def _token_user(key: str) -> AbstractBaseUser | None:
    try:
        from rest_framework.authtoken.models import Token
    except RuntimeError:  # rest_framework.authtoken is not in INSTALLED_APPS
        logger.warning("a token was presented but rest_framework.authtoken is not installed")
        return None
    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None:
        return None
    user: AbstractBaseUser = token.user
    return user if user.is_active else None


#: :func:`_token_user` in a thread, with the stale DB connections closed (Channels' ``database_sync_to_async``).
_user_for_token: Callable[[str], Awaitable[AbstractBaseUser | None]] = database_sync_to_async(_token_user)


async def _user_for_authorization(value: str) -> AbstractBaseUser | None:
    """The active user an ``Authorization: Token <key>`` header names; None for any other value."""
    keyword, _, key = value.strip().partition(" ")
    key = key.strip()
    if keyword.lower() != KEYWORD or not key:
        return None
    return await _user_for_token(key)


def _refuse(scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
    logger.info("refused a handshake with an invalid Authorization header")
    return deny(scope, receive, send)


class TokenAuthMiddleware:
    """Sets ``scope["user"]`` from ``Authorization: Token <key>``; refuses the handshake for a bad one."""

    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        value = header(scope, b"authorization")
        if value is None:
            return await self.inner(scope, receive, send)
        user = await _user_for_authorization(value)
        if user is None:
            return await _refuse(scope, receive, send)
        return await self.inner(dict(scope, user=user), receive, send)


class HandshakeAuthMiddleware:
    """Cookies, session and user of a WebSocket handshake in one step: what ``AuthMiddlewareStack`` returns.

    The scope it passes on holds what Channels' ``CookieMiddleware``,
    ``SessionMiddleware`` and ``AuthMiddleware`` put there, and the token's
    user when there is one: ``cookies``; ``session``, a Django session store
    for the session cookie's key (a new, empty one without it), loaded from
    the database only when first read, on which ``channels.auth.login()`` and
    ``logout()`` work; ``user``.

    Every layer of Channels' stack stays suspended in ``await inner(...)``
    for the life of the connection, each with its own copy of the scope:
    about 3 KB per idle connection (``python -m benchmarks.run memory``).
    Here ``__call__`` is a plain function that returns the inner
    application's coroutine, so for a handshake with neither a session
    cookie nor an ``Authorization`` header (an anonymous user: nothing to
    look up) no frame of this middleware outlives the call. Otherwise it
    returns one coroutine that looks the user up and then awaits the inner
    application. Like Channels' for a WebSocket, it never saves the session
    itself: a consumer that changes it saves it.
    """

    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner
        #: Scopes other than a WebSocket's take Channels' layers unchanged.
        self.layers: ASGIApp = CookieMiddleware(SessionMiddleware(AuthMiddleware(TokenAuthMiddleware(inner))))

    @markcoroutinefunction  # an ASGI 3 application to asgiref and servers, though a plain function
    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] != "websocket":
            return self.layers(scope, receive, send)
        # The first of each header, as Channels' CookieMiddleware and DRF read them.
        cookie, authorization = header(scope, b"cookie"), header(scope, b"authorization")
        cookies = {} if cookie is None else parse_cookie(cookie)
        scope = dict(scope, cookies=cookies)
        if "session" in scope:
            lookup = True  # a session from an outer middleware, as Channels' passes it through
        else:
            key = cookies.get(settings.SESSION_COOKIE_NAME)
            scope["session"] = import_module(settings.SESSION_ENGINE).SessionStore(key)
            lookup = key is not None
        if authorization is None and not lookup:
            from django.contrib.auth.models import AnonymousUser  # models: not at import time

            scope["user"] = AnonymousUser()
            return self.inner(scope, receive, send)
        return self._authenticate(scope, receive, send, authorization)

    async def _authenticate(self, scope: Scope, receive: Receive, send: Send, authorization: str | None) -> None:
        if authorization is None:
            scope["user"] = await get_user(scope)
        else:
            # The token wins over the session, whose user is then never looked up.
            scope["user"] = await _user_for_authorization(authorization)
            if scope["user"] is None:
                return await _refuse(scope, receive, send)
        return await self.inner(scope, receive, send)


def AuthMiddlewareStack(inner: ASGIApp) -> HandshakeAuthMiddleware:  # noqa: N802 - named as Channels' own, which it replaces
    """Session cookie and DRF token authentication for WebSocket handshakes.

    What Channels' ``AuthMiddlewareStack`` (cookies, session, user) sets,
    with the token check, in one middleware.
    """
    return HandshakeAuthMiddleware(inner)
