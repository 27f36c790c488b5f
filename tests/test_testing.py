"""wsrpc_app.testing: the helpers users test their own methods and topics with."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from wsrpc_app.models import Topic
from wsrpc_app.testing import RpcError, RpcTestClient

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def open_lobby() -> None:
    Topic.objects.update_or_create(name="chat.lobby", defaults={"anonymous_subscribe": True, "anonymous_publish": True})


async def test_call_returns_the_result() -> None:
    async with RpcTestClient() as client:
        assert await client.call("add", 1, 2) == 3
        assert await client.call("subtract", minuend=5, subtrahend=2) == 3


async def test_error_reply_raises_rpc_error() -> None:
    async with RpcTestClient() as client:
        with pytest.raises(RpcError) as info:
            await client.call("calc.divide", 1, 0)
    assert (info.value.code, info.value.message, info.value.data) == (-32010, "Division by zero", {"b": 0.0})


async def test_batch_gives_results_and_errors_in_order() -> None:
    async with RpcTestClient() as client:
        results = await client.batch([("add", [1, 2]), ("missing", None)])
    assert results[0] == 3
    assert isinstance(results[1], RpcError) and results[1].code == -32601


async def test_exposed_methods_answer_server_calls() -> None:
    async with RpcTestClient(methods={"answer": lambda question: f"yes to {question}"}) as client:
        assert await client.call("ask_browser", "tea?") == {"question": "tea?", "answer": "yes to tea?"}


async def test_events_arrive_in_order() -> None:
    async with RpcTestClient() as client:
        await client.subscribe("chat.lobby")
        for n in range(3):
            await client.publish("chat.lobby", {"n": n})
        events = [await client.next_event() for _ in range(3)]
        assert await client.no_event()
    assert [e["data"] for e in events] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert all(e["topic"] == "chat.lobby" for e in events)


async def test_user_goes_into_the_scope() -> None:
    user = await get_user_model().objects.acreate(username="ann")
    async with RpcTestClient(user=user) as client:
        assert await client.call("who") == "ann"
    async with RpcTestClient() as anonymous:
        assert await anonymous.call("who") is None


async def test_fixture_connects_and_closes(wsrpc_client: Any) -> None:
    first = await wsrpc_client()
    second = await wsrpc_client()
    await first.subscribe("chat.lobby")
    await second.publish("chat.lobby", "hi")
    assert (await first.next_event())["data"] == "hi"
