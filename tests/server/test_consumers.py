"""RpcConsumer driven with Channels' WebsocketCommunicator: no server process."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from channels.exceptions import DenyConnection
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import override_settings

from tests.support import django_methods
from tests.support.communicators import PATH, connected, request
from wsrpc_app.consumers import RpcConsumer
from wsrpc_app.pubsub.process import get_hub
from wsrpc_app.routing import websocket_urlpatterns

# Closing a worker thread's stale DB connection before a sync method needs the
# database, even for a method that does not use it (see tests/test_views.py).
pytestmark = pytest.mark.django_db


def wsrpc(**overrides: Any) -> dict[str, Any]:
    """The test settings' WSRPC with some keys replaced."""
    return {**settings.WSRPC, **overrides}


def with_helpers(**overrides: Any) -> dict[str, Any]:
    """WSRPC with the methods of tests/django_methods.py added."""
    return wsrpc(METHODS=[*settings.WSRPC["METHODS"], "tests.support.django_methods"], **overrides)


def recording_consumer() -> tuple[type[RpcConsumer], list[RpcConsumer]]:
    """A consumer class that keeps each instance it runs, so a test can look inside."""
    seen: list[RpcConsumer] = []

    class Recording(RpcConsumer):
        async def on_connect(self) -> None:
            seen.append(self)

    return Recording, seen


async def call(ws: WebsocketCommunicator, method: str, params: Any = None, id_: Any = 1) -> dict[str, Any]:
    await ws.send_json_to(request(method, params, id_))
    reply: dict[str, Any] = await ws.receive_json_from()
    return reply


# Calls --------------------------------------------------------------------------


async def test_call() -> None:
    async with connected() as ws:
        assert await call(ws, "subtract", [42, 23]) == {"jsonrpc": "2.0", "result": 19, "id": 1}


async def test_call_with_named_params_and_namespace() -> None:
    async with connected() as ws:
        assert await call(ws, "shapes.area", {"width": 2, "height": 3.5}, "a") == {
            "jsonrpc": "2.0",
            "result": 7.0,
            "id": "a",
        }


async def test_routed_through_websocket_urlpatterns() -> None:
    async with connected(URLRouter(websocket_urlpatterns)) as ws:
        assert (await call(ws, "add", [2, 3]))["result"] == 5


async def test_unknown_method() -> None:
    async with connected() as ws:
        reply = await call(ws, "no_such_method", [], 7)
    assert reply["id"] == 7
    assert reply["error"]["code"] == -32601


async def test_application_error_reaches_the_client() -> None:
    async with connected() as ws:
        reply = await call(ws, "fail_rpc")
    assert reply == {
        "jsonrpc": "2.0",
        "error": {"code": -32050, "message": "Out of stock", "data": {"sku": "X1"}},
        "id": 1,
    }


async def test_batch() -> None:
    async with connected() as ws:
        await ws.send_json_to(
            [
                request("sum", [1, 2, 4], "1"),
                {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
                request("subtract", [42, 23], "2"),
                {"foo": "boo"},
                request("foo.get", {"name": "myself"}, "5"),
                request("get_data", None, "9"),
            ]
        )
        replies = await ws.receive_json_from()
        assert await ws.receive_nothing()
    assert isinstance(replies, list)
    by_id = {reply["id"]: reply for reply in replies}
    assert len(replies) == 5
    assert by_id["1"]["result"] == 7
    assert by_id["2"]["result"] == 19
    assert by_id[None]["error"]["code"] == -32600
    assert by_id["5"]["error"]["code"] == -32601
    assert by_id["9"]["result"] == ["hello", 5]


async def test_batch_of_notifications_gets_no_reply() -> None:
    async with connected() as ws:
        await ws.send_json_to([{"jsonrpc": "2.0", "method": "notify_sum", "params": [1, 2]}] * 2)
        assert await ws.receive_nothing(timeout=0.3)
        assert (await call(ws, "rpc.ping"))["result"] == "pong"


async def test_parse_error_keeps_the_connection() -> None:
    async with connected() as ws:
        await ws.send_to(text_data='{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]')
        reply = await ws.receive_json_from()
        assert reply["error"]["code"] == -32700
        assert reply["id"] is None
        assert (await call(ws, "rpc.ping"))["result"] == "pong"


# Concurrency --------------------------------------------------------------------


async def test_slow_call_does_not_block_a_fast_one() -> None:
    async with connected() as ws:
        started = time.monotonic()
        await ws.send_json_to(request("sleep", [0.5], 1))
        await ws.send_json_to(request("rpc.ping", None, 2))
        first = await ws.receive_json_from()
        fast = time.monotonic() - started
        second = await ws.receive_json_from()
    assert first == {"jsonrpc": "2.0", "result": "pong", "id": 2}
    assert fast < 0.3
    assert second == {"jsonrpc": "2.0", "result": 0.5, "id": 1}


async def test_slow_sync_call_does_not_block_a_fast_one() -> None:
    async with connected() as ws:
        started = time.monotonic()
        await ws.send_json_to(request("sleep_sync", [0.5], 1))
        await ws.send_json_to(request("add", [1, 1], 2))
        first = await ws.receive_json_from()
        fast = time.monotonic() - started
        second = await ws.receive_json_from()
    assert (first["id"], first["result"]) == (2, 2)
    assert fast < 0.3
    assert (second["id"], second["result"]) == (1, 0.5)


async def test_calls_over_max_in_flight_are_refused() -> None:
    with override_settings(WSRPC=wsrpc(MAX_IN_FLIGHT=2)):
        async with connected() as ws:
            await ws.send_json_to(request("sleep", [0.3], 1))
            await ws.send_json_to(request("sleep", [0.3], 2))
            await ws.send_json_to(request("rpc.ping", None, 3))
            refused = await ws.receive_json_from(timeout=0.2)  # at once, not after the sleeps
            done = [await ws.receive_json_from(), await ws.receive_json_from()]
            # The two slots are free again.
            after = await call(ws, "rpc.ping", None, 4)
    assert refused["id"] == 3
    assert refused["error"]["code"] == -32029
    assert sorted((reply["id"], reply["result"]) for reply in done) == [(1, 0.3), (2, 0.3)]
    assert after["result"] == "pong"


async def test_max_in_flight_counts_the_requests_of_a_batch() -> None:
    with override_settings(WSRPC=wsrpc(MAX_IN_FLIGHT=2)):
        async with connected() as ws:
            await ws.send_json_to([request("sleep", [0.1], i) for i in (1, 2, 3)])
            replies = await ws.receive_json_from()
    codes = sorted(reply.get("error", {}).get("code", 0) for reply in replies)
    assert codes == [-32029, 0, 0]
    assert sorted(reply["id"] for reply in replies) == [1, 2, 3]


@pytest.mark.parametrize("method", ["sleep", "sleep_sync"])
async def test_method_over_its_time_limit(method: str) -> None:
    with override_settings(WSRPC=wsrpc(METHOD_TIME_LIMIT=0.2)):
        async with connected() as ws:
            started = time.monotonic()
            reply = await call(ws, method, [1.0])
            waited = time.monotonic() - started
    assert reply["error"]["code"] == -32008
    assert waited < 0.8


# Server-to-client calls ---------------------------------------------------------


async def server_request(ws: WebsocketCommunicator, method: str, params: Any) -> dict[str, Any]:
    """Ask the server to call us back, and return the request it sends us."""
    await ws.send_json_to(request("call_back", {"method": method, "params": params}, "outer"))
    incoming: dict[str, Any] = await ws.receive_json_from()
    assert incoming["jsonrpc"] == "2.0"
    assert incoming["method"] == method
    assert incoming["params"] == params
    assert isinstance(incoming["id"], int | str)
    return incoming


async def test_server_calls_the_client() -> None:
    async with connected() as ws:
        incoming = await server_request(ws, "client.add", [1, 2])
        await ws.send_json_to({"jsonrpc": "2.0", "result": 3, "id": incoming["id"]})
        assert await ws.receive_json_from() == {"jsonrpc": "2.0", "result": 3, "id": "outer"}


async def test_server_call_gets_the_client_error() -> None:
    async with connected() as ws:
        incoming = await server_request(ws, "client.fail", {"why": "test"})
        await ws.send_json_to(
            {"jsonrpc": "2.0", "error": {"code": -32050, "message": "nope", "data": [1]}, "id": incoming["id"]}
        )
        reply = await ws.receive_json_from()
    assert reply["id"] == "outer"
    assert reply["error"] == {"code": -32050, "message": "nope", "data": [1]}


async def test_server_calls_get_distinct_ids() -> None:
    async with connected() as ws:
        await ws.send_json_to(request("call_back", {"method": "a"}, "x"))
        await ws.send_json_to(request("call_back", {"method": "b"}, "y"))
        incoming = {message["method"]: message for message in [await ws.receive_json_from() for _ in range(2)]}
        assert incoming["a"]["id"] != incoming["b"]["id"]
        # Answered in the other order, each reply reaches its own call.
        await ws.send_json_to({"jsonrpc": "2.0", "result": "B", "id": incoming["b"]["id"]})
        await ws.send_json_to({"jsonrpc": "2.0", "result": "A", "id": incoming["a"]["id"]})
        replies = {reply["id"]: reply["result"] for reply in [await ws.receive_json_from() for _ in range(2)]}
    assert replies == {"x": "A", "y": "B"}


async def test_server_call_times_out() -> None:
    consumer_class, seen = recording_consumer()
    with override_settings(WSRPC=wsrpc(CALL_TIMEOUT=0.2)):
        async with connected(consumer_class.as_asgi()) as ws:
            incoming = await server_request(ws, "client.never", [])
            started = time.monotonic()
            cancel = await ws.receive_json_from()
            assert cancel == {"jsonrpc": "2.0", "method": "rpc.cancel", "params": {"id": incoming["id"]}}
            reply = await ws.receive_json_from()
            waited = time.monotonic() - started
            assert reply["id"] == "outer"
            assert reply["error"]["code"] == -32008
            assert 0.1 < waited < 1.0
            assert seen[0].endpoint.pending == {}
            # A reply that comes too late is dropped, and the connection goes on.
            await ws.send_json_to({"jsonrpc": "2.0", "result": 1, "id": incoming["id"]})
            assert await ws.receive_nothing()
            assert (await call(ws, "rpc.ping"))["result"] == "pong"


async def test_server_notifies_the_client() -> None:
    async with connected() as ws:
        await ws.send_json_to(request("notify_back", {"method": "client.tick", "params": [1, 2]}))
        messages = [await ws.receive_json_from(), await ws.receive_json_from()]
    assert {"jsonrpc": "2.0", "method": "client.tick", "params": [1, 2]} in messages
    assert {"jsonrpc": "2.0", "result": True, "id": 1} in messages


# Disconnecting ------------------------------------------------------------------


async def test_disconnect_cancels_a_running_method() -> None:
    django_methods.CANCELLED.clear()
    consumer_class, seen = recording_consumer()
    with override_settings(WSRPC=with_helpers()):
        ws = WebsocketCommunicator(consumer_class.as_asgi(), PATH)
        assert (await ws.connect())[0]
        await ws.send_json_to(request("hold", ["one"]))
        assert await ws.receive_json_from() == {"jsonrpc": "2.0", "method": "started", "params": ["one"]}
        await ws.disconnect()
    [consumer] = seen
    assert django_methods.CANCELLED == ["one"]
    assert consumer.endpoint.running == {}
    assert consumer.endpoint.pending == {}


async def test_disconnect_cancels_every_waiting_method_and_ends_every_task_it_ran_on() -> None:
    # The first waiting request keeps the task the server started; each later
    # one keeps the reading task it started on. All of them end, and the
    # application returns.
    django_methods.CANCELLED.clear()
    consumer_class, seen = recording_consumer()
    # The process's hub (its reader, timers, heartbeat) outlives connections: count the others.
    tasks_before = len(asyncio.all_tasks() - set((await get_hub()).tasks))
    with override_settings(WSRPC=with_helpers()):
        ws = WebsocketCommunicator(consumer_class.as_asgi(), PATH)
        assert (await ws.connect())[0]
        for tag in ("one", "two", "three"):
            await ws.send_json_to(request("hold", [tag], id_=tag))
            assert await ws.receive_json_from() == {"jsonrpc": "2.0", "method": "started", "params": [tag]}
        assert await call(ws, "subtract", [5, 3]) == {"jsonrpc": "2.0", "result": 2, "id": 1}
        [consumer] = seen
        assert len(consumer.endpoint.running) == 3
        await ws.disconnect()
    assert sorted(django_methods.CANCELLED) == ["one", "three", "two"]
    assert consumer.endpoint.running == {}
    await asyncio.sleep(0)
    assert len(asyncio.all_tasks() - set((await get_hub()).tasks)) == tasks_before


class BreaksOnBoom(RpcConsumer):
    """A consumer whose frame handling fails on the frame ``boom``."""

    async def websocket_receive(self, message: dict[str, Any]) -> None:
        if message.get("text") == "boom":
            raise RuntimeError("boom")
        await super().websocket_receive(message)


@pytest.mark.parametrize("waiting", [False, True])
async def test_an_error_in_the_reading_task_reaches_the_server_and_stops_the_requests(waiting: bool) -> None:
    # With a waiting request, the reading has moved to a task of wsrpc's own:
    # its error must still end the application with that error (the server
    # reports it and closes the socket), and the waiting request must end.
    django_methods.CANCELLED.clear()
    with override_settings(WSRPC=with_helpers()):
        ws = WebsocketCommunicator(BreaksOnBoom.as_asgi(), PATH)
        assert (await ws.connect())[0]
        if waiting:
            await ws.send_json_to(request("hold", ["held"]))
            assert await ws.receive_json_from() == {"jsonrpc": "2.0", "method": "started", "params": ["held"]}
        await ws.send_to(text_data="boom")
        with pytest.raises(RuntimeError, match="boom"):
            await ws.wait(timeout=2)
    assert django_methods.CANCELLED == (["held"] if waiting else [])


async def test_disconnect_ends_a_pending_server_call() -> None:
    consumer_class, seen = recording_consumer()
    ws = WebsocketCommunicator(consumer_class.as_asgi(), PATH)
    assert (await ws.connect())[0]
    await server_request(ws, "client.never", [])
    started = time.monotonic()
    await ws.disconnect()
    assert time.monotonic() - started < 0.5  # not after CALL_TIMEOUT
    [consumer] = seen
    assert consumer.endpoint.running == {}
    assert consumer.endpoint.pending == {}


# Frames -------------------------------------------------------------------------


async def test_binary_frame_is_an_invalid_request_and_the_connection_stays() -> None:
    async with connected() as ws:
        await ws.send_to(bytes_data=json.dumps(request("rpc.ping")).encode())
        reply = await ws.receive_json_from()
        assert reply["error"]["code"] == -32600
        assert reply["id"] is None
        assert (await call(ws, "rpc.ping", None, 2)) == {"jsonrpc": "2.0", "result": "pong", "id": 2}


@pytest.mark.parametrize(
    "value",
    [
        "x" * 70_000,  # over 64 KiB in characters
        "\u20ac" * 22_000,  # 22,000 characters but 66,000 bytes in UTF-8
    ],
    ids=["ascii", "multibyte"],
)
async def test_frame_over_max_message_bytes_closes_1009(value: str) -> None:
    assert settings.WSRPC["MAX_MESSAGE_BYTES"] == 64 * 1024
    async with connected() as ws:
        await ws.send_json_to(request("echo", [value]))
        assert await ws.receive_output() == {"type": "websocket.close", "code": 1009}


async def test_frame_under_max_message_bytes_is_answered() -> None:
    value = "\u20ac" * 20_000  # 60,000 bytes
    async with connected() as ws:
        await ws.send_to(text_data=json.dumps(request("echo", [value]), ensure_ascii=False))
        assert (await ws.receive_json_from())["result"] == value


async def test_max_message_bytes_none_disables_the_limit() -> None:
    value = "x" * 70_000
    with override_settings(WSRPC=wsrpc(MAX_MESSAGE_BYTES=None)):
        async with connected() as ws:
            assert (await call(ws, "echo", [value]))["result"] == value


# Built-in methods ---------------------------------------------------------------


async def test_ping() -> None:
    async with connected() as ws:
        assert await call(ws, "rpc.ping") == {"jsonrpc": "2.0", "result": "pong", "id": 1}


async def test_discover_lists_the_methods_with_their_params() -> None:
    async with connected() as ws:
        document = (await call(ws, "rpc.discover"))["result"]
    assert document["openrpc"].startswith("1.")
    methods = {method["name"]: method for method in document["methods"]}
    assert {"subtract", "sum", "who", "shapes.area", "shapes.unit", "add", "calc.divide", "rpc.ping"} <= set(methods)
    assert not any("hidden" in name for name in methods)
    assert methods["subtract"]["params"] == [
        {"name": "minuend", "required": True, "schema": {"type": "integer"}},
        {"name": "subtrahend", "required": True, "schema": {"type": "integer"}},
    ]
    assert [(p["name"], p["required"]) for p in methods["keywords"]["params"]] == [
        ("a", True),
        ("b", False),
        ("rest", False),
    ]
    # The connection parameter is filled by the server, never by the caller.
    assert methods["who"]["params"] == []
    assert methods["add"]["summary"] == "Add two numbers."


# Hooks --------------------------------------------------------------------------


async def test_on_connect_and_on_disconnect_hooks_are_called() -> None:
    events: list[Any] = []

    class Hooked(RpcConsumer):
        async def on_connect(self) -> None:
            events.append(("connect", self.scope["path"], self.connection.user))

        async def on_disconnect(self, code: int) -> None:
            events.append(("disconnect", code))

    ws = WebsocketCommunicator(Hooked.as_asgi(), PATH)
    assert (await ws.connect())[0]
    assert events == [("connect", PATH, None)]
    assert (await call(ws, "rpc.ping"))["result"] == "pong"
    await ws.disconnect(code=1001)
    assert events == [("connect", PATH, None), ("disconnect", 1001)]


async def test_deny_connection_in_on_connect_refuses() -> None:
    class Refusing(RpcConsumer):
        async def on_connect(self) -> None:
            raise DenyConnection

    ws = WebsocketCommunicator(Refusing.as_asgi(), PATH)
    accepted, _ = await ws.connect()
    assert accepted is False
    await ws.disconnect()


# Django ---------------------------------------------------------------------------


async def test_method_sees_the_user_of_the_scope() -> None:
    consumer = RpcConsumer.as_asgi()
    alice = get_user_model()(username="alice")

    async def with_user(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await consumer({**scope, "user": alice}, receive, send)

    async with connected(with_user) as ws:
        assert (await call(ws, "who"))["result"] == "alice"
        assert (await call(ws, "who", {"connection": "forged"}, 2))["error"]["code"] == -32602
    async with connected() as ws:
        assert (await call(ws, "who"))["result"] is None


@pytest.mark.django_db(transaction=True)
async def test_sync_orm_method() -> None:
    user_model = get_user_model()
    await user_model.objects.acreate(username="alice")
    await user_model.objects.acreate(username="bob")
    async with connected() as ws:
        assert (await call(ws, "db_user_count"))["result"] == 2


async def test_internal_error_hides_the_exception_without_debug() -> None:
    with override_settings(DEBUG=False):
        async with connected() as ws:
            await ws.send_json_to(request("fail"))
            raw = await ws.receive_from()
    assert json.loads(raw) == {"jsonrpc": "2.0", "error": {"code": -32603, "message": "Internal error"}, "id": 1}
    assert "secret internals" not in raw
    assert "ValueError" not in raw


async def test_internal_error_shows_the_exception_with_debug() -> None:
    with override_settings(DEBUG=True):
        async with connected() as ws:
            reply = await call(ws, "fail")
    assert reply["error"]["code"] == -32603
    assert "ValueError: secret internals" in json.dumps(reply["error"]["data"])


async def test_override_settings_changes_the_registry() -> None:
    with override_settings(WSRPC=wsrpc(METHODS=["tests.support.methods.subtract"])):
        async with connected() as ws:
            assert (await call(ws, "subtract", [3, 1]))["result"] == 2
            assert (await call(ws, "add", [1, 2]))["error"]["code"] == -32601
            names = {method["name"] for method in (await call(ws, "rpc.discover"))["result"]["methods"]}
        assert {name for name in names if not name.startswith("rpc.")} == {"subtract"}
        assert "rpc.ping" in names
    async with connected() as ws:
        assert (await call(ws, "add", [1, 2]))["result"] == 3
