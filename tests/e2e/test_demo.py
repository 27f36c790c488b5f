"""The demo project, served by daphne as its README says."""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.support.servers import ServerProcess

from .http_post import post
from .wire import call, open_socket

pytestmark = pytest.mark.e2e


async def test_add_over_websocket(demo_server: ServerProcess) -> None:
    async with open_socket(demo_server) as ws:
        assert await call(ws, {"jsonrpc": "2.0", "method": "add", "params": [2, 3], "id": 1}) == {
            "jsonrpc": "2.0",
            "result": 5,
            "id": 1,
        }
        assert await call(ws, {"jsonrpc": "2.0", "method": "add", "params": {"a": 1.5, "b": 2}, "id": 2}) == {
            "jsonrpc": "2.0",
            "result": 3.5,
            "id": 2,
        }
        error = await call(ws, {"jsonrpc": "2.0", "method": "calc.divide", "params": [1, 0], "id": 3})
        assert error["error"]["code"] == -32010


def test_add_over_http(demo_server: ServerProcess) -> None:
    reply = post(demo_server, "wsrpc/rpc/", {"jsonrpc": "2.0", "method": "add", "params": [2, 3], "id": 1})
    assert reply.status == 200
    assert reply.json() == {"jsonrpc": "2.0", "result": 5, "id": 1}


def test_the_demo_page_is_served(demo_server: ServerProcess) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(demo_server.http_url, timeout=5) as response:
        assert response.status == 200
        assert "text/html" in response.headers["Content-Type"]


def test_the_health_check_answers_in_a_project_with_atomic_requests(demo_server: ServerProcess) -> None:
    """The demo wraps each request in a transaction (ATOMIC_REQUESTS), which Django refuses for async views."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(demo_server.http_url + "wsrpc/health/", timeout=5) as response:
        assert response.status == 200
        body = json.loads(response.read())
    assert body["status"] == "ok" and body["channel_layer"]["reachable"] is True
