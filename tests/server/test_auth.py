"""The handshake: who connects (session cookie, DRF token) and from which page (Origin), in process.

The same stack as tests/asgi.py: ``OriginValidator(AuthMiddlewareStack(URLRouter(...)))``.
The live servers get the same checks in tests/e2e/test_security.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from rest_framework.authtoken.models import Token

from wsrpc_app.auth import AuthMiddlewareStack, header
from wsrpc_app.origins import OriginValidator, allowed_origins
from wsrpc_app.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db(transaction=True)

User = get_user_model()
PATH = "/ws/rpc/"
ORIGIN = (b"origin", b"http://127.0.0.1:8000")


def application() -> Any:
    return OriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))


async def handshake(*headers: tuple[bytes, bytes]) -> tuple[bool, Any]:
    """Open a connection; (accepted, the username ``who`` answers, or the close code when refused)."""
    communicator = WebsocketCommunicator(application(), PATH, headers=list(headers))
    accepted, code = await communicator.connect()
    if not accepted:
        await communicator.disconnect()
        return False, code
    await communicator.send_json_to({"jsonrpc": "2.0", "method": "who", "id": 1})
    reply = await communicator.receive_json_from()
    await communicator.disconnect()
    return True, reply["result"]


def authorization(value: str) -> tuple[bytes, bytes]:
    return (b"authorization", value.encode("latin1"))


@pytest.fixture
async def token() -> str:
    user = await User.objects.acreate(username="tokenuser")
    return (await Token.objects.acreate(user=user)).key


# DRF tokens ---------------------------------------------------------------------------------


async def test_no_credentials_is_anonymous() -> None:
    assert await handshake(ORIGIN) == (True, None)


async def test_good_token(token: str) -> None:
    assert await handshake(ORIGIN, authorization(f"Token {token}")) == (True, "tokenuser")


@pytest.mark.parametrize("template", ["token {}", "TOKEN {}", "Token  {}", " Token {} "])
async def test_keyword_case_and_spaces_as_drf(token: str, template: str) -> None:
    assert await handshake(ORIGIN, authorization(template.format(token))) == (True, "tokenuser")


@pytest.mark.parametrize(
    "value",
    [
        "Token 0123456789abcdef0123456789abcdef01234567",  # unknown
        "Token ",
        "Token",
        "Bearer {token}",
        "Basic dG9rZW51c2VyOnB3",
        "{token}",
        "Token {token} extra",
        "Token\t{token}",
        "Tokens {token}",
        "",
        "Token \u00e9\u00e8",
    ],
    ids=repr,
)
async def test_bad_authorization_is_refused_not_anonymous(token: str, value: str) -> None:
    accepted, _ = await handshake(ORIGIN, authorization(value.format(token=token)))
    assert accepted is False


async def test_token_of_an_inactive_user_is_refused(token: str) -> None:
    await User.objects.filter(username="tokenuser").aupdate(is_active=False)
    assert (await handshake(ORIGIN, authorization(f"Token {token}")))[0] is False


async def test_deleted_token_is_refused(token: str) -> None:
    await Token.objects.filter(key=token).adelete()
    assert (await handshake(ORIGIN, authorization(f"Token {token}")))[0] is False


async def test_the_first_authorization_header_counts(token: str) -> None:
    assert await handshake(ORIGIN, authorization(f"Token {token}"), authorization("Bearer x")) == (True, "tokenuser")
    assert (await handshake(ORIGIN, authorization("Bearer x"), authorization(f"Token {token}")))[0] is False


async def test_token_refusal_is_logged_without_the_key(token: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="wsrpc"):
        assert (await handshake(ORIGIN, authorization("Token nope")))[0] is False
    assert "refused a handshake with an invalid Authorization header" in caplog.text
    assert "nope" not in caplog.text  # the presented key is not logged


@override_settings(INSTALLED_APPS=[app for app in settings.INSTALLED_APPS if app != "rest_framework.authtoken"])
async def test_a_token_without_authtoken_installed_is_refused() -> None:
    assert (await handshake(ORIGIN, authorization("Token abc")))[0] is False


# Session cookie -----------------------------------------------------------------------------------


def session_cookie(user: Any) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    return (b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode())


async def test_session_cookie() -> None:
    user = await User.objects.acreate(username="cookieuser")
    cookie = await sync_to_async(session_cookie)(user)
    assert await handshake(ORIGIN, cookie) == (True, "cookieuser")


async def test_token_wins_over_the_session(token: str) -> None:
    user = await User.objects.acreate(username="cookieuser")
    cookie = await sync_to_async(session_cookie)(user)
    assert await handshake(ORIGIN, cookie, authorization(f"Token {token}")) == (True, "tokenuser")


async def test_a_bad_token_is_refused_even_with_a_good_session() -> None:
    user = await User.objects.acreate(username="cookieuser")
    cookie = await sync_to_async(session_cookie)(user)
    assert (await handshake(ORIGIN, cookie, authorization("Token nope")))[0] is False


async def test_session_of_an_inactive_user_is_anonymous() -> None:
    user = await User.objects.acreate(username="cookieuser")
    cookie = await sync_to_async(session_cookie)(user)
    await User.objects.filter(pk=user.pk).aupdate(is_active=False)
    assert await handshake(ORIGIN, cookie) == (True, None)


async def test_unknown_session_is_anonymous() -> None:
    assert await handshake(ORIGIN, (b"cookie", b"sessionid=nosuchsession")) == (True, None)


def test_header_helper() -> None:
    scope = {"headers": [(b"x", b"1"), (b"authorization", b"Token \xe9"), (b"authorization", b"second")]}
    assert header(scope, b"authorization") == "Token \u00e9"
    assert header(scope, b"missing") is None
    assert header({}, b"x") is None


# Origins -------------------------------------------------------------------------------------------


async def accepts_origin(origin: bytes | None) -> bool:
    headers = [] if origin is None else [(b"origin", origin)]
    return (await handshake(*headers))[0]


#: Test settings: ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"], ALLOWED_ORIGINS unset.
@pytest.mark.parametrize(
    ("origin", "accepted"),
    [
        (b"http://127.0.0.1:8000", True),
        (b"https://localhost", True),
        (b"http://localhost:1234", True),
        (b"HTTP://LOCALHOST", True),
        (b"http://evil.example", False),
        (b"null", False),
        (b"", False),
        (b"*", False),
        (b"http://sub.localhost", False),  # a host without a leading dot does not cover subdomains
        (b"http://localhost.evil.example", False),
        (b"http://127.0.0.1.evil.example", False),
        (b"http://127.0.0.1:8000@evil.example", False),
        (b"http://evil.example#@127.0.0.1", False),
        (b"file://", False),
        (b"http://127.0.0.2", False),
        (b"http://\xff\xfe", False),
    ],
    ids=repr,
)
async def test_origin_defaults_from_allowed_hosts(origin: bytes, accepted: bool) -> None:
    assert await accepts_origin(origin) is accepted


@pytest.mark.parametrize(
    ("origin", "accepted"),
    [
        (b"https://example.com", True),
        (b"https://example.com:443", True),
        (b"http://example.com", False),  # another scheme
        (b"https://example.com:8443", False),  # another port
        (b"https://www.example.com", False),
        (b"https://app.example.org", True),  # .example.org: the domain and every subdomain
        (b"http://a.b.example.org:81", True),
        (b"https://example.org", True),
        (b"https://badexample.org", False),
        (b"https://example.org.evil.example", False),
        (b"http://127.0.0.1:8000", False),  # ALLOWED_ORIGINS replaces ALLOWED_HOSTS
    ],
    ids=repr,
)
async def test_configured_origins_and_subdomain_rules(origin: bytes, accepted: bool) -> None:
    with override_settings(WSRPC={**settings.WSRPC, "ALLOWED_ORIGINS": ["https://example.com", ".example.org"]}):
        assert await accepts_origin(origin) is accepted


async def test_wildcard_allows_any_origin_even_null() -> None:
    with override_settings(WSRPC={**settings.WSRPC, "ALLOWED_ORIGINS": ["*"]}):
        assert await accepts_origin(b"http://evil.example")
        assert await accepts_origin(b"null")


async def test_no_origin_is_allowed_by_default() -> None:
    assert await accepts_origin(None)


async def test_no_origin_is_refused_with_allow_no_origin_false() -> None:
    with override_settings(WSRPC={**settings.WSRPC, "ALLOW_NO_ORIGIN": False, "ALLOWED_ORIGINS": ["*"]}):
        assert not await accepts_origin(None)
        assert await accepts_origin(b"http://127.0.0.1:8000")


async def test_origin_is_checked_before_the_token(token: str) -> None:
    assert (await handshake((b"origin", b"http://evil.example"), authorization(f"Token {token}")))[0] is False


async def test_settings_are_read_at_each_handshake() -> None:
    validator = application()
    with override_settings(ALLOWED_HOSTS=["example.net"]):
        communicator = WebsocketCommunicator(validator, PATH, headers=[(b"origin", b"https://example.net")])
        assert (await communicator.connect())[0]
        await communicator.disconnect()
    communicator = WebsocketCommunicator(validator, PATH, headers=[(b"origin", b"https://example.net")])
    assert not (await communicator.connect())[0]
    await communicator.disconnect()


def test_allowed_origins() -> None:
    assert allowed_origins() == list(settings.ALLOWED_HOSTS)
    with override_settings(ALLOWED_HOSTS=[], DEBUG=True):
        assert allowed_origins() == ["localhost", "127.0.0.1", "[::1]"]
    with override_settings(ALLOWED_HOSTS=[], DEBUG=False):
        assert allowed_origins() == []
    with override_settings(WSRPC={**settings.WSRPC, "ALLOWED_ORIGINS": ("https://a.example",)}):
        assert allowed_origins() == ["https://a.example"]
