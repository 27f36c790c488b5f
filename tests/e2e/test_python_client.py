"""The Python client against live daphne and uvicorn servers."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.support.servers import SERVERS, ServerProcess
from wsrpc_app.client import HandshakeRefused, PeerDisconnected, RpcError, WsRpcClient

pytestmark = pytest.mark.e2e


def client_for(server: ServerProcess, **options: Any) -> WsRpcClient:
    return WsRpcClient(server.ws_url, origin=server.origin, proxy=None, **options)


async def wait_for(condition: Any, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_calls_positional_named_and_through_methods(server: ServerProcess) -> None:
    async with client_for(server) as client:
        assert await client.call("add", 1, 2) == 3
        assert await client.call("subtract", minuend=42, subtrahend=23) == 19
        assert await client.methods.calc.multiply(a=2, b=3) == 6
        assert await client.methods.shapes.area(2, 5) == 10


async def test_error_reply_raises_rpc_error_with_code_message_data(server: ServerProcess) -> None:
    async with client_for(server) as client:
        with pytest.raises(RpcError) as info:
            await client.call("calc.divide", 1, 0)
        assert (info.value.code, info.value.message, info.value.data) == (-32010, "Division by zero", {"b": 0.0})
        with pytest.raises(RpcError) as missing:
            await client.methods.nothing_here()
        assert missing.value.code == -32601


async def test_batch_answers_each_call_in_order(server: ServerProcess) -> None:
    async with client_for(server) as client:
        results = await client.batch(
            [("add", [1, 2]), ("missing", None), ("subtract", {"minuend": 5, "subtrahend": 2})]
        )
    assert results[0] == 3 and results[2] == 3
    assert isinstance(results[1], RpcError) and results[1].code == -32601


async def test_call_timeout_leaves_nothing_pending(server: ServerProcess) -> None:
    async with client_for(server) as client:
        with pytest.raises(TimeoutError):
            await client.request("sleep", [1.0], timeout=0.2)
        endpoint = client._endpoint
        assert endpoint is not None and endpoint.pending == {}
        assert await client.call("rpc.ping") == "pong"


async def test_events_arrive_at_sync_and_async_callbacks(server: ServerProcess) -> None:
    seen_sync: list[Any] = []
    seen_async: list[Any] = []

    async def on_event(data: Any, event: dict[str, Any]) -> None:
        seen_async.append(event)

    async with client_for(server) as client:
        await client.subscribe("chat.lobby", lambda data, event: seen_sync.append(data))
        await client.subscribe("chat.lobby", on_event)
        for n in range(20):
            await client.publish("chat.lobby", {"n": n})
        await wait_for(lambda: len(seen_sync) == 20 and len(seen_async) == 20)
    assert seen_sync == [{"n": n} for n in range(20)]
    assert seen_async[0] == {"topic": "chat.lobby", "data": {"n": 0}}


async def test_server_calls_into_the_client(server: ServerProcess) -> None:
    async def answer(question: str) -> str:
        return f"yes to {question}"

    def refuse(question: str) -> str:
        raise RpcError("No", code=-32042, data={"question": question})

    async with client_for(server, methods={"answer": answer, "refuse": refuse}) as client:
        assert await client.call("call_back", "answer", ["tea?"]) == "yes to tea?"
        with pytest.raises(RpcError) as info:
            await client.call("call_back", "refuse", ["tea?"])
        assert (info.value.code, info.value.data) == (-32042, {"question": "tea?"})


async def test_forbidden_topic_raises_permission_denied(server: ServerProcess) -> None:
    async with client_for(server) as client:
        with pytest.raises(RpcError) as info:
            await client.subscribe("secret.plans", lambda data, event: None)
        assert info.value.code == -32003
        assert "secret.plans" not in client.subscriptions


@pytest.mark.parametrize("kind", SERVERS)
async def test_reconnects_and_resubscribes_after_a_server_restart(kind: str) -> None:
    states: list[str] = []
    seen: list[Any] = []
    with ServerProcess(kind) as server:
        async with client_for(server, on_state=states.append) as client:
            await client.subscribe("chat.lobby", lambda data, event: seen.append(data))
            await client.publish("chat.lobby", "before")
            await wait_for(lambda: seen == ["before"])

            await asyncio.to_thread(server.restart)
            await wait_for(lambda: states[-1] == "open" and "reconnecting" in states)
            await client.publish("chat.lobby", "after")
            await wait_for(lambda: seen == ["before", "after"])
    assert states[0] == "connecting" and states[-1] == "closed"


async def test_pending_call_fails_at_once_when_the_server_goes_away() -> None:
    with ServerProcess("uvicorn") as server:
        async with client_for(server, reconnect=False) as client:
            call = asyncio.ensure_future(client.call("sleep", 5))
            await asyncio.sleep(0.2)
            started = time.monotonic()
            await asyncio.to_thread(server.stop)
            with pytest.raises(PeerDisconnected):
                await call
            assert time.monotonic() - started < 4.0


async def test_refused_handshake_fails_fast_without_retrying(server: ServerProcess) -> None:
    attempts: list[Any] = []
    client = WsRpcClient(
        server.ws_url,
        origin="http://evil.example",  # refused by the origin check with 403
        proxy=None,
        retry={"before_sleep": attempts.append},
    )
    started = time.monotonic()
    with pytest.raises(HandshakeRefused) as info:
        await client.connect()
    assert info.value.status == 403
    assert attempts == []
    assert time.monotonic() - started < 2.0
