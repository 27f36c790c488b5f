"""``uvicorn --workers 2`` in prometheus_client's multiprocess mode: one scrape sums both workers."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.wire import call, open_socket
from tests.support.servers import ServerProcess

from .scraping import TOKEN, scrape, value

pytestmark = pytest.mark.e2e

WORKERS = 2
CONNECTIONS = 24


class Workers(ServerProcess):
    """uvicorn with ``--workers``: processes forked from one, accepting on one socket."""

    def command(self) -> list[str]:
        return [sys.executable, "-m", "uvicorn", self.app, "--host", self.host, "--port", str(self.port),
                "--workers", str(WORKERS)]  # fmt: skip


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[ServerProcess]:
    env = {"WSRPC_TEST_METRICS_TOKEN": TOKEN, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    with Workers("uvicorn", env=env) as process:
        yield process


async def test_two_workers_sum(workers: ServerProcess) -> None:
    processes: set[str] = set()
    opened = 0
    async with contextlib.AsyncExitStack() as stack:
        deadline = time.monotonic() + 30  # the second worker may still be starting when the port listens
        while opened < CONNECTIONS or len(processes) < WORKERS:
            assert time.monotonic() < deadline, "the connections did not reach both workers"
            ws = await stack.enter_async_context(open_socket(workers))
            opened += 1
            info = await call(ws, {"jsonrpc": "2.0", "method": "rpc.info", "id": 1})
            processes.add(info["result"]["connection"].rsplit(".", 1)[0])
            assert (await call(ws, {"jsonrpc": "2.0", "method": "add", "params": [opened, 1], "id": 2}))["result"] == (
                opened + 1
            )
            if opened >= CONNECTIONS and len(processes) < WORKERS:
                await asyncio.sleep(0.1)
        samples = scrape(workers)
    assert value(samples, "wsrpc_calls_total", method="add", outcome="ok") == opened
    assert value(samples, "wsrpc_calls_total", method="rpc.info", outcome="ok") == opened
    assert value(samples, "wsrpc_connections_opened_total") == opened
    assert value(samples, "wsrpc_connections_open") == opened
