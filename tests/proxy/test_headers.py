"""What the target's handshake carries from the client's, and the X-Forwarded-* headers."""

from __future__ import annotations

from typing import Any

import pytest

from wsrpc_app.proxy.headers import DEFAULT_FORWARDED_HEADERS, forwarded, header_names


def scope(*headers: tuple[str, str], scheme: str = "ws", client: Any = ("10.0.0.7", 51000)) -> dict[str, Any]:
    return {
        "type": "websocket",
        "scheme": scheme,
        "client": client,
        "headers": [(name.encode(), value.encode()) for name, value in headers],
    }


DEFAULTS = header_names(DEFAULT_FORWARDED_HEADERS)
CLIENT = scope(
    ("host", "gateway.example"),
    ("authorization", "Token abc"),
    ("cookie", "sessionid=s"),
    ("user-agent", "Browser/1"),
    ("origin", "https://app.example"),
    ("x-forwarded-for", "6.6.6.6"),
    ("sec-websocket-key", "k"),
)


def test_by_default_authorization_and_user_agent_pass_and_cookies_do_not() -> None:
    result = forwarded(CLIENT, DEFAULTS)
    assert result.headers == [
        ("authorization", "Token abc"),
        ("X-Forwarded-For", "10.0.0.7"),
        ("X-Forwarded-Proto", "http"),
        ("X-Forwarded-Host", "gateway.example"),
    ]
    assert result.user_agent == "Browser/1"


def test_cookies_pass_when_listed() -> None:
    result = forwarded(CLIENT, header_names([*DEFAULT_FORWARDED_HEADERS, "Cookie"]))
    assert ("cookie", "sessionid=s") in result.headers


def test_a_wss_client_is_forwarded_as_https() -> None:
    assert ("X-Forwarded-Proto", "https") in forwarded(scope(scheme="wss"), DEFAULTS).headers


def test_the_clients_own_forwarded_for_is_dropped_unless_trusted() -> None:
    assert ("X-Forwarded-For", "10.0.0.7") in forwarded(CLIENT, DEFAULTS).headers
    trusted = forwarded(
        scope(("x-forwarded-for", "1.2.3.4, 5.6.7.8"), ("x-forwarded-proto", "https")), DEFAULTS, trust_forwarded=True
    )
    assert ("X-Forwarded-For", "1.2.3.4, 5.6.7.8, 10.0.0.7") in trusted.headers
    assert ("X-Forwarded-Proto", "https") in trusted.headers


def test_no_user_agent_when_it_is_not_listed() -> None:
    assert forwarded(CLIENT, header_names(["authorization"])).user_agent is None


@pytest.mark.parametrize("name", ["Host", "sec-websocket-key", "X-Forwarded-For", "Connection"])
def test_hop_headers_cannot_be_configured(name: str) -> None:
    with pytest.raises(ValueError, match=name.lower()):
        header_names(["authorization", name])
