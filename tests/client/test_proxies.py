"""Which proxy the client goes through, and what its failures are called (no network)."""

from __future__ import annotations

import socket

import pytest
from websockets.datastructures import Headers
from websockets.exceptions import InvalidProxyStatus, InvalidStatus
from websockets.http11 import Response

from wsrpc_app.client.proxies import ProxyRefused, ProxyUnreachable, proxy_for, redacted, through_proxy

URL = "ws://api.example:8000/ws/rpc/"


@pytest.fixture(autouse=True)
def no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "ws_proxy", "wss_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def test_the_environment_decides_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert proxy_for(URL, True) is None
    monkeypatch.setenv("http_proxy", "http://proxy.corp:3128")
    assert proxy_for(URL, True) == "http://proxy.corp:3128"
    monkeypatch.setenv("https_proxy", "http://secure.corp:3128")  # preferred, as websockets reads RFC 6455
    assert proxy_for(URL, True) == "http://secure.corp:3128"
    assert proxy_for("wss://api.example/ws/rpc/", True) == "http://secure.corp:3128"


def test_no_proxy_bypasses_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("http_proxy", "http://proxy.corp:3128")
    monkeypatch.setenv("no_proxy", "localhost,.example")
    assert proxy_for(URL, True) is None
    assert proxy_for("ws://other.org/ws/rpc/", True) == "http://proxy.corp:3128"


def test_an_explicit_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("http_proxy", "http://proxy.corp:3128")
    assert proxy_for(URL, "http://mine:8080") == "http://mine:8080"
    assert proxy_for(URL, None) is None


def test_credentials_are_never_shown() -> None:
    assert redacted("http://user:p%40ss@proxy.corp:3128") == "http://proxy.corp:3128"
    assert redacted("http://proxy.corp:3128") == "http://proxy.corp:3128"


def test_failures_named_after_the_proxy() -> None:
    proxy = "http://user:secret@proxy.corp:3128"
    refused = through_proxy(InvalidProxyStatus(Response(407, "", Headers())), URL, proxy)
    assert isinstance(refused, ProxyRefused) and refused.status == 407
    assert "secret" not in str(refused) and "proxy.corp:3128" in str(refused) and URL in str(refused)
    assert isinstance(through_proxy(ConnectionRefusedError(111, "refused"), URL, proxy), ProxyUnreachable)
    assert isinstance(through_proxy(socket.gaierror(-2, "unknown name"), URL, proxy), ProxyUnreachable)


def test_failures_that_are_not_the_proxys_stay_what_they_are() -> None:
    proxy = "http://proxy.corp:3128"
    assert through_proxy(InvalidStatus(Response(403, "", Headers())), URL, proxy) is None  # the server refused
    assert through_proxy(TimeoutError(), URL, proxy) is None
    assert through_proxy(ConnectionResetError(104, "reset"), URL, proxy) is None
    assert through_proxy(ConnectionRefusedError(111, "refused"), URL, None) is None  # no proxy in the way
