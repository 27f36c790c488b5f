"""Long calls with the Python client (``wsrpc_app.client.WsRpcClient``) against live daphne and uvicorn servers."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.support.servers import ServerProcess
from wsrpc_app import Progress
from wsrpc_app.client import RpcError, WsRpcClient

from .server_stats import no_crash, quiet_baseline, settled  # noqa: F401

pytestmark = pytest.mark.e2e


def client_for(server: ServerProcess, **options: Any) -> WsRpcClient:
    return WsRpcClient(server.ws_url, origin=server.origin, proxy=None, **options)


async def until(condition: Callable[[], Awaitable[bool]], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not await condition():
        assert time.monotonic() < deadline, "not in time"
        await asyncio.sleep(0.02)


async def ended(client: WsRpcClient, job: str) -> bool:
    return await _state_is(client, job, ["running", "cancelled", "finally"])


async def test_cancelling_the_awaiting_task_cancels_the_method_at_the_server(server: ServerProcess) -> None:
    baseline = await quiet_baseline(server)
    job = uuid.uuid4().hex
    async with client_for(server) as client:
        waiting = asyncio.ensure_future(client.call("long_job", key=job))
        await until(lambda: _state_is(client, job, ["running"]))
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await until(lambda: ended(client, job))
        assert client._endpoint is not None and client._endpoint.pending == {}
    await settled(server, baseline)


async def _state_is(client: WsRpcClient, job: str, state: list[str]) -> bool:
    seen: list[str] = await client.call("job_state", key=job)
    return seen == state


async def test_the_call_timeout_cancels_the_method_at_the_server(server: ServerProcess) -> None:
    job = uuid.uuid4().hex
    async with client_for(server, call_timeout=0.3) as client:
        with pytest.raises(TimeoutError):
            await client.call("long_job", key=job)
        await until(lambda: ended(client, job))


async def test_progress_reaches_sync_and_async_callbacks_in_order_before_the_result(server: ServerProcess) -> None:
    heard: list[Any] = []

    async def later(value: Any) -> None:
        heard.append(("async", value))

    async with client_for(server) as client:
        result = await client.call("count_up", count=3, pause=0.1, progress=heard.append)
        heard.append(result)
        assert heard == [1, 2, 3, "counted"]
        heard.clear()
        assert await client.request("count_up_sync", {"count": 2, "pause": 0.1}, progress=later) == "counted"
        await asyncio.sleep(0.05)
        assert heard == [("async", 1), ("async", 2)]


async def test_progress_is_a_name_of_wsrpc_not_a_json_param(server: ServerProcess) -> None:
    async with client_for(server) as client:
        with pytest.raises(RpcError) as refused:
            await client.request("count_up", {"count": 1, "progress": 1})
        assert refused.value.code == -32602


async def test_the_server_cancels_the_clients_method_and_no_task_stays(server: ServerProcess) -> None:
    seen: list[str] = []

    async def wait() -> str:
        seen.append("running")
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        return "never"

    async with client_for(server, methods={"client.wait": wait}) as client:
        await asyncio.sleep(0.1)
        tasks_before = len(asyncio.all_tasks())
        answer = await client.call("ask_client", method="client.wait", timeout=0.3)
        assert answer == {"timeout": True, "progress": []}
        deadline = time.monotonic() + 5
        while seen != ["running", "cancelled"] or len(asyncio.all_tasks()) > tasks_before:
            assert time.monotonic() < deadline, (seen, asyncio.all_tasks())
            await asyncio.sleep(0.02)
        endpoint = client._endpoint
        assert endpoint is not None and endpoint.in_flight == 0 and endpoint.session.running == {}


async def test_the_clients_method_reports_progress_to_the_server(server: ServerProcess) -> None:
    async def report(steps: int, progress: Progress) -> str:
        for step in range(1, steps + 1):
            await progress({"step": step})
            await asyncio.sleep(0.1)
        return "reported"

    async with client_for(server, methods={"client.report": report}) as client:
        answer = await client.call("ask_client", method="client.report", params=[3])
    assert answer == {"result": "reported", "progress": [{"step": 1}, {"step": 2}, {"step": 3}]}
