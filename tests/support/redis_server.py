"""A private ``redis-server`` for tests that stop, kill and restart Redis.

Never the machine's Redis: :class:`RedisServer` runs ``/usr/bin/redis-server``
on a free port of 127.0.0.1, with no persistence, so a restart comes back
empty, as a Redis that lost its data does::

    with RedisServer() as redis:
        ...  # redis.url
        redis.kill()  # SIGKILL: clients see the connection drop
        redis.start()  # the same port, no data
"""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import pytest

from .servers import LoggedProcess, ServerError, free_port

__all__ = ["REDIS_SERVER", "RedisServer", "redis_server_or_skip"]

#: The redis-server binary the tests run.
REDIS_SERVER = os.environ.get("WSRPC_TEST_REDIS_SERVER", "/usr/bin/redis-server")


def redis_server_or_skip() -> str:
    """The redis-server binary; skips without one unless WSRPC_REQUIRE_REDIS=1, where it fails."""
    if Path(REDIS_SERVER).is_file() and os.access(REDIS_SERVER, os.X_OK):
        return REDIS_SERVER
    problem = f"no redis-server at {REDIS_SERVER} (WSRPC_TEST_REDIS_SERVER names another)"
    if os.environ.get("WSRPC_REQUIRE_REDIS") == "1":
        pytest.fail(f"{problem} (WSRPC_REQUIRE_REDIS=1)")
    pytest.skip(f"{problem}; install Redis to run this test")


class RedisServer(LoggedProcess):
    """One ``redis-server`` process of this test run, on ``port`` (a free one by default)."""

    def __init__(
        self,
        *,
        binary: str = REDIS_SERVER,
        host: str = "127.0.0.1",
        port: int | None = None,
        # Timeouts
        startup_timeout: float = 10.0,
    ) -> None:
        self.binary = binary
        self.host = host
        self.port = port or free_port(host)
        self.startup_timeout = startup_timeout
        super().__init__("wsrpc-redis-")

    def __repr__(self) -> str:
        return f"<RedisServer on {self.host}:{self.port}>"

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def command(self) -> list[str]:
        assert self._tmpdir is not None
        return [
            self.binary,
            "--bind",
            self.host,
            "--port",
            str(self.port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            self._tmpdir,
            "--daemonize",
            "no",
            "--protected-mode",
            "no",
        ]

    def ping(self, timeout: float = 0.5) -> bool:
        """Whether Redis answers PING now."""
        try:
            with socket.create_connection((self.host, self.port), timeout=timeout) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def drop_clients(self) -> int:
        """Close every client connection (its data stays), as a network blink would; how many were closed."""
        dropped = 0
        with socket.create_connection((self.host, self.port), timeout=2) as sock:
            for kind in (b"pubsub", b"normal"):
                sock.sendall(b"CLIENT KILL TYPE " + kind + b" SKIPME yes\r\n")
                reply = sock.recv(64)
                if not reply.startswith(b":"):
                    raise ServerError(f"{self!r} answered {reply!r} to CLIENT KILL")
                dropped += int(reply[1:].strip())
        return dropped

    # Lifecycle ----------------------------------------------------------------

    def start(self) -> RedisServer:
        """Start Redis (empty) and wait until it answers PING."""
        process = self._launch(self.command())
        deadline = time.monotonic() + self.startup_timeout
        while not self.ping():
            code = process.poll()
            if code is not None:
                raise ServerError(f"{self!r} exited with code {code} while starting:\n{self.output()}")
            if time.monotonic() > deadline:
                self.kill()
                raise ServerError(f"{self!r} did not answer PING within {self.startup_timeout} s:\n{self.output()}")
            time.sleep(0.02)
        return self

    def kill(self) -> None:
        """SIGKILL Redis and wait for it to exit: its data is gone, its clients' connections drop."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
        if process is not None:
            process.wait()
        self._close_log()

    stop = kill
