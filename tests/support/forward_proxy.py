"""A real HTTP forward proxy on loopback for the client's proxy tests: ``proxy.py`` (PyPI), in a subprocess.

::

    with ForwardProxy() as proxy:                          # open to anyone on loopback
        ...  # proxy.url, proxy.tunnels_to(port)
    with ForwardProxy(credentials="user:secret") as proxy:  # Basic auth: a 407 without them
        ...
"""

from __future__ import annotations

import asyncio
import re
import sys
import time

from .servers import ServerProcess

__all__ = ["ForwardProxy"]


class ForwardProxy(ServerProcess):
    """``proxy.py`` on 127.0.0.1 and a free port, one thread per connection, its access log in ``output()``."""

    def __init__(self, *, credentials: str | None = None) -> None:
        super().__init__("uvicorn", migrate=False)
        self.credentials = credentials

    def __repr__(self) -> str:
        return f"<ForwardProxy on {self.host}:{self.port}>"

    @property
    def url(self) -> str:
        """The proxy's address, with its credentials when it has some."""
        userinfo = f"{self.credentials}@" if self.credentials else ""
        return f"http://{userinfo}{self.host}:{self.port}"

    def command(self) -> list[str]:
        # proxy.py's own default --hostname is 127.0.0.1; giving it again makes it bind twice.
        command = [sys.executable, "-m", "proxy", "--port", str(self.port), "--threaded", "--num-acceptors", "1"]
        if self.credentials:
            command += ["--basic-auth", self.credentials]
        return command

    def tunnels_to(self, port: int) -> int:
        """How many ``CONNECT`` tunnels to 127.0.0.1:``port`` the proxy logged so far (when each closed)."""
        return len(re.findall(rf" - CONNECT 127\.0\.0\.1:{port} - ", self.output()))

    async def logged_tunnels(self, port: int, expected: int, *, within: float = 5.0) -> int:
        """The tunnels to ``port`` once ``expected`` are logged, or after ``within`` seconds.

        The proxy logs a tunnel when it closes, a moment after the client closed it.
        """
        deadline = time.monotonic() + within
        while True:
            count = self.tunnels_to(port)
            if count >= expected or time.monotonic() > deadline:
                return count
            await asyncio.sleep(0.05)
