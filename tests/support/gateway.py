"""An API gateway process (``tests.support.gateway_app``) in front of real targets, for the proxy tests.

::

    with EchoTarget() as echo, Gateway("uvicorn", echo=echo.url) as gateway:
        ...  # gateway.url("ws/echo/room/"), await gateway.stats()
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

from .servers import ServerProcess, free_port

__all__ = ["Gateway", "GatewayStats", "silent_port", "down_port"]

#: tasks (asyncio), fds (open file descriptors), rss (bytes).
GatewayStats = dict[str, int]


class Gateway(ServerProcess):
    """``tests.support.gateway_app`` served by daphne or uvicorn, its targets given by URL.

    ``rpc`` is a wsrpc server's ``ws://host:port``, ``echo`` the echo
    target's, ``silent`` and ``down`` ports that never answer and refuse;
    ``tls_echo`` and ``ca`` the echo target over TLS and its CA file.
    Other keyword arguments go to :class:`ServerProcess` (``db_path`` to share a wsrpc server's database).
    """

    def __init__(
        self,
        server: str = "daphne",
        *,
        rpc: str | None = None,
        echo: str | None = None,
        silent: int | None = None,
        down: int | None = None,
        tls_echo: str | None = None,
        ca: str | None = None,
        env: dict[str, str | None] | None = None,
        **options: Any,
    ) -> None:
        targets = {
            "WSRPC_GATEWAY_RPC": rpc,
            "WSRPC_GATEWAY_ECHO": echo,
            "WSRPC_GATEWAY_SILENT": None if silent is None else str(silent),
            "WSRPC_GATEWAY_DOWN": None if down is None else str(down),
            "WSRPC_GATEWAY_TLS_ECHO": tls_echo,
            "WSRPC_GATEWAY_CA": ca,
        }
        super().__init__(server, app="tests.support.gateway_app:application", env={**targets, **(env or {})}, **options)

    def __repr__(self) -> str:
        return f"<Gateway {self.name} on {self.host}:{self.port}>"

    def command(self) -> list[str]:
        if self.name == "uvicorn":
            # uvicorn trusts X-Forwarded-For from loopback clients by default, and every test client is one:
            # the gateway's own handling of a client's claim is what the tests look at.
            return [*super().command(), "--no-proxy-headers"]
        return super().command()

    def url(self, path: str) -> str:
        """The gateway's ``ws://`` URL of ``path`` (no leading slash)."""
        return f"ws://{self.host}:{self.port}/{path}"

    def stats_now(self) -> GatewayStats:
        with urllib.request.urlopen(f"{self.http_url}gateway-stats/", timeout=5) as response:  # noqa: S310
            stats: GatewayStats = json.loads(response.read())
        return stats

    async def stats(self) -> GatewayStats:
        """What the gateway process holds now: asyncio tasks, open file descriptors, resident memory."""
        return await asyncio.to_thread(self.stats_now)

    async def settled(self, baseline: GatewayStats, *, within: float = 10.0, slack: int = 0) -> GatewayStats:
        """Wait until the gateway holds no more tasks and descriptors than ``baseline`` (+ ``slack``)."""
        deadline = time.monotonic() + within
        while True:
            stats = await self.stats()
            if stats["tasks"] <= baseline["tasks"] + slack and stats["fds"] <= baseline["fds"] + slack:
                return stats
            if time.monotonic() > deadline:
                raise AssertionError(f"the gateway kept more than {baseline} after {within} s: {stats}")
            await asyncio.sleep(0.2)


@contextlib.contextmanager
def silent_port() -> Iterator[int]:
    """A port that completes TCP handshakes (the kernel's backlog) and never answers a byte."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(512)
        yield int(listener.getsockname()[1])


def down_port() -> int:
    """A port nothing listens on: connecting is refused at once."""
    return free_port()
