"""Shared fixtures: the Redis policy of the suite."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest

pytest_plugins = ["wsrpc_app.testing"]

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def _redis_reachable(url: str) -> str | None:
    """None when Redis answers PING at ``url``, else the reason it does not."""
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
    except OSError as exc:
        return f"Redis at {url} is unreachable: {exc}"
    if not reply.startswith(b"+PONG"):
        return f"Redis at {url} answered {reply!r} to PING"
    return None


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The URL of a live Redis; skips without one unless WSRPC_REQUIRE_REDIS=1, where it fails."""
    problem = _redis_reachable(REDIS_URL)
    if problem is not None:
        if os.environ.get("WSRPC_REQUIRE_REDIS") == "1":
            pytest.fail(f"{problem} (WSRPC_REQUIRE_REDIS=1)")
        pytest.skip(f"{problem}; set REDIS_URL or start Redis to run this test")
    return REDIS_URL
