"""The WebSocket proxy in a real gateway process (daphne and uvicorn) in front of real targets:
a plain echo service (``tests.support.echo_target``) and a wsrpc server.

Each hostile case (a target that is down, silent or refusing, that closes or
vanishes mid-stream, huge frames either way, a client that vanishes or stops
reading) ends with a clean close carrying a meaningful code, and the gateway
then holds no more tasks or file descriptors than before.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.support.echo_target import EchoTarget
from tests.support.gateway import Gateway, down_port, silent_port
from tests.support.gateway_app import CONNECT_TIMEOUT, SMALL_LIMIT
from tests.support.servers import SERVERS, ServerProcess
from tests.support.tls import Certificate, self_signed
from wsrpc_app.client import WsRpcClient
from wsrpc_app.proxy.closing import private_code

from .server_stats import MB, no_crash  # noqa: F401
from .test_security import create_accounts

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def echo_server() -> Iterator[EchoTarget]:
    with EchoTarget() as target:
        yield target


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_echo_server(certificate: Certificate) -> Iterator[EchoTarget]:
    with EchoTarget(tls=certificate) as target:
        yield target


@pytest.fixture(scope="module")
def rpc_server() -> Iterator[ServerProcess]:
    """The wsrpc server behind the gateways; they share its database (sessions, tokens)."""
    with ServerProcess("uvicorn", env={"REDIS_URL": None}) as server:
        yield server


@pytest.fixture(scope="module")
def silent() -> Iterator[int]:
    with silent_port() as port:
        yield port


@pytest.fixture(scope="module", params=SERVERS)
def gateway_server(
    request: pytest.FixtureRequest,
    echo_server: EchoTarget,
    tls_echo_server: EchoTarget,
    certificate: Certificate,
    rpc_server: ServerProcess,
    silent: int,
) -> Iterator[Gateway]:
    with Gateway(
        request.param,
        rpc=f"ws://{rpc_server.host}:{rpc_server.port}",
        echo=echo_server.url,
        silent=silent,
        down=down_port(),
        tls_echo=tls_echo_server.url,
        ca=str(certificate.cert),
        db_path=rpc_server.db_path,
        migrate=False,
    ) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def accounts(rpc_server: ServerProcess) -> dict[str, dict[str, str]]:
    return create_accounts(rpc_server)


def room() -> str:
    return uuid.uuid4().hex[:12]


def closing(gateway: Gateway, code: int) -> int:
    """The code the gateway's client sees for ``code``: daphne sends only 1000 and 3000-4999."""
    return private_code(code) if gateway.name == "daphne" else code


def refusing(gateway: Gateway, status: int) -> int:
    """The status a refused handshake gets: daphne refuses with 403 whatever the application says."""
    return 403 if gateway.name == "daphne" else status


@contextlib.asynccontextmanager
async def through(gateway: Gateway, path: str, **options: Any) -> AsyncIterator[ClientConnection]:
    """A WebSocket to the gateway's ``path``, as a page of the gateway's own origin opens it."""
    defaults: dict[str, Any] = {"origin": gateway.origin, "proxy": None, "open_timeout": 10, "close_timeout": 2}
    async with connect(gateway.url(path), **(defaults | options)) as ws:
        yield ws


async def handshake_status(gateway: Gateway, path: str, **options: Any) -> int:
    try:
        async with through(gateway, path, **options):
            return 101
    except InvalidStatus as refused:
        return int(refused.response.status_code)


async def ask(echo: EchoTarget, command: str) -> Any:
    """Ask the echo target directly (not through the gateway)."""
    async with connect(f"{echo.url}/ask", proxy=None) as ws:
        await ws.send(command)
        return json.loads(await ws.recv())


async def target_closed(echo: EchoTarget, name: str, within: float = 5.0) -> dict[str, Any]:
    """How the echo target's connection ``/echo/<name>`` was closed, once it was."""
    deadline = time.monotonic() + within
    while (closed := await ask(echo, f"closed /echo/{name}")) is None:
        assert time.monotonic() < deadline, f"the target's /echo/{name} is still open after {within} s"
        await asyncio.sleep(0.05)
    return dict(closed)


async def close_of(ws: ClientConnection, within: float = 5.0) -> tuple[int | None, str | None]:
    """The close code and reason the gateway ended ``ws`` with (reading what comes first)."""
    async with asyncio.timeout(within):
        with contextlib.suppress(ConnectionClosed):
            while True:
                await ws.recv()
    return ws.close_code, ws.close_reason


# Frames ------------------------------------------------------------------------------------------


async def test_text_and_binary_frames_cross_both_ways_in_order(gateway_server: Gateway) -> None:
    frames: list[str | bytes] = []
    for n in range(300):
        frames.append(f"text {n} ✓ " * (n % 7 + 1) if n % 2 else bytes([n % 256]) * (n * 97 % 5000 + 1))
    async with through(gateway_server, f"ws/echo/{room()}/") as ws:
        for frame in frames:
            await ws.send(frame)
        echoed = [await ws.recv() for _ in frames]
    assert echoed == frames  # same order, text as str and binary as bytes, each frame whole


async def test_a_large_frame_crosses_as_one_frame(gateway_server: Gateway) -> None:
    frame = bytes(range(256)) * 3000  # 768 KiB: under the route's 1 MiB (and daphne's own 1 MiB)
    async with through(gateway_server, f"ws/echo/{room()}/", max_size=2 * MB) as ws:
        await ws.send(frame)
        assert await ws.recv() == frame


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [
        (["v1.echo", "v2.echo"], "v2.echo"),  # the target's preference wins
        (["v1.echo", "other"], "v1.echo"),
        (["other"], None),
        (None, None),
    ],
)
async def test_the_target_chooses_the_subprotocol(
    gateway_server: Gateway, offered: list[str] | None, chosen: str | None
) -> None:
    async with through(gateway_server, f"ws/echo/{room()}/", subprotocols=offered) as ws:
        assert ws.subprotocol == chosen
        await ws.send("headers")
        assert json.loads(await ws.recv())["subprotocol"] == chosen


async def test_a_wss_target_with_a_trusted_ca(gateway_server: Gateway) -> None:
    async with through(gateway_server, f"ws/tls/{room()}/") as ws:
        for frame in ("over TLS", b"\x00\x01 binary"):
            await ws.send(frame)
            assert await ws.recv() == frame


async def test_a_wss_target_is_verified_by_default(gateway_server: Gateway) -> None:
    # The route gives no CA: the system's do not know the target's certificate, so it is not trusted.
    assert await handshake_status(gateway_server, f"ws/tls-default/{room()}/") == refusing(gateway_server, 502)


# Handshake headers ---------------------------------------------------------------------------------


def headers_of(seen: dict[str, Any]) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for name, value in seen["headers"]:
        headers.setdefault(name.lower(), []).append(value)
    return headers


async def test_what_the_target_receives(gateway_server: Gateway, accounts: dict[str, dict[str, str]]) -> None:
    name = "a?b=1"  # a route kwarg with characters of a query: it stays in the path
    path = "ws/echo/a%3Fb%3D1/?lang=fr"
    headers = {
        "Authorization": f"Token {accounts['alice']['token']}",
        "Cookie": "sessionid=nope; theme=dark",
        "X-Forwarded-For": "6.6.6.6",
        "X-Custom": "not listed",
    }
    async with through(gateway_server, path, additional_headers=headers, user_agent_header="Tester/1.0") as ws:
        await ws.send("headers")
        seen = json.loads(await ws.recv())
    assert seen["path"] == "/echo/a%3Fb%3D1?lang=fr", name
    received = headers_of(seen)
    assert received["authorization"] == [headers["Authorization"]]
    assert received["user-agent"] == ["Tester/1.0"]
    assert received["x-forwarded-for"] == ["127.0.0.1"]  # the client's own claim is dropped
    assert received["x-forwarded-proto"] == ["http"]
    assert received["x-forwarded-host"] == [f"127.0.0.1:{gateway_server.port}"]
    for absent in ("cookie", "origin", "x-custom"):
        assert absent not in received


async def test_cookies_reach_the_target_where_the_route_enables_them(gateway_server: Gateway) -> None:
    async with through(gateway_server, f"ws/cookies/{room()}/", additional_headers={"Cookie": "theme=dark"}) as ws:
        await ws.send("headers")
        assert headers_of(json.loads(await ws.recv()))["cookie"] == ["theme=dark"]


async def test_the_gateway_refuses_a_foreign_origin_itself(gateway_server: Gateway, echo_server: EchoTarget) -> None:
    name = room()
    status = await handshake_status(gateway_server, f"ws/echo/{name}/", origin="https://evil.example")
    assert status == 403
    assert await ask(echo_server, f"closed /echo/{name}") is None  # the target never saw it


async def test_the_gateway_refuses_a_bad_token_itself(gateway_server: Gateway, echo_server: EchoTarget) -> None:
    name = room()
    bad_token = {"Authorization": "Token no"}
    assert await handshake_status(gateway_server, f"ws/echo/{name}/", additional_headers=bad_token) == 403
    assert await ask(echo_server, f"closed /echo/{name}") is None


# Targets that cannot be reached --------------------------------------------------------------------


async def test_a_target_that_is_down_refuses_the_handshake(gateway_server: Gateway) -> None:
    assert await handshake_status(gateway_server, "ws/down/") == refusing(gateway_server, 502)


async def test_a_silent_target_refuses_the_handshake_at_the_timeout(gateway_server: Gateway) -> None:
    started = time.monotonic()
    assert await handshake_status(gateway_server, "ws/silent/", open_timeout=CONNECT_TIMEOUT + 10) == refusing(
        gateway_server, 504
    )
    assert time.monotonic() - started >= CONNECT_TIMEOUT * 0.9  # it did wait for the target, then gave up


async def test_a_target_refusing_the_handshake_refuses_the_clients(gateway_server: Gateway) -> None:
    assert await handshake_status(gateway_server, "ws/refused/") == 403  # the target's own 403, passed through


async def test_a_client_giving_up_while_the_target_is_silent_leaves_nothing(gateway_server: Gateway) -> None:
    baseline = await gateway_server.stats()
    for _ in range(20):
        with pytest.raises(TimeoutError):
            async with through(gateway_server, "ws/silent/", open_timeout=0.2):
                pass
    await gateway_server.settled(baseline)


# Close codes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "reason"), [(4008, "too slow"), (1000, "bye"), (1011, "oops"), (1001, "leaving")])
async def test_the_targets_close_code_reaches_the_client(gateway_server: Gateway, code: int, reason: str) -> None:
    async with through(gateway_server, f"ws/echo/{room()}/") as ws:
        await ws.send("ping")
        assert await ws.recv() == "ping"
        await ws.send(f"close {code} {reason}")
        got_code, got_reason = await close_of(ws)
    assert got_code == closing(gateway_server, code)
    if gateway_server.name == "uvicorn":  # daphne sends no reason
        assert got_reason == reason


@pytest.mark.parametrize(("code", "reason"), [(4321, "done here"), (1000, "bye"), (1001, "away")])
async def test_the_clients_close_code_reaches_the_target(
    gateway_server: Gateway, echo_server: EchoTarget, code: int, reason: str
) -> None:
    name = room()
    async with through(gateway_server, f"ws/echo/{name}/") as ws:
        await ws.send("ping")
        assert await ws.recv() == "ping"
        await ws.close(code, reason)
    closed = await target_closed(echo_server, name)
    assert closed["code"] == code
    if gateway_server.name == "uvicorn":  # daphne hands the application no reason
        assert closed["reason"] == reason


async def test_a_target_vanishing_mid_stream_closes_the_client_with_bad_gateway(gateway_server: Gateway) -> None:
    baseline = await gateway_server.stats()
    async with through(gateway_server, f"ws/echo/{room()}/") as ws:
        await ws.send("ping")
        assert await ws.recv() == "ping"
        await ws.send("drop")  # the target drops TCP without a close frame
        code, _ = await close_of(ws)
    assert code == closing(gateway_server, 1014)
    await gateway_server.settled(baseline)


async def test_a_client_vanishing_closes_the_target_with_going_away(
    gateway_server: Gateway, echo_server: EchoTarget
) -> None:
    baseline = await gateway_server.stats()
    name = room()
    async with through(gateway_server, f"ws/echo/{name}/") as ws:
        await ws.send("ping")
        assert await ws.recv() == "ping"
        ws.transport.abort()  # no close frame: the client is just gone
    assert (await target_closed(echo_server, name))["code"] == 1001
    await gateway_server.settled(baseline)


# Limits -----------------------------------------------------------------------------------------


async def test_a_huge_frame_from_the_client_closes_it_with_message_too_big(
    gateway_server: Gateway, echo_server: EchoTarget
) -> None:
    baseline = await gateway_server.stats()
    name = room()
    async with through(gateway_server, f"ws/small/{name}/") as ws:
        await ws.send(b"x" * SMALL_LIMIT)  # at the limit: forwarded
        assert len(await ws.recv()) == SMALL_LIMIT
        with contextlib.suppress(ConnectionClosed):
            await ws.send("é" * (SMALL_LIMIT // 2 + 1))  # over it once encoded
        code, _ = await close_of(ws)
    assert code == closing(gateway_server, 1009)
    assert (await target_closed(echo_server, name))["code"] == 1001
    await gateway_server.settled(baseline)


async def test_a_huge_frame_from_the_target_closes_both_sides(gateway_server: Gateway, echo_server: EchoTarget) -> None:
    baseline = await gateway_server.stats()
    name = room()
    async with through(gateway_server, f"ws/small/{name}/") as ws:
        await ws.send(f"big {SMALL_LIMIT + 1}")
        code, reason = await close_of(ws)
    assert code == closing(gateway_server, 1014)  # the gateway could not carry what the target sent
    assert (await target_closed(echo_server, name))["code"] == 1009
    await gateway_server.settled(baseline)


# uvicorn only: daphne buffers what the application sends without bound (documented in the README).
@pytest.mark.parametrize("gateway_server", ["uvicorn"], indirect=True)
async def test_a_client_that_stops_reading_does_not_grow_the_gateways_memory(
    gateway_server: Gateway, echo_server: EchoTarget
) -> None:
    count, size = 3000, 60 * 1024  # 176 MiB of random bytes from the target, each frame under the route's limit
    name = room()
    before = await gateway_server.stats()
    async with through(gateway_server, f"ws/small/{name}/", max_queue=1, max_size=2 * size) as ws:
        await ws.send(f"flood {count} {size}")
        await asyncio.sleep(3)  # the client reads nothing meanwhile
        sent = await ask(echo_server, f"sent /echo/{name}")
        during = await gateway_server.stats()
        # The target is held back: most of the flood has not even left it.
        assert sent < count // 2, sent
        assert during["rss"] - before["rss"] < 48 * MB, (before, during)
        # Nothing was lost meanwhile: every frame comes, in order, once the client reads.
        for index in range(count):
            frame = await asyncio.wait_for(ws.recv(), 10)
            assert int.from_bytes(frame[:4], "big") == index
    assert await ask(echo_server, f"sent /echo/{name}") == count


async def test_a_thousand_connections_through_the_gateway_leave_nothing_behind(
    gateway_server: Gateway, echo_server: EchoTarget
) -> None:
    baseline = await gateway_server.stats()

    async def cycle(n: int) -> None:
        async with through(gateway_server, f"ws/echo/cycle-{n}/") as ws:
            await ws.send(str(n))
            assert await ws.recv() == str(n)
            if n % 2:
                ws.transport.abort()  # half of them vanish instead of closing

    for first in range(0, 1000, 20):
        await asyncio.gather(*(cycle(n) for n in range(first, first + 20)))
    await gateway_server.settled(baseline)
    assert await ask(echo_server, "open") == 1  # only the connection asking: every target side was closed


# wsrpc through the gateway ------------------------------------------------------------------------


async def test_the_python_client_through_the_gateway(
    gateway_server: Gateway, rpc_server: ServerProcess, accounts: dict[str, dict[str, str]]
) -> None:
    events: asyncio.Queue[Any] = asyncio.Queue()
    states: list[str] = []
    reopened = asyncio.Event()

    def on_state(state: str) -> None:
        states.append(state)
        if state == "open" and "reconnecting" in states:
            reopened.set()

    alice = accounts["alice"]
    async with WsRpcClient(
        gateway_server.url("ws/rpc/"),
        on_state=on_state,
        methods={"double": lambda n: n * 2},
        headers={"Authorization": f"Token {alice['token']}"},
        proxy=None,
        retry={"wait": lambda _: 0.2},
    ) as client:
        assert await client.call("add", 2, 3) == 5
        assert await client.call("who") == alice["username"]  # the token reached the wsrpc server
        assert await client.call("call_back", "double", [21]) == 42  # the server calls the client, through the gateway
        await client.subscribe("chat.lobby", lambda data, event: events.put_nowait(data))
        async with WsRpcClient(rpc_server.ws_url, proxy=None) as direct:
            await direct.publish("chat.lobby", {"text": "hello"})
        assert await asyncio.wait_for(events.get(), 5) == {"text": "hello"}

        gateway_server.restart()  # the gateway goes away and comes back on the same port
        await asyncio.wait_for(reopened.wait(), 20)
        assert await client.call("add", 1, 1) == 2  # reconnected, through the gateway
        async with WsRpcClient(rpc_server.ws_url, proxy=None) as direct:
            await direct.publish("chat.lobby", {"text": "again"})
        assert await asyncio.wait_for(events.get(), 5) == {"text": "again"}  # resubscribed
