"""Pub/sub over the WebSocket: rpc.subscribe, rpc.unsubscribe, rpc.publish and rpc.event, on the in-memory layer."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import decimal
import threading
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.test import override_settings

import wsrpc_app
from tests.support.pubsub import (  # noqa: F401
    Peer,
    connected,
    event,
    fresh_permissions,
    grant,
    make_topic,
    wsrpc,
)
from wsrpc_app.errors import NoSuchTopic
from wsrpc_app.models import Topic, TopicPermission
from wsrpc_app.pubsub.process import current_hub

# Rows are created by the test and read by the permission check in another
# thread, so they must be committed: every test here is transactional.
pytestmark = pytest.mark.django_db(transaction=True)

User = get_user_model()


@pytest.fixture
def topics() -> None:
    """``chat.#`` and ``news``: anyone subscribes and publishes; ``secret``: nobody."""
    Topic.objects.all().delete()
    make_topic("chat.#", anonymous_subscribe=True, anonymous_publish=True)
    make_topic("news", anonymous_subscribe=True, anonymous_publish=True)
    make_topic("secret")


async def subscribe(peer: Peer, name: str) -> None:
    assert await peer.result("rpc.subscribe", {"topic": name}) == {"topic": name, "subscribed": True}


# Subscribing and publishing -----------------------------------------------------


async def test_subscribe_then_publish_with_named_params(topics: None) -> None:
    async with connected() as listener, connected() as speaker:
        await subscribe(listener, "chat.lobby")
        assert await speaker.result("rpc.publish", {"topic": "chat.lobby", "data": {"text": "hi"}}) == {
            "topic": "chat.lobby"
        }
        assert await listener.notification() == event("chat.lobby", {"text": "hi"})
        assert await listener.nothing_more()
        assert await speaker.nothing_more()  # not subscribed: no event


async def test_positional_params(topics: None) -> None:
    async with connected() as peer:
        assert await peer.result("rpc.subscribe", ["chat.lobby"]) == {"topic": "chat.lobby", "subscribed": True}
        assert await peer.result("rpc.publish", ["chat.lobby", [1, 2]]) == {"topic": "chat.lobby"}
        assert await peer.notification() == event("chat.lobby", [1, 2])
        assert await peer.result("rpc.unsubscribe", ["chat.lobby"]) == {"topic": "chat.lobby", "subscribed": False}
        assert await peer.result("rpc.publish", ["chat.lobby"]) == {"topic": "chat.lobby"}
        assert await peer.nothing_more()


async def test_the_event_frame_is_exactly_the_contract(topics: None) -> None:
    async with connected() as peer:
        await subscribe(peer, "news")
        await peer.result("rpc.publish", {"topic": "news", "data": None})
        frame = await peer.notification()
    assert frame == {"jsonrpc": "2.0", "method": "rpc.event", "params": {"topic": "news", "data": None}}
    assert "id" not in frame


async def test_publish_without_data_sends_null(topics: None) -> None:
    async with connected() as peer:
        await subscribe(peer, "news")
        await peer.result("rpc.publish", {"topic": "news"})
        assert await peer.notification() == event("news", None)


async def test_a_pattern_subscription_names_the_pattern(topics: None) -> None:
    async with connected() as peer:
        await subscribe(peer, "chat.*")
        await peer.result("rpc.publish", ["chat.room", "a"])
        await peer.result("rpc.publish", ["chat.room.deep", "b"])  # not matched by chat.*
        await peer.result("rpc.publish", ["news", "c"])
        assert await peer.notification() == event("chat.room", "a", subscription="chat.*")
        assert await peer.nothing_more()


async def test_the_publisher_receives_its_own_event(topics: None) -> None:
    async with connected() as peer:
        await subscribe(peer, "news")
        reply = await peer.call("rpc.publish", ["news", 1])
        assert reply["result"] == {"topic": "news"}
        assert await peer.notification() == event("news", 1)


async def test_subscribing_twice_is_harmless(topics: None) -> None:
    async with connected() as peer:
        await subscribe(peer, "news")
        await subscribe(peer, "news")
        await peer.result("rpc.publish", ["news", 1])
        assert await peer.notification() == event("news", 1)
        assert await peer.nothing_more()
        # One unsubscribe ends it.
        assert await peer.result("rpc.unsubscribe", ["news"]) == {"topic": "news", "subscribed": False}
        await peer.result("rpc.publish", ["news", 2])
        assert await peer.nothing_more()


async def test_unsubscribing_what_was_never_subscribed(topics: None) -> None:
    async with connected() as peer:
        assert await peer.result("rpc.unsubscribe", {"topic": "news"}) == {"topic": "news", "subscribed": False}
        assert await peer.result("rpc.unsubscribe", {"topic": "chat.#"}) == {"topic": "chat.#", "subscribed": False}


async def test_one_event_per_matching_subscription(topics: None) -> None:
    async with connected() as peer:
        for name in ("chat.lobby", "chat.#", "chat.*"):
            await subscribe(peer, name)
        await peer.result("rpc.publish", ["chat.lobby", "hi"])
        frames = [await peer.notification() for _ in range(3)]
        assert await peer.nothing_more()
    assert sorted(frames, key=str) == sorted(
        [
            event("chat.lobby", "hi"),
            event("chat.lobby", "hi", subscription="chat.#"),
            event("chat.lobby", "hi", subscription="chat.*"),
        ],
        key=str,
    )


async def test_several_topics_at_once_in_a_batch(topics: None) -> None:
    async with connected() as peer:
        await peer.ws.send_json_to(
            [
                {"jsonrpc": "2.0", "method": "rpc.subscribe", "params": ["news"], "id": "a"},
                {"jsonrpc": "2.0", "method": "rpc.subscribe", "params": ["chat.lobby"], "id": "b"},
                {"jsonrpc": "2.0", "method": "rpc.subscribe", "params": ["secret"], "id": "c"},
            ]
        )
        replies = {reply["id"]: reply for reply in await peer.ws.receive_json_from()}
        assert replies["a"]["result"] == {"topic": "news", "subscribed": True}
        assert replies["b"]["result"] == {"topic": "chat.lobby", "subscribed": True}
        assert replies["c"]["error"]["code"] == -32003
        await peer.result("rpc.publish", ["chat.lobby", 1])
        await peer.result("rpc.publish", ["news", 2])
        assert [await peer.notification(), await peer.notification()] == [event("chat.lobby", 1), event("news", 2)]


async def test_events_keep_their_publish_order(topics: None) -> None:
    async with connected() as listener, connected() as speaker:
        await subscribe(listener, "news")
        for i in range(50):
            await speaker.result("rpc.publish", ["news", i])
        received = [(await listener.notification())["params"]["data"] for _ in range(50)]
    assert received == list(range(50))


async def test_pipelined_publishes_keep_their_order(topics: None) -> None:
    # The speaker sends them all without waiting for a reply (as many as
    # MAX_IN_FLIGHT allows): the first ones wait for the permission rows, the
    # later ones could be answered from the cache.
    async with connected() as listener, connected() as speaker:
        await subscribe(listener, "news")
        for i in range(16):
            await speaker.ws.send_json_to({"jsonrpc": "2.0", "method": "rpc.publish", "params": ["news", i], "id": i})
        received = [(await listener.notification())["params"]["data"] for _ in range(16)]
    assert received == list(range(16))


# Refusals -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "params", "reason"),
    [
        ("rpc.subscribe", ["chat..lobby"], "empty segment (two dots in a row, or a dot at an end)"),
        ("rpc.subscribe", {"topic": "chat.lob by"}, "segment 'lob by' may hold only letters, digits, '-' and '_'"),
        ("rpc.subscribe", {"topic": ""}, "a topic cannot be empty"),
        ("rpc.subscribe", {"topic": "x" * 201}, "a topic has at most 200 characters"),
        ("rpc.unsubscribe", ["chat."], "empty segment (two dots in a row, or a dot at an end)"),
        ("rpc.publish", ["chat.*", 1], "wildcard '*' is not allowed here: publish to a concrete topic"),
        ("rpc.publish", {"topic": "chat.#"}, "wildcard '#' is not allowed here: publish to a concrete topic"),
        ("rpc.publish", {"topic": "news!", "data": 1}, "segment 'news!' may hold only letters, digits, '-' and '_'"),
    ],
)
async def test_invalid_names_are_no_such_topic(topics: None, method: str, params: Any, reason: str) -> None:
    async with connected() as peer:
        error = await peer.error(method, params)
    assert error["code"] == -32004
    assert error["data"]["reason"].startswith(reason)


@pytest.mark.parametrize("params", [[42], {"topic": None}, {"topic": ["news"]}, [True]])
async def test_a_topic_that_is_not_a_string_is_invalid_params(topics: None, params: Any) -> None:
    async with connected() as peer:
        error = await peer.error("rpc.subscribe", params)
    assert error["code"] == -32602
    assert error["data"]["errors"][0]["param"] == "topic"


async def test_missing_topic_is_invalid_params(topics: None) -> None:
    async with connected() as peer:
        assert (await peer.error("rpc.subscribe", {}))["code"] == -32602
        assert (await peer.error("rpc.publish", {"data": 1}))["code"] == -32602


async def test_forbidden_topics_are_permission_denied(topics: None) -> None:
    async with connected() as peer, connected(await sync_to_async(User.objects.create_superuser)("root")) as root:
        await subscribe(root, "secret")
        error = await peer.error("rpc.subscribe", ["secret"])
        assert error["code"] == -32003
        assert error["data"] == {"topic": "secret", "action": "subscribe"}
        error = await peer.error("rpc.publish", ["secret", "x"])
        assert error["code"] == -32003
        assert error["data"] == {"topic": "secret", "action": "publish"}
        error = await peer.error("rpc.publish", ["unlisted", 1])  # no row: the deny policy
        assert error["code"] == -32003
        assert error["data"] == {"topic": "unlisted", "action": "publish"}
        # A refused publish sends nothing.
        assert await root.nothing_more()


async def test_max_subscriptions(topics: None) -> None:
    with override_settings(WSRPC=wsrpc(MAX_SUBSCRIPTIONS=2)):
        async with connected() as peer:
            await subscribe(peer, "chat.a")
            await subscribe(peer, "chat.b")
            error = await peer.error("rpc.subscribe", ["chat.c"])
            assert error["code"] == -32029
            assert error["data"] == {"max_subscriptions": 2}
            await subscribe(peer, "chat.b")  # already there: no room needed
            await peer.result("rpc.unsubscribe", ["chat.a"])
            await subscribe(peer, "chat.c")
            await peer.result("rpc.publish", ["chat.c", 1])
            assert await peer.notification() == event("chat.c", 1)


async def test_publish_rate(topics: None) -> None:
    with override_settings(WSRPC=wsrpc(PUBLISH_RATE=2)):
        async with connected() as peer, connected() as other:
            await subscribe(peer, "news")  # loads the rules: the publishes below take no thread hop
            replies = [await peer.call("rpc.publish", ["news", i]) for i in range(4)]
            # Another connection has its own budget.
            assert await other.result("rpc.publish", ["news", "other"]) == {"topic": "news"}
            codes = [reply.get("error", {}).get("code") for reply in replies]
            assert codes == [None, None, -32029, -32029]
            assert replies[2]["error"]["data"] == {"publish_rate": 2}
            received = [(await peer.notification())["params"]["data"] for _ in range(3)]
            assert received == [0, 1, "other"]
            assert await peer.nothing_more()
            await asyncio.sleep(0.6)  # a token comes back every 1/2 s
            assert await peer.result("rpc.publish", ["news", "later"]) == {"topic": "news"}


# Lifecycle ----------------------------------------------------------------------


async def test_disconnect_removes_the_subscriptions_from_the_hub(topics: None) -> None:
    user = await sync_to_async(User.objects.create_user)("alice")
    async with connected(user) as peer:
        for name in ("chat.lobby", "chat.#", "#.x", "news"):
            await peer.call("rpc.subscribe", [name])
        hub = current_hub()
        assert hub is not None
        assert hub.routes.topics != {}
        assert hub.routes.users != {}
        channel = hub.channel
    assert hub.routes.topics == {}
    assert hub.routes.users == {}
    layer_groups = {group for group, members in hub.layer.groups.items() if channel in members}
    assert layer_groups == {"wsrpc.control", hub.group}  # the process's own groups stay


async def test_one_connection_leaving_keeps_the_others_subscribed(topics: None) -> None:
    async with connected() as staying:
        await subscribe(staying, "news")
        async with connected() as leaving:
            await subscribe(leaving, "news")
        await staying.result("rpc.publish", ["news", 1])
        assert await staying.notification() == event("news", 1)


# Revocation -----------------------------------------------------------------------


def revoked(name: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": "rpc.unsubscribed", "params": {"topic": name, "reason": "permission revoked"}}


async def test_changing_a_topic_row_ends_the_subscriptions_it_granted(topics: None) -> None:
    async with connected() as peer:
        await subscribe(peer, "chat.lobby")
        await subscribe(peer, "chat.#")
        await subscribe(peer, "news")
        row = await Topic.objects.aget(name="chat.#")
        row.anonymous_subscribe = False
        await row.asave()
        notices = [await peer.notification(), await peer.notification()]
        assert sorted(notices, key=str) == sorted([revoked("chat.lobby"), revoked("chat.#")], key=str)
        await wsrpc_app.apublish("chat.lobby", 1)
        await wsrpc_app.apublish("news", 2)
        assert await peer.notification() == event("news", 2)
        assert await peer.nothing_more()
        # The server forgot them: unsubscribing answers as for a topic never subscribed.
        assert await peer.result("rpc.unsubscribe", ["chat.#"]) == {"topic": "chat.#", "subscribed": False}


async def test_deleting_a_grant_ends_that_users_subscriptions_only(topics: None) -> None:
    alice = await sync_to_async(User.objects.create_user)("alice")
    bob = await sync_to_async(User.objects.create_user)("bob")
    team = await sync_to_async(make_topic)("team.#")
    await sync_to_async(grant)(team, user=alice, subscribe=True)
    await sync_to_async(grant)(team, user=bob, subscribe=True)
    async with connected(alice) as alice_peer, connected(bob) as bob_peer:
        await subscribe(alice_peer, "team.#")
        await subscribe(bob_peer, "team.#")
        await subscribe(alice_peer, "news")
        await TopicPermission.objects.filter(user=alice).adelete()
        assert await alice_peer.notification() == revoked("team.#")
        await wsrpc_app.apublish("team.x", "t")
        await wsrpc_app.apublish("news", "n")
        assert await bob_peer.notification() == event("team.x", "t", subscription="team.#")
        assert await alice_peer.notification() == event("news", "n")
        assert await alice_peer.nothing_more()
        assert await bob_peer.nothing_more()


async def test_a_user_made_inactive_loses_their_grants(topics: None) -> None:
    alice = await sync_to_async(User.objects.create_user)("alice")
    team = await sync_to_async(make_topic)("team.#")
    await sync_to_async(grant)(team, user=alice, subscribe=True)
    # Deactivation also closes the connection (DISCONNECT_ON, tests/server/test_revocation.py): not here.
    with override_settings(WSRPC=wsrpc(DISCONNECT_ON=[])):
        await _loses_grants_when_inactive(alice)


async def _loses_grants_when_inactive(alice: Any) -> None:
    async with connected(alice) as peer:
        await subscribe(peer, "team.x")
        user = await User.objects.aget(pk=alice.pk)
        user.is_active = False
        await user.asave()
        assert await peer.notification() == revoked("team.x")
        await wsrpc_app.apublish("team.x", 1)
        assert await peer.nothing_more()


async def test_a_change_that_keeps_the_grant_ends_nothing(topics: None) -> None:
    async with connected() as peer:
        await subscribe(peer, "news")
        row = await Topic.objects.aget(name="news")
        row.description = "still open"
        await row.asave()
        await asyncio.sleep(0.2)  # the broadcast is handled
        await wsrpc_app.apublish("news", 1)
        assert await peer.notification() == event("news", 1)
        assert await peer.nothing_more()


# Server-side publishing and notifying --------------------------------------------


async def test_apublish_from_server_code(topics: None) -> None:
    async with connected() as peer:
        await subscribe(peer, "chat.#")
        await wsrpc_app.apublish("chat.x.y", {"from": "server"})
        assert await peer.notification() == event("chat.x.y", {"from": "server"}, subscription="chat.#")


async def test_apublish_ignores_permissions(topics: None) -> None:
    async with connected(await sync_to_async(User.objects.create_superuser)("root")) as peer:
        await subscribe(peer, "secret")
        await wsrpc_app.apublish("secret", 1)
        assert await peer.notification() == event("secret", 1)


async def test_apublish_refuses_an_invalid_topic() -> None:
    with pytest.raises(NoSuchTopic) as caught:
        await wsrpc_app.apublish("chat.*", 1)
    assert caught.value.code == -32004


async def test_publish_from_a_sync_context(topics: None) -> None:
    async with connected() as peer:
        await subscribe(peer, "news")
        # As a sync view or a sync RPC method would: in a worker thread.
        await sync_to_async(wsrpc_app.publish)("news", "from sync")
        assert await peer.notification() == event("news", "from sync")


async def test_publish_from_a_sync_context_names_its_thread(topics: None) -> None:
    threads: list[str] = []

    def in_a_view() -> None:
        threads.append(threading.current_thread().name)
        wsrpc_app.publish("news", threads[0])

    async with connected() as peer:
        await subscribe(peer, "news")
        await sync_to_async(in_a_view, thread_sensitive=False)()
        assert threads[0] != threading.main_thread().name
        assert await peer.notification() == event("news", threads[0])


@dataclasses.dataclass
class Reading:
    sensor: str
    value: decimal.Decimal
    at: datetime.datetime


async def test_publish_encodes_python_values(topics: None) -> None:
    at = datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.UTC)
    async with connected() as peer:
        await subscribe(peer, "news")
        await wsrpc_app.apublish(
            "news",
            {
                "when": at,
                "day": datetime.date(2024, 5, 6),
                "price": decimal.Decimal("1.10"),
                "reading": Reading("kitchen", decimal.Decimal("21.5"), at),
                "tags": ("a", "b"),
            },
        )
        assert await peer.notification() == event(
            "news",
            {
                "when": "2024-05-06T07:08:09+00:00",
                "day": "2024-05-06",
                "price": "1.10",
                "reading": {"sensor": "kitchen", "value": "21.5", "at": "2024-05-06T07:08:09+00:00"},
                "tags": ["a", "b"],
            },
        )


async def test_publishing_what_json_cannot_carry_fails_the_caller(topics: None) -> None:
    async with connected() as peer:
        await subscribe(peer, "news")
        with pytest.raises(TypeError):
            await wsrpc_app.apublish("news", object())
        with pytest.raises(TypeError):
            await wsrpc_app.apublish("news", decimal.Decimal("NaN"))
        assert await peer.nothing_more()


async def test_notify_user_reaches_every_connection_of_that_user_only() -> None:
    alice = await sync_to_async(User.objects.create_user)("alice")
    bob = await sync_to_async(User.objects.create_user)("bob")
    async with connected(alice) as first, connected(alice) as second, connected(bob) as other, connected() as anon:
        await wsrpc_app.anotify_user(alice, "inbox.new", {"count": 3})
        expected = {"jsonrpc": "2.0", "method": "inbox.new", "params": [{"count": 3}]}
        assert await first.notification() == expected
        assert await second.notification() == expected
        await wsrpc_app.anotify_user(bob.pk, "ping")  # a primary key works too
        assert await other.notification() == {"jsonrpc": "2.0", "method": "ping"}
        await sync_to_async(wsrpc_app.notify_user)(alice, "inbox.read", count=0)
        expected = {"jsonrpc": "2.0", "method": "inbox.read", "params": {"count": 0}}
        assert await first.notification() == expected
        assert await second.notification() == expected
        assert await first.nothing_more()
        assert await second.nothing_more()
        assert await other.nothing_more()
        assert await anon.nothing_more()


async def test_notify_user_after_the_connection_left() -> None:
    alice = await sync_to_async(User.objects.create_user)("alice")
    async with connected(alice) as staying:
        async with connected(alice):
            pass
        await wsrpc_app.anotify_user(alice, "still.here")
        assert await staying.notification() == {"jsonrpc": "2.0", "method": "still.here"}
    hub = current_hub()
    assert hub is not None
    assert hub.routes.users == {}
