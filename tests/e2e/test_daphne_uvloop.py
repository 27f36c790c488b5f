"""``python -m wsrpc_app.daphne``: daphne on uvloop, serving calls, waiting methods and events."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.servers import ServerProcess

from .wire import call, open_socket, recv_json, send_json

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def daphne_uvloop() -> Iterator[ServerProcess]:
    with ServerProcess("daphne-uvloop") as process:
        yield process


async def test_the_launcher_runs_daphne_on_uvloop(daphne_uvloop: ServerProcess) -> None:
    async with open_socket(daphne_uvloop) as ws:
        reply = await call(ws, {"jsonrpc": "2.0", "method": "event_loop", "id": 1})
    assert reply["result"] == "uvloop.Loop"


async def test_plain_servers_loops(server: ServerProcess) -> None:
    # What the launcher changes: plain daphne runs on asyncio's own loop,
    # uvicorn picks uvloop when it is installed.
    async with open_socket(server) as ws:
        reply = await call(ws, {"jsonrpc": "2.0", "method": "event_loop", "id": 1})
    expected = {"daphne": "asyncio.unix_events._UnixSelectorEventLoop", "uvicorn": "uvloop.Loop"}[server.name]
    assert reply["result"] == expected


async def test_calls_waiting_methods_and_events_on_the_launcher(daphne_uvloop: ServerProcess) -> None:
    async with open_socket(daphne_uvloop) as ws, open_socket(daphne_uvloop) as listener:
        subscribed = await call(
            listener, {"jsonrpc": "2.0", "method": "rpc.subscribe", "params": {"topic": "chat.lobby"}, "id": "s"}
        )
        assert subscribed["result"] == {"topic": "chat.lobby", "subscribed": True}
        await send_json(ws, {"jsonrpc": "2.0", "method": "sleep", "params": [0.2], "id": "slow"})
        await send_json(ws, {"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": "fast"})
        await send_json(
            ws, {"jsonrpc": "2.0", "method": "rpc.publish", "params": {"topic": "chat.lobby", "data": 7}, "id": "p"}
        )
        replies = {(reply := await recv_json(ws))["id"]: reply for _ in range(3)}
        assert replies["fast"]["result"] == 19
        assert replies["slow"]["result"] == 0.2
        assert replies["p"]["result"] == {"topic": "chat.lobby"}
        event = await recv_json(listener)
        assert event == {"jsonrpc": "2.0", "method": "rpc.event", "params": {"topic": "chat.lobby", "data": 7}}
