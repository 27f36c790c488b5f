"""Real servers for the end-to-end tests: one per server kind for the whole session."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from websockets.asyncio.client import ClientConnection

from tests.support.servers import SERVERS, ServerProcess

from .wire import open_socket

#: The test settings' CALL_TIMEOUT, pinned so the timing assertions know it.
CALL_TIMEOUT = 2.0


@pytest.fixture(scope="session", params=SERVERS)
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """``tests.asgi:application`` served by daphne, then by uvicorn."""
    with ServerProcess(request.param, env={"WSRPC_TEST_CALL_TIMEOUT": str(CALL_TIMEOUT)}) as process:
        yield process


@pytest.fixture(scope="session")
def demo_server() -> Iterator[ServerProcess]:
    """The demo project served by daphne, its default server."""
    with ServerProcess.demo("daphne", env={"REDIS_URL": None}) as process:
        yield process


@pytest.fixture
async def ws(server: ServerProcess) -> AsyncIterator[ClientConnection]:
    """A fresh WebSocket connection to ``server``."""
    async with open_socket(server) as connection:
        yield connection
