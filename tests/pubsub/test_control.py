"""Server code's hold on live connections, on the in-memory layer: subscribe, unsubscribe, disconnect, call.

Across two server processes on Redis: ``tests/e2e/test_control_cluster.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import override_settings

from tests.support.pubsub import PATH, Peer, fresh_permissions, make_topic, wsrpc  # noqa: F401
from wsrpc_app import (
    acall_connection,
    acall_user,
    adisconnect_connection,
    adisconnect_user,
    apublish,
    asubscribe_user,
    aunsubscribe_user,
)
from wsrpc_app.consumers import RpcConsumer
from wsrpc_app.core.errors import NoSuchTopic, PeerDisconnected, RpcError
from wsrpc_app.pubsub.control import aconnections
from wsrpc_app.pubsub.process import get_hub, presence_store

pytestmark = pytest.mark.django_db(transaction=True)

User = get_user_model()

#: How a test client answers the server's call: a result, or raises RpcError for an error reply.
Answer = Callable[[Any], Awaitable[Any]]


class Client(Peer):
    """A peer that answers the server's calls with ``answer`` (or never, when None) while a test waits."""

    def __init__(self, communicator: WebsocketCommunicator, answer: Answer | None) -> None:
        super().__init__(communicator)
        self.answer = answer
        self.id = ""

    async def serve(self) -> None:
        while True:
            frame: dict[str, Any] = await self.ws.receive_json_from(timeout=30)
            if "method" in frame and "id" in frame:
                if self.answer is None:
                    continue
                try:
                    reply: dict[str, Any] = {"result": await self.answer(frame.get("params"))}
                except RpcError as exc:
                    reply = {"error": exc.to_object()}
                await self.ws.send_json_to({"jsonrpc": "2.0", "id": frame["id"], **reply})
            else:
                self.notifications.append(frame)


@contextlib.asynccontextmanager
async def client(user: Any = None, answer: Answer | None = None) -> AsyncIterator[Client]:
    communicator = WebsocketCommunicator(RpcConsumer.as_asgi(), PATH)
    if user is not None:
        communicator.scope["user"] = user
    assert (await communicator.connect())[0]
    peer = Client(communicator, answer)
    peer.id = (await peer.result("rpc.info"))["connection"]
    try:
        yield peer
    finally:
        await communicator.disconnect()


@contextlib.asynccontextmanager
async def serving(*peers: Client) -> AsyncIterator[None]:
    """The peers answer the server's calls for the length of the block."""
    tasks = [asyncio.ensure_future(peer.serve()) for peer in peers]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def echo(params: Any) -> Any:
    return {"echo": params}


async def refuse(params: Any) -> Any:
    raise RpcError("Not now", code=4001, data={"why": "busy"})


async def closed_with(peer: Peer) -> dict[str, Any]:
    output: dict[str, Any] = await peer.ws.receive_output(timeout=2)
    while output["type"] != "websocket.close":
        output = await peer.ws.receive_output(timeout=2)
    return output


@pytest.fixture(autouse=True)
def db_cleanup_restored() -> Iterator[None]:
    """Put back ``channels.db.close_old_connections`` after the test.

    Each communicator's ``receive_output`` swaps it for a no-op with
    ``mock.patch`` while it waits; the clients here wait concurrently, so the
    patches unwind out of order and the no-op would stay for the rest of the
    session (and later tests would never see stale connections closed).
    """
    import channels.db

    original = channels.db.close_old_connections
    yield
    channels.db.close_old_connections = original


@pytest.fixture
def users() -> tuple[Any, Any]:
    return User.objects.create(username="ann"), User.objects.create(username="bob")


@pytest.fixture
def news() -> None:
    make_topic("news.#", anonymous_subscribe=True)  # only anonymous grants: server code subscribes anyway
    make_topic("staff.only")


# Subscribing and unsubscribing a user --------------------------------------------


async def test_subscribe_user_subscribes_each_connection_of_the_user(users: tuple[Any, Any]) -> None:
    ann, bob = users
    async with client(ann) as phone, client(ann) as laptop, client(bob) as other:
        await asubscribe_user(ann, "staff.only")  # nobody may subscribe: server code does anyway
        for peer in (phone, laptop):
            assert await peer.notification() == {
                "jsonrpc": "2.0",
                "method": "rpc.subscribed",
                "params": {"topic": "staff.only", "subscribed": True},
            }
        await apublish("staff.only", {"n": 1})
        for peer in (phone, laptop):
            assert (await peer.notification())["params"] == {"topic": "staff.only", "data": {"n": 1}}
        assert await other.nothing_more()
        await aunsubscribe_user(ann.pk, "staff.only")
        for peer in (phone, laptop):
            assert await peer.notification() == {
                "jsonrpc": "2.0",
                "method": "rpc.unsubscribed",
                "params": {"topic": "staff.only", "reason": "unsubscribed by the server"},
            }
        await apublish("staff.only", {"n": 2})
        assert await phone.nothing_more() and await laptop.nothing_more()


async def test_subscribe_user_refuses_a_bad_name() -> None:
    with pytest.raises(NoSuchTopic):
        await asubscribe_user(1, "bad..name")
    with pytest.raises(NoSuchTopic):
        await aunsubscribe_user(1, "")


# Disconnecting -----------------------------------------------------------------------


async def test_disconnect_user_closes_every_connection_of_the_user_with_4003(users: tuple[Any, Any]) -> None:
    ann, bob = users
    async with client(ann) as phone, client(ann) as laptop, client(bob) as other, client() as anonymous:
        await adisconnect_user(ann, reason="banned")
        for peer in (phone, laptop):
            assert await closed_with(peer) == {"type": "websocket.close", "code": 4003, "reason": "banned"}
        assert await other.result("rpc.ping") == "pong"
        assert await anonymous.result("rpc.ping") == "pong"


async def test_disconnect_connection_closes_that_one_only(users: tuple[Any, Any]) -> None:
    ann, _ = users
    async with client(ann) as phone, client(ann) as laptop:
        await adisconnect_connection(phone.id, 4000, "moved")
        assert await closed_with(phone) == {"type": "websocket.close", "code": 4000, "reason": "moved"}
        assert await laptop.result("rpc.ping") == "pong"


@pytest.mark.parametrize("bad", ["", "nope", "abc.1", "0123456789ab.", "0123456789ab.1.2", "../../etc"])
async def test_disconnect_connection_refuses_what_is_no_connection_id(bad: str) -> None:
    with pytest.raises(ValueError, match="not a connection id"):
        await adisconnect_connection(bad)


async def test_a_close_code_a_server_may_not_send_is_refused(users: tuple[Any, Any]) -> None:
    with pytest.raises(ValueError, match="close code"):
        await adisconnect_user(users[0], code=1006)


# Calling a connection ----------------------------------------------------------------


async def test_call_connection_returns_the_clients_result() -> None:
    async with client(answer=echo) as peer, serving(peer):
        assert await acall_connection(peer.id, "client.echo", 1, 2) == {"echo": [1, 2]}
        assert await acall_connection(peer.id, "client.echo", a=1) == {"echo": {"a": 1}}
    assert (await get_hub()).calls == {}


async def test_call_connection_raises_the_clients_error() -> None:
    async with client(answer=refuse) as peer, serving(peer):
        with pytest.raises(RpcError) as raised:
            await acall_connection(peer.id, "client.busy")
    assert (raised.value.code, raised.value.message, raised.value.data) == (4001, "Not now", {"why": "busy"})


async def test_call_connection_times_out() -> None:
    async with client(answer=None) as peer, serving(peer):
        with pytest.raises(TimeoutError):
            await acall_connection(peer.id, "client.never", timeout=0.3)
    assert (await get_hub()).calls == {}


async def test_call_to_a_connection_that_is_gone_raises_peer_disconnected() -> None:
    async with client() as peer:
        gone = peer.id
    with pytest.raises(PeerDisconnected):
        await acall_connection(gone, "client.echo")
    hub = await get_hub()
    with pytest.raises(PeerDisconnected):
        await acall_connection(f"{hub.marker}.999999", "client.echo")
    with pytest.raises(PeerDisconnected):  # a process that does not live
        await acall_connection("0123456789ab.1", "client.echo")
    with pytest.raises(ValueError):
        await acall_connection("not-an-id", "client.echo")
    assert hub.calls == {}


async def test_a_connection_that_closes_mid_call_answers_peer_disconnected() -> None:
    async with client(answer=None) as peer, serving(peer):
        call = asyncio.ensure_future(acall_connection(peer.id, "client.never", timeout=5))
        await asyncio.sleep(0.2)
        await peer.ws.disconnect()
        with pytest.raises(PeerDisconnected):
            await call
    assert (await get_hub()).calls == {}


# Calling a user -----------------------------------------------------------------------


async def test_call_user_returns_one_outcome_per_connection(users: tuple[Any, Any]) -> None:
    ann, bob = users
    async with (
        client(ann, echo) as answers,
        client(ann, refuse) as refuses,
        client(ann, None) as silent,
        client(bob, echo) as other,
        serving(answers, refuses, silent, other),
    ):
        outcomes = await acall_user(ann, "client.ask", "q", timeout=0.5)
        assert set(outcomes) == {answers.id, refuses.id, silent.id}
        assert outcomes[answers.id] == {"echo": ["q"]}
        error = outcomes[refuses.id]
        assert isinstance(error, RpcError) and error.code == 4001
        assert isinstance(outcomes[silent.id], TimeoutError)
    assert (await get_hub()).calls == {}


async def test_call_user_without_connections_answers_at_once(users: tuple[Any, Any]) -> None:
    # A process with none of the user's connections says so: the call does not wait out its timeout.
    async with client(users[1], echo) as other, serving(other), asyncio.timeout(10):
        assert await acall_user(users[0], "client.ask", timeout=60) == {}


# Listing the live connections ---------------------------------------------------------


async def test_connections_describes_every_live_connection(users: tuple[Any, Any], news: None) -> None:
    ann, _ = users
    async with client(ann) as peer, client() as anonymous:
        await peer.result("rpc.subscribe", {"topic": "news.today"})
        described = {item["connection"]: item for item in await aconnections()}
        hub = await get_hub()
    assert described[peer.id]["user"] == "ann" and described[peer.id]["subscriptions"] == ["news.today"]
    assert described[anonymous.id]["user"] is None and described[anonymous.id]["process"] == hub.marker
    assert described[peer.id]["since"].endswith("Z")
    assert hub.calls == {}


async def test_a_subscription_server_code_made_outlives_permission_changes(users: tuple[Any, Any], news: None) -> None:
    ann, _ = users
    async with client(ann) as own, client(ann) as made:
        await own.result("rpc.subscribe", {"topic": "news.today"})
        await asubscribe_user(ann, "news.today")  # own was subscribed already: now it is server code's too
        assert (await made.notification())["method"] == "rpc.subscribed"
        await database_sync_to_async(make_topic)("news.#")  # nobody may subscribe any more
        from wsrpc_app import arefresh_permissions

        await arefresh_permissions()
        await apublish("news.today", "still here")
        for peer in (own, made):
            assert (await peer.notification())["params"] == {"topic": "news.today", "data": "still here"}


async def test_call_user_waits_for_a_process_that_died_at_most_presence_ttl(users: tuple[Any, Any]) -> None:
    ann, _ = users
    with override_settings(WSRPC=wsrpc(PRESENCE_TTL=0.5)):
        async with client(ann, echo) as peer, serving(peer):
            store = presence_store()
            assert store is not None
            await store.heartbeat("0123456789ab", 30)  # a process that died without cleaning up
            async with asyncio.timeout(10):  # its own timeout (60 s) would fail this
                outcomes = await acall_user(ann, "client.ask", timeout=60)
    assert outcomes == {peer.id: {"echo": None}}
