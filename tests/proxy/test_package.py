"""The proxy package's public names, and that a gateway needs no Django to run it."""

from __future__ import annotations

import subprocess
import sys

import pytest

import wsrpc_app.proxy
from tests.support.servers import REPO_ROOT
from wsrpc_app.proxy import WebSocketProxy


def test_exports() -> None:
    assert wsrpc_app.proxy.__all__ == ["WebSocketProxy", "ProxyOptions", "DEFAULT_FORWARDED_HEADERS"]


def test_importing_it_loads_neither_django_nor_channels() -> None:
    code = "import sys, wsrpc_app.proxy; print(sorted({m.split('.')[0] for m in sys.modules} & {'django', 'channels'}))"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_as_asgi_checks_its_options_when_the_route_is_built() -> None:
    app = WebSocketProxy.as_asgi(target="ws://chat:8000/ws/chat/{room}/", connect_timeout=2.0)
    assert app.target.names == {"room"} and app.connect_timeout == 2.0
    with pytest.raises(ValueError, match="host"):
        WebSocketProxy.as_asgi(target="ws://{room}.internal/")
    with pytest.raises(ValueError, match="host"):
        WebSocketProxy.as_asgi(target="ws://chat/", forward_headers=["Host"])


async def test_it_serves_websockets_only() -> None:
    async def never() -> dict[str, object]:
        raise AssertionError("nothing is received from an HTTP scope")

    async def unused(message: object) -> None:
        raise AssertionError("nothing is sent to an HTTP scope")

    with pytest.raises(ValueError, match="WebSocket"):
        await WebSocketProxy.as_asgi(target="ws://chat/")({"type": "http"}, never, unused)
