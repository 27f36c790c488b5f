"""The client across a server restart and a silent (half-open) connection, without reloading the page."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import ServerProcess

from .helpers import install

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture(scope="module")
def server(migrated_db: Path) -> Iterator[ServerProcess]:
    """A server of this module's own, to restart and to freeze."""
    with ServerProcess("daphne", db_path=migrated_db, migrate=False, env={"REDIS_URL": None}) as process:
        yield process


def test_the_page_reconnects_and_resubscribes_after_a_restart(
    server: ServerProcess, open_page: Any
) -> None:
    page = install(open_page(server.http_url))
    page.wait_for_selector("#state[data-state=open]")
    page.evaluate(
        """async () => {
            window.c = await T.client({ minDelay: 100, maxDelay: 400 });
            window.states = [];
            window.got = [];
            c.on("state", ({ state }) => states.push(state));
            c.on("resubscribed", () => states.push("resubscribed"));
            await c.subscribe("chat.lobby", (data) => got.push(data));
            window.slow = T.outcome(c.call("slow_echo", { value: 1, seconds: 10 }));
        }"""
    )
    server.restart()
    page.wait_for_function("() => states.includes('resubscribed')", timeout=15_000)
    # The demo's own client followed too: its state pill, and the lobby it still listens to. Its
    # backoff (up to 5 s) may have a while to go: "online" makes it retry now, as when a laptop wakes.
    page.evaluate("() => window.dispatchEvent(new Event('online'))")
    page.wait_for_selector("#state[data-state=open]", timeout=15_000)
    page.locator("#messages .system", has_text="subscription renewed").wait_for(timeout=15_000)
    lost = page.evaluate("slow")
    assert lost["error"]["code"] == -32099  # at once, not after the call's 30 s timeout

    # A second person arrives on the restarted server and publishes.
    other = open_page(server.http_url)
    other.evaluate("async () => { await wsrpc.ready; await wsrpc.publish('chat.lobby', { text: 'back' }) }")
    page.wait_for_function("() => got.some((data) => data.text === 'back')")
    states = page.evaluate("states")  # a retry or two may fail while the server starts
    assert states[0] == "reconnecting" and states[-2:] == ["open", "resubscribed"]
    assert set(states) == {"reconnecting", "open", "resubscribed"}
    page.locator("#messages .message", has_text="back").wait_for()
    assert page.locator("#messages .system", has_text="subscription renewed").count() == 1
    assert page.inner_text("#state-text") == "connected"


def test_the_heartbeat_detects_a_silent_server(server: ServerProcess, open_page: Any) -> None:
    page = install(open_page(server.http_url))
    page.evaluate(
        """async () => {
            window.c = await T.client({
                heartbeatInterval: 300, heartbeatTimeout: 500, connectTimeout: 800, minDelay: 100, maxDelay: 300,
            });
            window.changes = [];
            window.got = [];
            c.on("state", (detail) => changes.push(detail));
            await c.subscribe("chat.lobby", (data) => got.push(data));
        }"""
    )
    started = time.monotonic()
    os.kill(server.pid, signal.SIGSTOP)  # the TCP connection stays up; nothing answers: half-open
    try:
        page.wait_for_function("() => c.state === 'reconnecting'", timeout=5_000)
        noticed = time.monotonic() - started
    finally:
        os.kill(server.pid, signal.SIGCONT)
    assert noticed < 0.3 + 0.5 + 2.0  # an interval, the timeout, and slack for a busy machine
    first = page.evaluate("changes[0]")
    assert (first["state"], first["reason"], first["code"]) == ("reconnecting", "heartbeat timeout", 4000)

    page.wait_for_function("() => c.state === 'open'", timeout=15_000)
    assert page.evaluate("async () => (await c.publish('chat.lobby', { text: 'alive' })).topic") == "chat.lobby"
    assert page.evaluate("c.call('add', [1, 1])") == 2
    page.wait_for_function("() => got.some((data) => data.text === 'alive')")
