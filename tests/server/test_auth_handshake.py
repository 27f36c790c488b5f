"""``AuthMiddlewareStack`` as one middleware: the scope it builds, on each path a handshake takes.

tests/test_auth.py drives the whole stack with the RPC consumer; these look
at the scope a consumer receives (cookies, session, user), at Channels'
``login()``/``logout()`` on it, and at what ``__call__`` returns.
"""

from __future__ import annotations

from collections.abc import Awaitable
from importlib import import_module
from typing import Any

import pytest
from asgiref.compatibility import guarantee_single_callable
from asgiref.sync import iscoroutinefunction, sync_to_async
from channels.auth import login, logout
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.testing import ApplicationCommunicator, WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.base import SessionBase
from django.test import Client
from rest_framework.authtoken.models import Token

from wsrpc_app.auth import AuthMiddlewareStack, HandshakeAuthMiddleware

pytestmark = pytest.mark.django_db(transaction=True)

User = get_user_model()
BACKEND = "django.contrib.auth.backends.ModelBackend"


class Probe(AsyncWebsocketConsumer):  # type: ignore[misc]  # channels has no type hints
    """Accepts, keeps its scope in ``scopes``, and logs in or out when told to."""

    scopes: list[dict[str, Any]] = []

    async def connect(self) -> None:
        self.scopes.append(self.scope)
        await self.accept()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        command, _, username = (text_data or "").partition(" ")
        if command == "login":
            await login(self.scope, await User.objects.aget(username=username), backend=BACKEND)
        elif command == "logout":
            await logout(self.scope)
        await database_sync_to_async(self.scope["session"].save)()
        await self.send(self.scope["session"].session_key or "")


@pytest.fixture
def scopes() -> list[dict[str, Any]]:
    Probe.scopes = []
    return Probe.scopes


async def connect(*headers: tuple[bytes, bytes]) -> tuple[WebsocketCommunicator, dict[str, Any] | None]:
    """Open a connection to ``Probe`` behind the stack: (the communicator, the consumer's scope or None if refused)."""
    communicator = WebsocketCommunicator(AuthMiddlewareStack(Probe.as_asgi()), "/", headers=list(headers))
    accepted, _ = await communicator.connect()
    return communicator, Probe.scopes[-1] if accepted else None


async def scope_of(*headers: tuple[bytes, bytes]) -> dict[str, Any] | None:
    communicator, scope = await connect(*headers)
    await communicator.disconnect()
    return scope


def session_cookie(key: str) -> tuple[bytes, bytes]:
    return (b"cookie", f"{settings.SESSION_COOKIE_NAME}={key}".encode())


def logged_in(user: Any) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    return session_cookie(client.cookies[settings.SESSION_COOKIE_NAME].value)


def authorization(value: str) -> tuple[bytes, bytes]:
    return (b"authorization", value.encode("latin1"))


@pytest.fixture
async def alice() -> Any:
    return await User.objects.acreate(username="alice")


@pytest.fixture
async def token(alice: Any) -> str:
    return (await Token.objects.acreate(user=alice)).key


# Anonymous: neither a session cookie nor an Authorization header ---------------------------------


async def test_anonymous_scope(scopes: list[dict[str, Any]]) -> None:
    scope = await scope_of((b"cookie", b"csrftoken=abc; theme=dark"))
    assert scope is not None
    assert scope["cookies"] == {"csrftoken": "abc", "theme": "dark"}
    assert isinstance(scope["user"], AnonymousUser)
    session = scope["session"]
    assert isinstance(session, SessionBase)
    assert session.session_key is None
    assert session.accessed is False  # nothing read it: no database query


async def test_anonymous_session_is_usable(scopes: list[dict[str, Any]]) -> None:
    scope = await scope_of()
    assert scope is not None
    scope["session"]["k"] = "v"
    await database_sync_to_async(scope["session"].save)()
    again = await scope_of(session_cookie(scope["session"].session_key))
    assert again is not None
    assert again["session"]["k"] == "v"
    assert isinstance(again["user"], AnonymousUser)


async def test_anonymous_handshake_returns_the_inner_coroutine() -> None:
    """Nothing of the middleware stays suspended for the life of an anonymous connection."""
    seen: list[dict[str, Any]] = []

    async def run() -> None:
        pass

    coroutine = run()

    def inner(scope: dict[str, Any], receive: Any, send: Any) -> Awaitable[None]:
        seen.append(scope)
        return coroutine

    scope = {"type": "websocket", "path": "/", "headers": [(b"cookie", b"theme=dark")]}
    assert AuthMiddlewareStack(inner)(scope, None, None) is coroutine
    coroutine.close()
    assert seen[0] is not scope  # one copy: the caller's scope is left alone
    assert "cookies" not in scope
    assert set(seen[0]) - set(scope) == {"cookies", "session", "user"}


def test_is_an_asgi3_application() -> None:
    stack = AuthMiddlewareStack(Probe.as_asgi())
    assert isinstance(stack, HandshakeAuthMiddleware)
    assert iscoroutinefunction(stack.__call__)
    assert guarantee_single_callable(stack) is stack


# Session cookie ---------------------------------------------------------------------------------------


async def test_session_cookie_of_a_logged_in_user(scopes: list[dict[str, Any]], alice: Any) -> None:
    cookie = await sync_to_async(logged_in)(alice)
    scope = await scope_of(cookie, (b"cookie", b"ignored=second-header"))
    assert scope is not None
    assert scope["user"] == alice
    assert scope["session"].session_key == scope["cookies"][settings.SESSION_COOKIE_NAME]
    assert "ignored" not in scope["cookies"]  # the first Cookie header, as Channels reads it


async def test_unknown_session_key_is_anonymous(scopes: list[dict[str, Any]]) -> None:
    scope = await scope_of(session_cookie("nosuchsession"))
    assert scope is not None
    assert isinstance(scope["user"], AnonymousUser)


async def test_an_outer_session_is_passed_through(scopes: list[dict[str, Any]], alice: Any) -> None:
    outer = import_module(settings.SESSION_ENGINE).SessionStore()
    await login({"session": outer, "user": None}, alice, backend=BACKEND)
    communicator = WebsocketCommunicator(AuthMiddlewareStack(Probe.as_asgi()), "/")
    communicator.scope["session"] = outer
    assert (await communicator.connect())[0]
    await communicator.disconnect()
    assert scopes[-1]["session"] is outer
    assert scopes[-1]["user"] == alice


# Channels' login() and logout() in a consumer -----------------------------------------------------------


async def test_login_in_a_consumer_then_the_session_cookie_authenticates(
    scopes: list[dict[str, Any]], alice: Any
) -> None:
    communicator, scope = await connect()
    assert scope is not None
    await communicator.send_to("login alice")
    key = await communicator.receive_from()
    await communicator.disconnect()
    assert scope["user"] == alice
    assert key
    again = await scope_of(session_cookie(key))
    assert again is not None
    assert again["user"] == alice


async def test_logout_in_a_consumer(scopes: list[dict[str, Any]], alice: Any) -> None:
    cookie = await sync_to_async(logged_in)(alice)
    communicator, scope = await connect(cookie)
    assert scope is not None
    assert scope["user"] == alice
    await communicator.send_to("logout")
    await communicator.receive_from()
    await communicator.disconnect()
    assert isinstance(scope["user"], AnonymousUser)
    again = await scope_of(cookie)
    assert again is not None
    assert isinstance(again["user"], AnonymousUser)


# DRF token -----------------------------------------------------------------------------------------------


async def test_valid_token(scopes: list[dict[str, Any]], token: str, alice: Any) -> None:
    scope = await scope_of(authorization(f"Token {token}"))
    assert scope is not None
    assert scope["user"] == alice
    assert scope["session"].session_key is None


async def test_token_wins_over_the_session_cookie(scopes: list[dict[str, Any]], token: str) -> None:
    bob = await User.objects.acreate(username="bob")
    cookie = await sync_to_async(logged_in)(bob)
    scope = await scope_of(cookie, authorization(f"Token {token}"))
    assert scope is not None
    assert scope["user"].username == "alice"
    assert scope["session"].session_key == scope["cookies"][settings.SESSION_COOKIE_NAME]


async def refused(*headers: tuple[bytes, bytes]) -> bool:
    """Whether the handshake was refused: closed before it was accepted, which servers send as HTTP 403."""
    communicator = ApplicationCommunicator(
        AuthMiddlewareStack(Probe.as_asgi()),
        {"type": "websocket", "path": "/", "headers": list(headers), "subprotocols": []},
    )
    await communicator.send_input({"type": "websocket.connect"})
    first = await communicator.receive_output()
    await communicator.wait()
    return bool(first["type"] == "websocket.close")


async def test_invalid_token_is_refused(scopes: list[dict[str, Any]], token: str) -> None:
    assert await refused(authorization("Token 0123456789abcdef0123456789abcdef01234567"))
    assert scopes == []


async def test_token_of_an_inactive_user_is_refused(scopes: list[dict[str, Any]], token: str, alice: Any) -> None:
    alice.is_active = False
    await alice.asave()
    assert await refused(authorization(f"Token {token}"))
    assert scopes == []


@pytest.mark.parametrize("scheme", ["Bearer", "Basic", "Tokens"])
async def test_another_scheme_is_refused(scopes: list[dict[str, Any]], token: str, scheme: str) -> None:
    assert await refused(authorization(f"{scheme} {token}"))
    assert scopes == []


async def test_a_bad_token_is_refused_even_with_a_good_session(scopes: list[dict[str, Any]], alice: Any) -> None:
    cookie = await sync_to_async(logged_in)(alice)
    assert await refused(cookie, authorization("Token nope"))
    assert not await refused(cookie)


# Other scope types --------------------------------------------------------------------------------------


async def http_scope_of(*headers: tuple[bytes, bytes]) -> dict[str, Any]:
    """The scope an HTTP application behind the stack receives."""
    seen: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    scope = {"type": "http", "method": "GET", "path": "/", "headers": list(headers)}
    communicator = ApplicationCommunicator(AuthMiddlewareStack(app), scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    assert (await communicator.receive_output())["status"] == 204
    await communicator.receive_output()
    await communicator.wait()
    return seen[0]


async def test_http_scope_takes_channels_layers(alice: Any) -> None:
    cookie = await sync_to_async(logged_in)(alice)
    scope = await http_scope_of(cookie)
    assert scope["user"] == alice
    assert scope["cookies"][settings.SESSION_COOKIE_NAME]


async def test_http_scope_takes_the_token_user_over_the_session(alice: Any, token: str) -> None:
    bob = await User.objects.acreate(username="bob")
    cookie = await sync_to_async(logged_in)(bob)
    assert (await http_scope_of(cookie, authorization(f"Token {token}")))["user"] == alice
