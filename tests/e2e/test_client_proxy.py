"""The Python client through a real HTTP forward proxy (``proxy.py``) on loopback: from the
environment (``http_proxy``/``https_proxy``), named with ``proxy=``, with Basic credentials,
bypassed by ``no_proxy``; and clear, retried errors when the proxy refuses or is not there.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import pytest
import tenacity

from tests.support.forward_proxy import ForwardProxy
from tests.support.gateway import down_port
from tests.support.servers import ServerProcess
from tests.support.tls import Certificate, self_signed
from wsrpc_app.client import ProxyError, ProxyRefused, ProxyUnreachable, WsRpcClient

from .server_stats import no_crash  # noqa: F401

pytestmark = pytest.mark.e2e

PROXY_VARIABLES = ("http_proxy", "https_proxy", "ws_proxy", "wss_proxy", "all_proxy", "no_proxy")


@pytest.fixture(scope="module")
def rpc_server() -> Iterator[ServerProcess]:
    with ServerProcess("uvicorn", env={"REDIS_URL": None}) as server:
        yield server


class TlsServer(ServerProcess):
    """A wsrpc server on uvicorn over TLS: ``wss://``."""

    def __init__(self, certificate: Certificate) -> None:
        super().__init__("uvicorn", env={"REDIS_URL": None})
        self.certificate = certificate

    @property
    def ws_url(self) -> str:
        return f"wss://{self.host}:{self.port}/ws/rpc/"

    def command(self) -> list[str]:
        tls = ["--ssl-certfile", str(self.certificate.cert), "--ssl-keyfile", str(self.certificate.key)]
        return [*super().command(), *tls]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_server(certificate: Certificate) -> Iterator[ServerProcess]:
    with TlsServer(certificate) as server:
        yield server


@pytest.fixture(scope="module")
def open_proxy() -> Iterator[ForwardProxy]:
    with ForwardProxy() as proxy:
        yield proxy


@pytest.fixture(scope="module")
def guarded_proxy() -> Iterator[ForwardProxy]:
    with ForwardProxy(credentials="wsrpc:s3cret") as proxy:
        yield proxy


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy settings of the machine's leak into a test: each sets its own."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def attempts_counter() -> tuple[list[int], dict[str, object]]:
    """A retry policy of three quick attempts, and the list its retries are counted in."""
    retries: list[int] = []
    policy = {
        "wait": tenacity.wait_fixed(0.05),
        "stop": tenacity.stop_after_attempt(3),
        "before_sleep": lambda state: retries.append(state.attempt_number),
    }
    return retries, policy


async def test_the_environment_proxy_is_used_by_default(
    rpc_server: ServerProcess, open_proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("http_proxy", open_proxy.url)
    before = open_proxy.tunnels_to(rpc_server.port)
    async with WsRpcClient(rpc_server.ws_url, methods={"echo": lambda text: text}) as client:
        assert await client.call("add", 1, 2) == 3
        assert await client.call("call_back", "echo", ["through"]) == "through"  # the server calls back, too
    assert await open_proxy.logged_tunnels(rpc_server.port, before + 1) == before + 1


async def tunnels_for_a_call(forward: ForwardProxy, server: ServerProcess, **options: object) -> int:
    """How many tunnels ``forward`` opened to ``server`` for one client making one call."""
    before = forward.tunnels_to(server.port)
    async with WsRpcClient(server.ws_url, **options) as client:
        assert await client.call("add", 2, 2) == 4
    return await forward.logged_tunnels(server.port, before + 1, within=2.0) - before


@pytest.mark.parametrize(
    ("environment", "options", "tunnels"),
    [
        ({"HTTPS_PROXY": "{proxy}"}, {}, 1),  # https_proxy serves ws:// too, as websockets reads RFC 6455
        ({"http_proxy": "{proxy}", "no_proxy": "localhost,127.0.0.1"}, {}, 0),  # bypassed
        ({"http_proxy": "http://127.0.0.1:{down}"}, {"proxy": "{proxy}"}, 1),  # an explicit proxy wins
        ({"http_proxy": "{proxy}"}, {"proxy": None}, 0),  # proxy=None goes direct
    ],
)
async def test_which_proxy(
    rpc_server: ServerProcess,
    open_proxy: ForwardProxy,
    monkeypatch: pytest.MonkeyPatch,
    environment: dict[str, str],
    options: dict[str, str | None],
    tunnels: int,
) -> None:
    fill = {"proxy": open_proxy.url, "down": down_port()}
    for name, value in environment.items():
        monkeypatch.setenv(name, value.format(**fill))
    options = {name: value.format(**fill) if value else value for name, value in options.items()}
    assert await tunnels_for_a_call(open_proxy, rpc_server, **options) == tunnels


async def test_credentials_reach_the_proxy(rpc_server: ServerProcess, guarded_proxy: ForwardProxy) -> None:
    events: list[object] = []
    async with WsRpcClient(rpc_server.ws_url, proxy=guarded_proxy.url) as client:
        await client.subscribe("chat.lobby", lambda data, event: events.append(data))
        await client.publish("chat.lobby", {"text": "via proxy"})
        assert await client.call("add", 6, 6) == 12
    assert await guarded_proxy.logged_tunnels(rpc_server.port, 1) >= 1


async def test_bad_credentials_are_a_clear_retried_error(
    rpc_server: ServerProcess, guarded_proxy: ForwardProxy
) -> None:
    retries, policy = attempts_counter()
    wrong = f"http://wsrpc:wrong@{guarded_proxy.host}:{guarded_proxy.port}"
    with pytest.raises(ProxyRefused) as refused:
        async with WsRpcClient(rpc_server.ws_url, proxy=wrong, retry=policy):
            pass
    assert refused.value.status == 407
    assert retries == [1, 2]  # retried like any failed connection, then given up by the policy
    message = str(refused.value)
    assert "407" in message and f"{guarded_proxy.host}:{guarded_proxy.port}" in message
    assert "wrong" not in message  # the password is never shown


async def test_missing_credentials_are_refused_with_407(rpc_server: ServerProcess, guarded_proxy: ForwardProxy) -> None:
    bare = f"http://{guarded_proxy.host}:{guarded_proxy.port}"
    with pytest.raises(ProxyRefused) as refused:
        async with WsRpcClient(rpc_server.ws_url, proxy=bare, retry={"stop": tenacity.stop_after_attempt(1)}):
            pass
    assert refused.value.status == 407


async def test_an_unreachable_proxy_is_a_clear_retried_error(rpc_server: ServerProcess) -> None:
    retries, policy = attempts_counter()
    port = down_port()
    with pytest.raises(ProxyUnreachable) as unreachable:
        async with WsRpcClient(rpc_server.ws_url, proxy=f"http://127.0.0.1:{port}", retry=policy):
            pass
    assert retries == [1, 2]
    assert isinstance(unreachable.value, ProxyError) and isinstance(unreachable.value, ConnectionError)
    assert f"127.0.0.1:{port}" in str(unreachable.value) and rpc_server.ws_url in str(unreachable.value)


async def test_a_proxy_that_cannot_reach_the_server_is_a_refusal(open_proxy: ForwardProxy) -> None:
    nowhere = f"ws://127.0.0.1:{down_port()}/ws/rpc/"
    with pytest.raises(ProxyRefused) as refused:
        async with WsRpcClient(nowhere, proxy=open_proxy.url, retry={"stop": tenacity.stop_after_attempt(1)}):
            pass
    assert refused.value.status >= 500


async def test_the_client_reconnects_through_the_proxy(rpc_server: ServerProcess, open_proxy: ForwardProxy) -> None:
    before = open_proxy.tunnels_to(rpc_server.port)
    async with WsRpcClient(rpc_server.ws_url, proxy=open_proxy.url, retry={"wait": tenacity.wait_fixed(0.2)}) as client:
        assert await client.call("add", 1, 1) == 2
        rpc_server.restart()
        async for attempt in tenacity.AsyncRetrying(stop=tenacity.stop_after_delay(20), wait=tenacity.wait_fixed(0.2)):
            with attempt:
                assert await client.call("add", 2, 1) == 3
    # The new connection went through the proxy too.
    assert await open_proxy.logged_tunnels(rpc_server.port, before + 2) >= before + 2


async def test_wss_through_the_proxy_from_the_environment(
    tls_server: ServerProcess, certificate: Certificate, open_proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("https_proxy", open_proxy.url)
    before = open_proxy.tunnels_to(tls_server.port)
    # TLS runs end to end inside the tunnel, verified against the server's own certificate.
    async with WsRpcClient(tls_server.ws_url, ssl=certificate.client_context()) as client:
        assert await client.call("add", 20, 22) == 42
    assert await open_proxy.logged_tunnels(tls_server.port, before + 1) == before + 1


async def test_wss_through_a_proxy_with_credentials(
    tls_server: ServerProcess, certificate: Certificate, guarded_proxy: ForwardProxy
) -> None:
    async with WsRpcClient(tls_server.ws_url, proxy=guarded_proxy.url, ssl=certificate.client_context()) as client:
        assert await client.call("add", 1, 41) == 42


async def test_wss_through_the_proxy_still_verifies_the_server(
    tls_server: ServerProcess, open_proxy: ForwardProxy
) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        async with WsRpcClient(tls_server.ws_url, proxy=open_proxy.url, retry={"stop": tenacity.stop_after_attempt(1)}):
            pass
