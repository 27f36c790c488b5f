"""WSRPC["MIDDLEWARES"]: ``async def middleware(request, handler)`` around every call, WebSocket and HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from tests.support import middlewares
from wsrpc_app.routing import websocket_urlpatterns
from wsrpc_app.server.connection import Connection
from wsrpc_app.testing import RpcError, RpcTestClient

# Sync methods run in wsrpc's worker threads, which close stale DB connections around each call.
pytestmark = pytest.mark.django_db(transaction=True)


def using(*names: str, **overrides: Any) -> override_settings:
    """The test settings with these middlewares of tests/middlewares.py, first outermost."""
    paths = [f"tests.support.middlewares.{name}" for name in names]
    return override_settings(WSRPC={**settings.WSRPC, "MIDDLEWARES": paths, **overrides})


@pytest.fixture(autouse=True)
def _fresh_records() -> Iterator[None]:
    middlewares.TRACE.clear()
    middlewares.SEEN.clear()
    yield
    middlewares.TRACE.clear()
    middlewares.SEEN.clear()


def post(client: Client, body: Any) -> Any:
    return client.post("/wsrpc/rpc/", data=json.dumps(body), content_type="application/json")


# Order ------------------------------------------------------------------------------


async def test_first_is_outermost() -> None:
    with using("outer", "inner"):
        async with RpcTestClient() as client:
            assert await client.call("subtract", 5, 3) == 2
    assert middlewares.TRACE == [
        ("outer", "in", "subtract"),
        ("inner", "in", "subtract"),
        ("inner", "out", "subtract"),
        ("outer", "out", "subtract"),
    ]


async def test_listed_the_other_way_round() -> None:
    with using("inner", "outer"):
        async with RpcTestClient() as client:
            await client.call("rpc.ping")
    assert [(name, way) for name, way, _ in middlewares.TRACE] == [
        ("inner", "in"),
        ("outer", "in"),
        ("outer", "out"),
        ("inner", "out"),
    ]


async def test_no_middlewares_by_default() -> None:
    async with RpcTestClient() as client:
        assert await client.call("subtract", 5, 3) == 2
    assert middlewares.TRACE == []


# What a middleware sees -------------------------------------------------------------------


async def test_sees_method_params_id_and_connection(django_user_model: Any) -> None:
    user = await django_user_model.objects.acreate(username="mia")
    with using("record"):
        async with RpcTestClient(user=user) as client:
            await client.call("subtract", minuend=5, subtrahend=3)
            await client.notify("notify_hello", 7)
            await client.call("rpc.ping")
    called, notified, pinged = middlewares.SEEN
    assert (called.method, called.params, called.notification) == ("subtract", {"minuend": 5, "subtrahend": 3}, False)
    assert called.id is not None
    assert (notified.method, notified.params, notified.notification, notified.id) == ("notify_hello", [7], True, None)
    assert (pinged.method, pinged.params) == ("rpc.ping", None)
    assert isinstance(called.connection, Connection)
    assert called.connection.user == user
    assert called.connection is notified.connection is pinged.connection


async def test_every_request_of_a_batch_goes_through() -> None:
    with using("record"):
        async with RpcTestClient() as client:
            results = await client.batch([("subtract", [3, 1]), ("sum", [1, 2]), ("no.such", None)])
    assert results[:2] == [2, 3]
    assert isinstance(results[2], RpcError) and results[2].code == -32601
    assert sorted(request.method for request in middlewares.SEEN) == ["no.such", "subtract", "sum"]


async def test_sees_the_user_and_decides_on_it(django_user_model: Any) -> None:
    staff = await django_user_model.objects.acreate(username="stella", is_staff=True)
    with using("staff_gate"):
        async with RpcTestClient() as anonymous:
            with pytest.raises(RpcError) as refused:
                await anonymous.call("subtract", 5, 3)
            assert (refused.value.code, refused.value.message) == (-32003, "Staff only")
            assert await anonymous.call("sum", 1, 2) == 3
        async with RpcTestClient(user=staff) as client:
            assert await client.call("subtract", 5, 3) == 2


# What a middleware may do -------------------------------------------------------------------


async def test_short_circuits_with_a_result() -> None:
    with using("record", "shortcut"):
        async with RpcTestClient() as client:
            assert await client.call("cached.answer", 42) == {
                "from": "middleware",
                "method": "cached.answer",
                "params": [42],
            }
            # Not in the registry: only the middleware made it callable.
            with pytest.raises(RpcError) as missing:
                await client.call("uncached.answer")
            assert missing.value.code == -32601
    assert [request.method for request in middlewares.SEEN] == ["cached.answer", "uncached.answer"]


async def test_rewrites_params_and_result() -> None:
    with using("doubling"):
        async with RpcTestClient() as client:
            assert await client.call("add", 1, 2) == 60


async def test_raising_rpc_error_is_answered_with_it() -> None:
    with using("maintenance"):
        async with RpcTestClient() as client:
            with pytest.raises(RpcError) as refused:
                await client.call("subtract", 5, 3)
            assert refused.value.code == -32042
            assert refused.value.message == "Down for maintenance"
            assert refused.value.data == {"retry_after": 60}
            assert await client.call("rpc.ping") == "pong"


async def test_a_notification_refused_by_a_middleware_gets_no_reply() -> None:
    with using("maintenance"):
        async with RpcTestClient() as client:
            await client.notify("notify_hello", 1)
            assert await client.call("rpc.ping") == "pong"  # the next frame is this reply


@pytest.mark.parametrize("name", ["crash", "crash_after"])
async def test_a_crashing_middleware_answers_internal_error_without_text(name: str) -> None:
    with using(name):
        communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/rpc/")
        assert (await communicator.connect())[0]
        await communicator.send_json_to({"jsonrpc": "2.0", "method": "subtract", "params": [5, 3], "id": 7})
        frame = await communicator.receive_from()
        # The connection carries on.
        await communicator.send_json_to({"jsonrpc": "2.0", "method": "rpc.ping", "id": 8})
        assert await communicator.receive_json_from() == {"jsonrpc": "2.0", "result": "pong", "id": 8}
        await communicator.disconnect()
    assert json.loads(frame) == {"jsonrpc": "2.0", "error": {"code": -32603, "message": "Internal error"}, "id": 7}
    assert "secret" not in frame


async def test_time_limit_covers_middlewares() -> None:
    with using("stall", METHOD_TIME_LIMIT=0.2):
        async with RpcTestClient() as client:
            with pytest.raises(RpcError) as timed_out:
                await client.call("add", 1, 2)
            assert timed_out.value.code == -32008
            assert await client.call("subtract", 5, 3) == 2


async def test_the_setting_is_read_per_connection() -> None:
    async with RpcTestClient() as before:
        with using("maintenance"):
            async with RpcTestClient() as during:
                with pytest.raises(RpcError):
                    await during.call("subtract", 5, 3)
            # A connection keeps the middlewares it opened with.
            assert await before.call("subtract", 5, 3) == 2


# Over HTTP ------------------------------------------------------------------------------


def test_apply_over_http(client: Client) -> None:
    with using("outer", "record", "maintenance"):
        refused = post(client, {"jsonrpc": "2.0", "method": "subtract", "params": [5, 3], "id": 1})
        pong = post(client, {"jsonrpc": "2.0", "method": "rpc.ping", "id": 2})
    assert refused.json() == {
        "jsonrpc": "2.0",
        "error": {"code": -32042, "message": "Down for maintenance", "data": {"retry_after": 60}},
        "id": 1,
    }
    assert pong.json() == {"jsonrpc": "2.0", "result": "pong", "id": 2}
    assert [request.method for request in middlewares.SEEN] == ["subtract", "rpc.ping"]
    assert middlewares.SEEN[0].connection.user.is_anonymous
    assert ("outer", "in", "subtract") in middlewares.TRACE


def test_short_circuit_and_crash_over_http(client: Client) -> None:
    with using("shortcut"):
        assert post(client, {"jsonrpc": "2.0", "method": "cached.x", "id": 1}).json()["result"]["from"] == "middleware"
    with using("crash"):
        response = post(client, {"jsonrpc": "2.0", "method": "subtract", "params": [5, 3], "id": 1})
    assert response.json() == {"jsonrpc": "2.0", "error": {"code": -32603, "message": "Internal error"}, "id": 1}
    assert b"secret" not in response.content


def test_http_user_reaches_the_middleware(client: Client) -> None:
    staff = get_user_model().objects.create_user("stella", password="pw", is_staff=True)
    with using("staff_gate"):
        assert (
            post(client, {"jsonrpc": "2.0", "method": "subtract", "params": [5, 3], "id": 1}).json()["error"]["code"]
            == -32003
        )
        client.force_login(staff)
        assert post(client, {"jsonrpc": "2.0", "method": "subtract", "params": [5, 3], "id": 1}).json()["result"] == 2
