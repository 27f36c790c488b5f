"""The JS client in Chromium through an API gateway (``WebSocketProxy`` on daphne and uvicorn)
in front of a wsrpc server: calls both ways, events, and reconnecting when the gateway restarts.

The gateway serves the page too, so the client's relative ``/ws/rpc/`` is the gateway's route.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.gateway import Gateway
from tests.support.servers import SERVERS, ServerProcess

from .helpers import install

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture(scope="module")
def target(migrated_db: Path) -> Iterator[ServerProcess]:
    """The wsrpc server behind the gateway."""
    with ServerProcess("daphne", db_path=migrated_db, migrate=False, env={"REDIS_URL": None}) as process:
        yield process


@pytest.fixture(scope="module", params=SERVERS)
def gateway(request: pytest.FixtureRequest, target: ServerProcess, migrated_db: Path) -> Iterator[Gateway]:
    rpc = f"ws://{target.host}:{target.port}"
    with Gateway(request.param, rpc=rpc, db_path=migrated_db, migrate=False, env={"REDIS_URL": None}) as process:
        yield process


def publish_directly(page: Any, text: str) -> None:
    """Publish to chat.lobby from a page of the wsrpc server itself, not through the gateway."""
    page.evaluate("async (text) => { await wsrpc.ready; await wsrpc.publish('chat.lobby', { text }); }", text)


def test_the_js_client_through_the_gateway(gateway: Gateway, target: ServerProcess, open_page: Any) -> None:
    page = install(open_page(gateway.http_url))
    page.wait_for_selector("#state[data-state=open]")  # the demo page's own client, through the gateway
    results = page.evaluate(
        """async () => {
            window.c = await T.client({ minDelay: 100, maxDelay: 400 });
            window.states = [];
            window.got = [];
            c.on("state", ({ state }) => states.push(state));
            c.on("resubscribed", () => states.push("resubscribed"));
            c.expose("double", (n) => n * 2);
            await c.subscribe("chat.lobby", (data) => got.push(data));
            return [await c.call("add", [2, 3]), await c.call("call_back", ["double", [21]])];
        }"""
    )
    assert results == [5, 42]  # a call to the server, and the server calling the browser, through the gateway

    direct = open_page(target.http_url)
    publish_directly(direct, "hello")
    page.wait_for_function("() => got.some((data) => data.text === 'hello')")

    gateway.restart()
    page.wait_for_function("() => states.includes('resubscribed')", timeout=15_000)
    assert page.evaluate("c.call('add', [1, 1])") == 2
    publish_directly(direct, "again")
    page.wait_for_function("() => got.some((data) => data.text === 'again')")
    assert page.evaluate("states")[-2:] == ["open", "resubscribed"]
    # Chromium logs each refused retry while the gateway was down; nothing else went wrong.
    assert [error for error in page.errors if "ERR_CONNECTION_REFUSED" not in error] == []
