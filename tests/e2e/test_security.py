"""Who may connect, from where, and call what, against live servers (daphne and uvicorn).

- Tokens on the handshake: a good one names the user; a bad, unknown or
  inactive user's token, or any other ``Authorization`` scheme, is refused
  with 403, never let in as anonymous, and the Python client gives up at once.
- The session cookie of a user logged in through the admin.
- Origins: foreign, ``null`` and look-alike origins are refused with 403;
  the server's own is accepted; a handshake with no Origin is let in by
  default, and refused by a server with ``ALLOW_NO_ORIGIN = False``.
- Method permissions, and rpc.discover listing only what the caller may call.
- IDLE_TIMEOUT (4010) and MAX_LIFESPAN (4011) on a real socket.
- A middleware from ``WSRPC["MIDDLEWARES"]``, over WebSocket and HTTP.

``strict_server`` runs with ``ALLOW_NO_ORIGIN = False``, its own
``ALLOWED_ORIGINS``, ``IDLE_TIMEOUT = 1``, ``MAX_LIFESPAN = 4`` and a
middleware that refuses every method but the reserved ``rpc.*`` ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.support.servers import SERVERS, ServerProcess
from wsrpc_app.client import HandshakeRefused, WsRpcClient

from .http_session import HttpSession
from .server_stats import no_crash, quiet_baseline, settled  # noqa: F401
from .wire import REPLY_TIMEOUT, call, keeps_answering, open_socket, recv_json, send_json

pytestmark = pytest.mark.e2e

IDLE_TIMEOUT = 1.0
MAX_LIFESPAN = 4.0
STRICT_ORIGINS = "127.0.0.1,.example.com,https://secure.example.org"

CREATE_ACCOUNTS = """
import json
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

def account(name, **flags):
    user = User.objects.create_user(name + {suffix!r}, password="pw-" + name, **flags)
    return {{"username": user.username, "password": "pw-" + name, "token": Token.objects.create(user=user).key}}

print(json.dumps({{
    "alice": account("alice"),
    "staff": account("staff", is_staff=True),
    "inactive": account("inactive", is_active=False),
}}))
"""


def create_accounts(server: ServerProcess) -> dict[str, dict[str, str]]:
    """Users with DRF tokens in the server's database: alice, staff (is_staff), inactive."""
    output = server.manage("shell", "-c", CREATE_ACCOUNTS.format(suffix=f"-{uuid.uuid4().hex[:6]}"))
    # The last line: Django 5.2's shell first says what it imported.
    return dict(json.loads(output.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def accounts(server: ServerProcess) -> dict[str, dict[str, str]]:
    return create_accounts(server)


@pytest.fixture(scope="module", params=SERVERS)
def strict_server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    env = {
        "WSRPC_TEST_ALLOW_NO_ORIGIN": "0",
        "WSRPC_TEST_ALLOWED_ORIGINS": STRICT_ORIGINS,
        "WSRPC_TEST_IDLE_TIMEOUT": str(IDLE_TIMEOUT),
        "WSRPC_TEST_MAX_LIFESPAN": str(MAX_LIFESPAN),
        "WSRPC_TEST_MIDDLEWARES": "tests.support.middlewares.maintenance",
    }
    with ServerProcess(request.param, env=env) as process:
        yield process


def token(value: str) -> dict[str, str]:
    return {"Authorization": value}


async def handshake_status(server: ServerProcess, headers: dict[str, str] | None = None, **options: Any) -> int:
    """101 when the server accepted the WebSocket, else the HTTP status it refused it with."""
    try:
        async with open_socket(server, additional_headers=headers, **options):
            return 101
    except InvalidStatus as refused:
        return int(refused.response.status_code)


async def who(server: ServerProcess, headers: dict[str, str] | None = None, **options: Any) -> Any:
    async with open_socket(server, additional_headers=headers, **options) as ws:
        return (await call(ws, {"jsonrpc": "2.0", "method": "who", "id": 1}))["result"]


async def outcome(ws: ClientConnection, method: str) -> Any:
    reply = await call(ws, {"jsonrpc": "2.0", "method": method, "id": method})
    return reply["result"] if "result" in reply else reply["error"]["code"]


async def discovered(ws: ClientConnection) -> set[str]:
    reply = await call(ws, {"jsonrpc": "2.0", "method": "rpc.discover", "id": "discover"})
    return {method["name"] for method in reply["result"]["methods"]}


# Tokens ----------------------------------------------------------------------------------------------


async def test_good_token(server: ServerProcess, accounts: dict[str, dict[str, str]]) -> None:
    alice = accounts["alice"]
    assert await who(server, token(f"Token {alice['token']}")) == alice["username"]
    assert await who(server) is None  # no credentials: anonymous

    async with WsRpcClient(server.ws_url, headers=token(f"Token {alice['token']}"), proxy=None) as client:
        assert await client.call("who") == alice["username"]
        assert await client.call("secured.login") == alice["username"]


@pytest.mark.parametrize(
    "credentials",
    ["unknown", "inactive", "bearer", "empty", "keyword only", "basic", "bare key", "two keys"],
)
async def test_bad_token_is_refused_with_403(
    server: ServerProcess, accounts: dict[str, dict[str, str]], credentials: str
) -> None:
    key = accounts["alice"]["token"]
    value = {
        "unknown": f"Token {secrets.token_hex(20)}",
        "inactive": f"Token {accounts['inactive']['token']}",
        "bearer": f"Bearer {key}",
        "empty": "Token ",
        "keyword only": "Token",
        "basic": "Basic YWxpY2U6cHc=",
        "bare key": key,
        "two keys": f"Token {key} {key}",
    }[credentials]
    baseline = await quiet_baseline(server)
    async with keeps_answering(server):
        assert await handshake_status(server, token(value)) == 403

        attempts: list[Any] = []
        client = WsRpcClient(server.ws_url, headers=token(value), proxy=None, retry={"before_sleep": attempts.append})
        started = time.monotonic()
        with pytest.raises(HandshakeRefused) as refused:
            await client.connect()
        assert refused.value.status == 403
        assert attempts == [], "a refused handshake is not retried"
        assert time.monotonic() - started < 1.0
        assert client.state == "closed"
    await settled(server, baseline)  # a refused handshake leaves nothing behind


# The session cookie ------------------------------------------------------------------------------------------


async def test_session_cookie_of_a_user_logged_in_through_the_admin(
    server: ServerProcess, accounts: dict[str, dict[str, str]]
) -> None:
    staff = accounts["staff"]
    session = HttpSession()
    await asyncio.to_thread(session.login, server, staff["username"], staff["password"])
    cookie = {"Cookie": session.cookie_header()}
    assert await who(server, cookie) == staff["username"]
    async with open_socket(server, additional_headers=cookie) as ws:
        assert await outcome(ws, "staff.status") == "ok"
    # Another page's scripts cannot ride on that cookie.
    assert await handshake_status(server, cookie, origin="http://evil.example") == 403
    # A forged session key is anonymous, not refused: only a bad token is refused.
    assert await who(server, {"Cookie": "sessionid=forged"}) is None


# Origins ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "status"),
    [
        ("http://evil.example", 403),
        ("null", 403),  # sandboxed iframes, file:// pages
        ("http://sub.localhost", 403),  # ALLOWED_HOSTS "localhost" has no leading dot: no subdomains
        ("http://localhost.evil.example", 403),
        ("http://127.0.0.1.evil.example", 403),
        ("http://127.0.0.1@evil.example", 403),
        ("http://localhost:8000", 101),  # a host of ALLOWED_HOSTS, any scheme and port
        ("https://127.0.0.1", 101),
    ],
)
async def test_origins(server: ServerProcess, origin: str, status: int) -> None:
    assert await handshake_status(server, origin=origin) == status


async def test_same_origin_and_no_origin_are_accepted_by_default(server: ServerProcess) -> None:
    assert await handshake_status(server, origin=server.origin) == 101
    assert await handshake_status(server, origin=None) == 101


async def test_a_good_token_does_not_make_a_foreign_origin_acceptable(
    server: ServerProcess, accounts: dict[str, dict[str, str]]
) -> None:
    headers = token(f"Token {accounts['staff']['token']}")
    assert await handshake_status(server, headers, origin="http://evil.example") == 403


@pytest.mark.parametrize(
    ("origin", "status"),
    [
        (None, 403),  # ALLOW_NO_ORIGIN = False
        ("http://127.0.0.1", 101),
        ("https://example.com", 101),  # .example.com: the domain itself
        ("https://a.b.example.com:8443", 101),  # and its subdomains, any scheme and port
        ("https://example.com.evil.example", 403),
        ("https://notexample.com", 403),
        ("https://secure.example.org", 101),
        ("https://secure.example.org:443", 101),
        ("http://secure.example.org", 403),  # a pattern with a scheme: that scheme only
        ("https://secure.example.org:8443", 403),  # and that port only
        ("https://www.secure.example.org", 403),  # and no subdomain
        ("http://localhost", 403),  # ALLOWED_ORIGINS replaces ALLOWED_HOSTS
        ("null", 403),
    ],
)
async def test_origins_of_a_strict_server(strict_server: ServerProcess, origin: str | None, status: int) -> None:
    assert await handshake_status(strict_server, origin=origin) == status


async def test_a_service_without_origin_is_refused_by_a_strict_server(strict_server: ServerProcess) -> None:
    client = WsRpcClient(strict_server.ws_url, proxy=None)  # the Python client sends no Origin by default
    with pytest.raises(HandshakeRefused) as refused:
        await client.connect()
    assert refused.value.status == 403
    async with WsRpcClient(strict_server.ws_url, proxy=None, origin=strict_server.origin) as allowed:
        assert await allowed.call("rpc.ping") == "pong"


# Method permissions ----------------------------------------------------------------------------------------


async def test_method_permissions(server: ServerProcess, accounts: dict[str, dict[str, str]]) -> None:
    alice, staff = accounts["alice"], accounts["staff"]
    async with open_socket(server) as ws:
        assert [await outcome(ws, m) for m in ("secured.login", "secured.staff", "secured.anonymous")] == [
            -32001,
            -32001,
            "anonymous",
        ]
    async with open_socket(server, additional_headers=token(f"Token {alice['token']}")) as ws:
        assert [await outcome(ws, m) for m in ("secured.login", "secured.staff", "secured.drf_admin")] == [
            alice["username"],
            -32003,
            -32003,
        ]
    async with open_socket(server, additional_headers=token(f"Token {staff['token']}")) as ws:
        assert [await outcome(ws, m) for m in ("secured.staff", "staff.status", "staff.purge")] == [
            "staff",
            "ok",
            -32003,  # staff, without auth.delete_user
        ]


async def test_discover_anonymous_versus_staff(server: ServerProcess, accounts: dict[str, dict[str, str]]) -> None:
    async with open_socket(server) as ws:
        anonymous = await discovered(ws)
    async with open_socket(server, additional_headers=token(f"Token {accounts['staff']['token']}")) as ws:
        staff = await discovered(ws)
    assert {"rpc.ping", "subtract", "secured.anonymous"} <= anonymous
    assert not {"secured.login", "secured.staff", "staff.status"} & anonymous
    assert {"rpc.ping", "subtract", "secured.login", "secured.staff", "staff.status"} <= staff
    assert not {"secured.anonymous", "staff.purge"} & staff


async def test_the_same_permissions_over_http(server: ServerProcess, accounts: dict[str, dict[str, str]]) -> None:
    session = HttpSession()
    body = {"jsonrpc": "2.0", "method": "secured.staff", "id": 1}
    anonymous = await asyncio.to_thread(session.post_json, server, "wsrpc/rpc/", body)
    assert anonymous.json()["error"]["code"] == -32001
    headers = token(f"Token {accounts['staff']['token']}")
    staff = await asyncio.to_thread(session.post_json, server, "wsrpc/rpc/", body, headers=headers)
    assert staff.json() == {"jsonrpc": "2.0", "result": "staff", "id": 1}


# Middlewares ---------------------------------------------------------------------------------------------------


async def test_a_middleware_on_a_live_server(strict_server: ServerProcess) -> None:
    refusal = {"code": -32042, "message": "Down for maintenance", "data": {"retry_after": 60}}
    async with open_socket(strict_server) as ws:
        assert await call(ws, {"jsonrpc": "2.0", "method": "subtract", "params": [5, 3], "id": 1}) == {
            "jsonrpc": "2.0",
            "error": refusal,
            "id": 1,
        }
        assert (await call(ws, {"jsonrpc": "2.0", "method": "rpc.ping", "id": 2}))["result"] == "pong"
    body = {"jsonrpc": "2.0", "method": "subtract", "params": [5, 3], "id": 3}
    reply = await asyncio.to_thread(HttpSession().post_json, strict_server, "wsrpc/rpc/", body)
    assert reply.json() == {"jsonrpc": "2.0", "error": refusal, "id": 3}


# Idle timeout and lifespan -------------------------------------------------------------------------------------


async def close_code_and_time(ws: ClientConnection, started: float, within: float) -> tuple[int | None, float]:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await recv_json(ws, within)
    return (closed.value.rcvd.code if closed.value.rcvd else None), time.monotonic() - started


async def test_idle_timeout_and_lifespan(strict_server: ServerProcess) -> None:
    """A silent socket is closed with 4010; one sending rpc.ping heartbeats lives until MAX_LIFESPAN, 4011."""
    states: list[str] = []
    reopened = asyncio.Event()

    def on_state(state: str) -> None:
        states.append(state)
        if state == "open" and "reconnecting" in states:
            reopened.set()

    started = time.monotonic()
    async with (
        open_socket(strict_server) as silent,
        open_socket(strict_server) as beating,
        WsRpcClient(
            strict_server.ws_url,
            origin=strict_server.origin,
            proxy=None,
            heartbeat_interval=0.3,
            on_state=on_state,
        ) as client,
    ):

        async def heartbeat() -> None:
            with contextlib.suppress(ConnectionClosed):
                while True:
                    await send_json(beating, {"jsonrpc": "2.0", "method": "rpc.ping"})
                    await asyncio.sleep(0.3)

        beats = asyncio.ensure_future(heartbeat())
        try:
            code, elapsed = await close_code_and_time(silent, started, within=IDLE_TIMEOUT + REPLY_TIMEOUT)
            assert code == 4010
            assert IDLE_TIMEOUT * 0.9 < elapsed < IDLE_TIMEOUT + 2.0

            await asyncio.sleep(IDLE_TIMEOUT)  # past the idle timeout, the heartbeats kept these
            assert await client.call("rpc.ping") == "pong"
            code, elapsed = await close_code_and_time(beating, started, within=MAX_LIFESPAN + REPLY_TIMEOUT)
            assert code == 4011
            assert MAX_LIFESPAN * 0.9 < elapsed < MAX_LIFESPAN + 2.0
        finally:
            beats.cancel()
            await asyncio.gather(beats, return_exceptions=True)
        # The Python client was closed with 4011 too, reconnected, and carries on.
        async with asyncio.timeout(REPLY_TIMEOUT):
            await reopened.wait()
        assert await client.call("rpc.ping") == "pong"
