"""Connection ids, rpc.info, presence and join/leave on the in-memory layer, through the consumer.

The same behaviour across two server processes on Redis is in
``tests/e2e/test_presence_cluster.py``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model

from tests.support.pubsub import PATH, Peer, connected, fresh_permissions, make_topic  # noqa: F401
from wsrpc_app import apresence, apresence_stats
from wsrpc_app.consumers import RpcConsumer
from wsrpc_app.core.errors import NoSuchTopic
from wsrpc_app.pubsub.process import current_hub

pytestmark = pytest.mark.django_db(transaction=True)

User = get_user_model()
ID = re.compile(r"[0-9a-f]{12}\.[0-9]+")


@pytest.fixture
def rooms() -> None:
    """``room.#``: anyone subscribes, presence and join/leave; ``quiet.#``: presence only; ``plain``: neither;
    ``hidden``: presence, but nobody may subscribe."""
    make_topic("room.#", anonymous_subscribe=True, presence=True, join_leave=True)
    make_topic("quiet.#", anonymous_subscribe=True, presence=True)
    make_topic("plain", anonymous_subscribe=True)
    make_topic("hidden", presence=True, join_leave=True)


async def info(peer: Peer) -> dict[str, Any]:
    result: dict[str, Any] = await peer.result("rpc.info")
    return result


async def subscribe(peer: Peer, topic: str) -> None:
    assert (await peer.result("rpc.subscribe", {"topic": topic}))["subscribed"] is True


# rpc.info -------------------------------------------------------------------------


async def test_every_connection_has_an_id_of_its_own() -> None:
    async with connected() as one, connected() as two:
        first, second = await info(one), await info(two)
    assert ID.fullmatch(first["connection"]) and ID.fullmatch(second["connection"])
    assert first["connection"] != second["connection"]
    assert first["user"] is None and first["user_id"] is None
    assert "info" not in first and first["since"].endswith("Z")


async def test_info_names_the_logged_in_user(db: None) -> None:
    user = await User.objects.acreate(username="ada")
    async with connected(user) as peer:
        answer = await info(peer)
    assert answer["user"] == "ada" and answer["user_id"] == user.pk


async def test_the_client_declares_info_on_the_handshake(rooms: None) -> None:
    path = PATH + "?info=" + quote('{"device": "phone"}')
    communicator = WebsocketCommunicator(RpcConsumer.as_asgi(), path)
    assert (await communicator.connect())[0]
    peer = Peer(communicator)
    try:
        assert (await info(peer))["info"] == {"device": "phone"}
        await subscribe(peer, "room.a")
        [client] = (await peer.result("rpc.presence", {"topic": "room.a"}))["clients"]
        assert client["info"] == {"device": "phone"}
    finally:
        await communicator.disconnect()


@pytest.mark.parametrize("declared", ["not json", "[1, 2]", '"text"', "{" + '"k":"' + "x" * 1100 + '"}'])
async def test_a_handshake_with_bad_info_is_refused(declared: str) -> None:
    communicator = WebsocketCommunicator(RpcConsumer.as_asgi(), f"{PATH}?info={quote(declared)}")
    accepted, _ = await communicator.connect()
    assert not accepted


# rpc.presence and rpc.presence_stats ----------------------------------------------


async def test_presence_lists_the_exact_subscribers(rooms: None) -> None:
    user = await User.objects.acreate(username="grace")
    async with connected() as anonymous, connected(user) as grace, connected() as watcher:
        await subscribe(anonymous, "quiet.a")
        await subscribe(grace, "quiet.a")
        await subscribe(watcher, "quiet.#")  # a pattern: not listed
        ids = sorted([(await info(anonymous))["connection"], (await info(grace))["connection"]])
        answer = await watcher.result("rpc.presence", {"topic": "quiet.a"})
        assert answer["topic"] == "quiet.a"
        assert [client["connection"] for client in answer["clients"]] == ids
        by_user = {client["user"]: client for client in answer["clients"]}
        assert by_user["grace"]["user_id"] == user.pk and by_user[None]["user_id"] is None
        assert await watcher.result("rpc.presence_stats", ["quiet.a"]) == {
            "topic": "quiet.a",
            "connections": 2,
            "users": 1,
        }
        await anonymous.result("rpc.unsubscribe", {"topic": "quiet.a"})
        assert (await apresence_stats("quiet.a"))["connections"] == 1
    # Disconnected: gone from presence.
    assert await apresence("quiet.a") == {"topic": "quiet.a", "clients": []}


async def test_two_connections_of_one_user_count_as_one_user(rooms: None) -> None:
    user = await User.objects.acreate(username="lin")
    async with connected(user) as phone, connected(user) as laptop:
        await subscribe(phone, "quiet.b")
        await subscribe(laptop, "quiet.b")
        assert await apresence_stats("quiet.b") == {"topic": "quiet.b", "connections": 2, "users": 1}


async def test_presence_errors(rooms: None) -> None:
    async with connected() as peer:
        forbidden = await peer.error("rpc.presence", {"topic": "hidden"})
        assert forbidden["code"] == -32003 and forbidden["data"] == {"topic": "hidden", "action": "subscribe"}
        assert (await peer.error("rpc.presence_stats", {"topic": "hidden"}))["code"] == -32003
        without = await peer.error("rpc.presence", {"topic": "plain"})
        assert without["code"] == -32004 and without["data"] == {"topic": "plain", "presence": False}
        assert (await peer.error("rpc.presence", {"topic": "room.*"}))["code"] == -32004
        assert (await peer.error("rpc.presence", {"topic": "bad..name"}))["code"] == -32004
        assert (await peer.error("rpc.presence", {"topic": 42}))["code"] == -32602
        assert (await peer.error("rpc.presence", {}))["code"] == -32602
        assert await peer.nothing_more()


async def test_presence_of_a_topic_without_it_raises_for_server_code(rooms: None) -> None:
    with pytest.raises(NoSuchTopic):
        await apresence("plain")


# rpc.join and rpc.leave ------------------------------------------------------------


async def test_subscribers_hear_of_each_other_joining_and_leaving(rooms: None) -> None:
    async with connected() as first, connected() as second:
        await subscribe(first, "room.x")
        second_id = (await info(second))["connection"]
        await subscribe(second, "room.x")
        join = await first.notification()
        assert join == {
            "jsonrpc": "2.0",
            "method": "rpc.join",
            "params": {"topic": "room.x", "client": {"connection": second_id, "user": None, "user_id": None}},
        }
        assert await second.nothing_more(), "a connection gets no join of its own"
        await second.result("rpc.unsubscribe", {"topic": "room.x"})
        leave = await first.notification()
        assert leave["method"] == "rpc.leave" and leave["params"]["client"]["connection"] == second_id
        await subscribe(second, "room.x")
        assert (await first.notification())["method"] == "rpc.join"
    # second closed while subscribed: first heard it leave (before first closed too).


async def test_a_closed_connection_leaves(rooms: None) -> None:
    async with connected() as stays:
        await subscribe(stays, "room.y")
        async with connected() as goes:
            await subscribe(goes, "room.y")
            gone = (await info(goes))["connection"]
            assert (await stays.notification())["method"] == "rpc.join"
        leave = await stays.notification()
        assert leave["method"] == "rpc.leave" and leave["params"]["client"]["connection"] == gone


async def test_presence_without_join_leave_sends_no_join(rooms: None) -> None:
    async with connected() as first, connected() as second:
        await subscribe(first, "quiet.c")
        await subscribe(second, "quiet.c")
        assert await first.nothing_more()


async def test_the_hub_forgets_a_closed_connection(rooms: None) -> None:
    async with connected() as peer:
        connection = (await info(peer))["connection"]
        hub = current_hub()
        assert hub is not None and connection in hub.connections
    assert connection not in hub.connections
