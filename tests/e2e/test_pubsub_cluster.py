"""Pub/sub across server processes: a daphne and a uvicorn process on one database and one Redis.

Every test runs on both Redis channel layers (RedisChannelLayer and
RedisPubSubChannelLayer). The pair of servers of a layer serves the whole
module; each run uses Redis keys of its own (``WSRPC_TEST_LAYER_PREFIX``).
Process ``a`` is daphne, ``b`` is uvicorn; "another process" is a plain
Python script or a ``manage.py`` command on the same settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from tests.support.servers import ServerProcess

from .cluster import LAYERS, Cluster
from .http_session import HttpSession
from .wire import REPLY_TIMEOUT, call, loads, open_socket, recv_json

pytestmark = pytest.mark.e2e

PASSWORD = "cluster-e2e-password"
OUTBOUND_QUEUE = 50

#: Users and topics every cluster starts with, besides the demo's chat.lobby and news.
SETUP = f"""
from django.contrib.auth.models import Group, User
from wsrpc_app.models import Topic, TopicPermission

User.objects.create_superuser("root", "root@example.com", {PASSWORD!r})
editor = User.objects.create_user("editor", password={PASSWORD!r}, is_staff=True)
staff = Group.objects.get(name="staff")
editor.groups.add(staff)
Topic.objects.create(name="chat.#", anonymous_subscribe=True, anonymous_publish=True)
Topic.objects.create(name="sensors.*.temp", anonymous_subscribe=True)
Topic.objects.create(name="revoke.me", anonymous_subscribe=True, anonymous_publish=True)
staff_only = Topic.objects.create(name="staff.only")
TopicPermission.objects.create(topic=staff_only, group=staff, can_subscribe=True, can_publish=True)
"""


@pytest.fixture(scope="session")
def layer_prefix() -> str:
    """A Redis key prefix no other test run uses."""
    return f"wsrpc-e2e-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module", params=LAYERS)
def cluster(request: pytest.FixtureRequest, redis_url: str, layer_prefix: str) -> Iterator[Cluster]:
    """Daphne and uvicorn on one database and one Redis layer, with the users and topics of ``SETUP``.

    Each connection may have at most ``OUTBOUND_QUEUE`` frames waiting to be
    written: little enough for a client that stops reading to be found out
    quickly, and plenty for every client that reads.
    """
    layer: str = request.param
    env = {"WSRPC_TEST_OUTBOUND_QUEUE": str(OUTBOUND_QUEUE)}
    with Cluster(layer, prefix=f"{layer_prefix}-{layer}", redis_url=redis_url, env=env) as started:
        started.python(SETUP)
        yield started


@pytest.fixture(scope="module")
def editor_token(cluster: Cluster) -> str:
    """A DRF token of the user "editor" (in the group "staff"), made the way an operator would."""
    output = cluster.manage("drf_create_token", "editor")
    token = re.search(r"Generated token (\w+) for user editor", output)
    assert token, output
    return token[1]


# Speaking pub/sub on the wire -------------------------------------------------


async def subscribe(ws: ClientConnection, topic: str) -> None:
    reply = await call(ws, {"jsonrpc": "2.0", "method": "rpc.subscribe", "params": {"topic": topic}, "id": "sub"})
    assert reply["id"] == "sub" and reply["result"]["topic"] == topic, reply


async def publish(ws: ClientConnection, topic: str, data: Any) -> dict[str, Any]:
    """rpc.publish; the whole reply (a result or an error)."""
    reply: dict[str, Any] = await call(
        ws, {"jsonrpc": "2.0", "method": "rpc.publish", "params": {"topic": topic, "data": data}, "id": "pub"}
    )
    assert reply["id"] == "pub", reply
    return reply


async def published(ws: ClientConnection, topic: str, data: Any) -> None:
    reply = await publish(ws, topic, data)
    assert reply.get("result", {}).get("topic") == topic, reply


def event_of(frame: Any) -> tuple[str, Any, str | None]:
    """(topic, data, subscription) of an ``rpc.event`` notification; fails for anything else."""
    assert isinstance(frame, dict) and frame.get("method") == "rpc.event", frame
    assert frame["jsonrpc"] == "2.0" and "id" not in frame, frame
    params = frame["params"]
    return params["topic"], params["data"], params.get("subscription")


async def next_event(ws: ClientConnection, within: float = REPLY_TIMEOUT) -> tuple[str, Any, str | None]:
    return event_of(await recv_json(ws, within))


async def events(ws: ClientConnection, count: int, within: float) -> list[tuple[str, Any, str | None]]:
    """The next ``count`` frames, each an event, all ``within`` seconds."""
    received: list[tuple[str, Any, str | None]] = []
    async with asyncio.timeout(within):
        while len(received) < count:
            received.append(event_of(loads(await ws.recv())))
    return received


def error_code(reply: dict[str, Any]) -> int:
    assert "error" in reply, reply
    code: int = reply["error"]["code"]
    return code


async def logged_in(server: ServerProcess, username: str) -> HttpSession:
    session = HttpSession()
    await asyncio.to_thread(session.login, server, username, PASSWORD)
    return session


# 1. One publish, three kinds of publisher ------------------------------------


async def test_rpc_publish_on_one_process_reaches_subscribers_on_both(cluster: Cluster) -> None:
    async with (
        open_socket(cluster.a) as on_a,
        open_socket(cluster.b) as on_b,
        open_socket(cluster.a) as publisher_a,
        open_socket(cluster.b) as publisher_b,
    ):
        for ws in (on_a, on_b):
            await subscribe(ws, "chat.lobby")

        await published(publisher_a, "chat.lobby", {"text": "from daphne", "n": [1, 2.5, None, "é"]})
        for ws in (on_a, on_b):
            assert await next_event(ws) == ("chat.lobby", {"text": "from daphne", "n": [1, 2.5, None, "é"]}, None)

        await published(publisher_b, "chat.lobby", "from uvicorn")
        for ws in (on_a, on_b):
            assert await next_event(ws) == ("chat.lobby", "from uvicorn", None)


async def test_a_plain_python_process_and_manage_py_publish_to_both(cluster: Cluster) -> None:
    async with open_socket(cluster.a) as on_a, open_socket(cluster.b) as on_b:
        for ws in (on_a, on_b):
            await subscribe(ws, "news")

        await asyncio.to_thread(
            cluster.python, "import wsrpc_app\nwsrpc_app.publish('news', {'from': 'a script', 'n': 1})"
        )
        for ws in (on_a, on_b):
            assert await next_event(ws) == ("news", {"from": "a script", "n": 1}, None)

        output = await asyncio.to_thread(cluster.manage, "wsrpc_publish", "news", '{"from": "manage.py", "n": 2}')
        assert "published to news" in output
        for ws in (on_a, on_b):
            assert await next_event(ws) == ("news", {"from": "manage.py", "n": 2}, None)


# 2. Many events, in order -----------------------------------------------------


async def test_a_thousand_events_arrive_complete_and_in_order_on_both_processes(cluster: Cluster) -> None:
    count = 1000
    async with (
        open_socket(cluster.a) as publisher,
        open_socket(cluster.a) as near,
        open_socket(cluster.b) as far,
        open_socket(cluster.b) as far_too,
    ):
        subscribers = (near, far, far_too)
        for ws in subscribers:
            await subscribe(ws, "chat.stream")
        readers = [asyncio.create_task(events(ws, count, within=60)) for ws in subscribers]

        # Each publish as soon as the previous one is answered: requests in
        # flight together run concurrently, so only this order is promised.
        for n in range(count):
            await published(publisher, "chat.stream", {"n": n})
        received = await asyncio.gather(*readers)

    for got in received:
        assert [data["n"] for _, data, _ in got] == list(range(count))
        assert {(topic, subscription) for topic, _, subscription in got} == {("chat.stream", None)}


# 3. Patterns ------------------------------------------------------------------


async def test_pattern_subscriptions_receive_matching_topics_published_on_the_other_process(cluster: Cluster) -> None:
    root = await logged_in(cluster.a, "root")
    as_root = {"additional_headers": {"Cookie": root.cookie_header()}}
    async with (
        open_socket(cluster.b) as patterns,
        open_socket(cluster.b, **as_root) as everything,
        open_socket(cluster.a, **as_root) as publisher,
    ):
        await subscribe(patterns, "chat.#")
        await subscribe(patterns, "sensors.*.temp")
        await subscribe(everything, "#")  # a superuser may subscribe to anything

        topics = [
            "chat.lobby",
            "chat.room.7",
            "chat",  # "#" matches zero segments too
            "sensors.kitchen.temp",
            "sensors.kitchen.humidity",
            "sensors.temp",
            "sensors.a.b.temp",
            "weather",
            "chatter.lobby",
            "chat.end",
        ]
        for n, topic in enumerate(topics):
            await published(publisher, topic, n)

        assert await events(patterns, 5, within=REPLY_TIMEOUT) == [
            ("chat.lobby", 0, "chat.#"),
            ("chat.room.7", 1, "chat.#"),
            ("chat", 2, "chat.#"),
            ("sensors.kitchen.temp", 3, "sensors.*.temp"),
            ("chat.end", 9, "chat.#"),
        ]
        assert await events(everything, len(topics), within=REPLY_TIMEOUT) == [
            (topic, n, "#") for n, topic in enumerate(topics)
        ]
        # Nothing else came: the next frame each receives is the answer to a ping.
        for ws in (patterns, everything):
            assert (await call(ws, {"jsonrpc": "2.0", "method": "rpc.ping", "id": 1}))["result"] == "pong"


# 4. Permissions ---------------------------------------------------------------


@pytest.mark.parametrize("side", ["a", "b"])
async def test_anonymous_permissions_in_brief(cluster: Cluster, side: str) -> None:
    async with open_socket(getattr(cluster, side)) as ws:
        for topic in ("secret.plans", "staff.only", "sensors.#"):  # no grant; a grant to staff; wider than granted
            reply = await call(
                ws, {"jsonrpc": "2.0", "method": "rpc.subscribe", "params": {"topic": topic}, "id": topic}
            )
            assert reply["id"] == topic and error_code(reply) == -32003, reply

        assert (await publish(ws, "chat.lobby", "hello"))["result"]["topic"] == "chat.lobby"
        assert error_code(await publish(ws, "news", "fake news")) == -32003
        assert error_code(await publish(ws, "staff.only", "nope")) == -32003


# 5. Revocation through the admin ---------------------------------------------


async def test_unticking_a_grant_in_the_admin_ends_the_subscription_on_the_other_process(cluster: Cluster) -> None:
    admin = await logged_in(cluster.a, "root")
    found = await asyncio.to_thread(admin.get, cluster.a, "/admin/wsrpc_app/topic/?q=revoke.me")
    links = set(re.findall(r'href="(/admin/wsrpc_app/topic/\d+/change/)', found.text))
    assert len(links) == 1, links
    change = links.pop()
    async with open_socket(cluster.b) as subscriber, open_socket(cluster.a) as publisher:
        await subscribe(subscriber, "revoke.me")
        await subscribe(subscriber, "chat.lobby")
        await published(publisher, "revoke.me", "before")
        assert await next_event(subscriber) == ("revoke.me", "before", None)

        form = await asyncio.to_thread(admin.form, cluster.a, change, "topic_form")
        assert form["name"] == "revoke.me" and form["anonymous_subscribe"] == "on"
        del form["anonymous_subscribe"]  # unticked
        saved = await asyncio.to_thread(admin.submit, cluster.a, change, form | {"_save": "Save"})
        assert saved.status == 302, "the admin did not save the topic"

        notice = await recv_json(subscriber)
        assert notice["method"] == "rpc.unsubscribed" and "id" not in notice, notice
        assert notice["params"]["topic"] == "revoke.me"
        assert isinstance(notice["params"]["reason"], str) and notice["params"]["reason"]

        # Publishing is still granted; the events no longer reach the subscriber,
        # while its other subscription goes on.
        await published(publisher, "revoke.me", "after")
        await published(publisher, "chat.lobby", "still here")
        assert await next_event(subscriber) == ("chat.lobby", "still here", None)
        reply = await call(
            subscriber, {"jsonrpc": "2.0", "method": "rpc.subscribe", "params": {"topic": "revoke.me"}, "id": 2}
        )
        assert error_code(reply) == -32003


# 6. Slow consumers ------------------------------------------------------------

#: Payload of one large event: random, so that no compression shrinks it.
BIG = 60_000


@contextlib.asynccontextmanager
async def not_reading(server: ServerProcess) -> AsyncIterator[ClientConnection]:
    """A connection that reads nothing once its caller stops calling recv().

    A tiny socket receive buffer, and a client that stops taking frames off
    the socket after one waits unread, so what the server sends piles up on
    the server's side.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((server.host, server.port))
    async with connect(
        server.ws_url,
        sock=sock,
        origin=Origin(server.origin),
        proxy=None,
        compression=None,
        max_queue=1,
        ping_interval=None,
        open_timeout=REPLY_TIMEOUT,
        close_timeout=2,
    ) as ws:
        yield ws


async def drain(ws: ClientConnection, within: float) -> tuple[list[Any], int | None]:
    """Read every frame until the connection closes; the frames and the close code received."""
    frames = []
    with contextlib.suppress(ConnectionClosed):
        async with asyncio.timeout(within):
            while True:
                frames.append(loads(await ws.recv()))
    return frames, ws.close_code


async def logs(server: ServerProcess, text: str, *, after: int, within: float) -> bool:
    """Whether ``server`` prints ``text`` past the first ``after`` characters of its output, ``within`` seconds."""
    deadline = time.monotonic() + within
    while text not in server.output()[after:]:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


async def test_a_client_that_stops_reading_is_closed_4008_and_others_keep_receiving(cluster: Cluster) -> None:
    """On uvicorn, which makes the application wait while a socket's buffers are full.

    Daphne (Twisted) buffers whatever the application sends, without limit:
    the application never waits on a write there, so its outbound queue
    never fills and a client that stops reading cannot be told from one
    that reads. That server holds the client's events in memory instead.
    """
    count = 300  # 18 MB: more than the socket buffers and OUTBOUND_QUEUE frames together
    server = cluster.b  # uvicorn
    logged = len(server.output())
    async with (
        not_reading(server) as slow,
        open_socket(server, compression=None) as fast,
        open_socket(cluster.a) as publisher,
    ):
        await subscribe(slow, "chat.bulk")
        await subscribe(fast, "chat.bulk")
        reader = asyncio.create_task(events(fast, count, within=60))
        for n in range(count):
            await published(publisher, "chat.bulk", {"n": n, "pad": os.urandom(BIG // 2).hex()})
        received = await reader
        assert [data["n"] for _, data, _ in received] == list(range(count))

        assert await logs(server, "closing a connection that does not read", after=logged, within=5), server.output()
        frames, code = await drain(slow, within=10)
    assert code == 4008
    got = [event_of(frame)[1]["n"] for frame in frames]
    assert got == list(range(len(got))), "the slow client's events are not the first ones, in order"
    assert len(got) < count


# 7. Group expiry ---------------------------------------------------------------


async def test_subscriptions_outlive_a_short_group_expiry(redis_url: str, layer_prefix: str) -> None:
    """RedisChannelLayer forgets group members after ``group_expiry``; the hub keeps renewing them."""
    with Cluster(
        "redis", prefix=f"{layer_prefix}-expiry", redis_url=redis_url, env={"WSRPC_TEST_GROUP_EXPIRY": "2"}
    ) as short:
        async with open_socket(short.b) as on_b, open_socket(short.a) as on_a, open_socket(short.a) as publisher:
            for ws in (on_a, on_b):
                await subscribe(ws, "chat.lobby")
            await asyncio.sleep(6)  # three times the expiry
            await published(publisher, "chat.lobby", "still listening?")
            for ws in (on_a, on_b):
                assert await next_event(ws) == ("chat.lobby", "still listening?", None)
        for server in short.servers:
            assert_logged_no_error(server)


# 8. Notifying a user -----------------------------------------------------------


async def test_notify_user_from_another_process_reaches_the_users_connection(cluster: Cluster) -> None:
    editor = await logged_in(cluster.a, "editor")  # the session cookie of the admin login
    async with (
        open_socket(cluster.b, additional_headers={"Cookie": editor.cookie_header()}) as mine,
        open_socket(cluster.b) as stranger,
    ):
        assert (await call(mine, {"jsonrpc": "2.0", "method": "who", "id": 1}))["result"] == "editor"
        script = (
            "from django.contrib.auth.models import User\n"
            "import wsrpc_app\n"
            "editor = User.objects.get(username='editor')\n"
            "wsrpc_app.notify_user(editor, 'hello', x=1)\n"
            "wsrpc_app.notify_user(editor.pk, 'hello', {'x': 2})\n"
        )
        await asyncio.to_thread(cluster.python, script)
        assert await recv_json(mine) == {"jsonrpc": "2.0", "method": "hello", "params": {"x": 1}}
        assert await recv_json(mine) == {"jsonrpc": "2.0", "method": "hello", "params": [{"x": 2}]}
        assert (await call(stranger, {"jsonrpc": "2.0", "method": "rpc.ping", "id": 1}))["result"] == "pong"


# 9. HTTP ------------------------------------------------------------------------


async def test_http_publish_with_a_token_reaches_the_other_process(cluster: Cluster, editor_token: str) -> None:
    as_editor = {"Authorization": f"Token {editor_token}"}
    http = HttpSession()  # no cookies: the token alone authenticates
    async with open_socket(cluster.b) as subscriber:
        await subscribe(subscriber, "news")

        reply = await asyncio.to_thread(
            http.post_json, cluster.a, "/wsrpc/publish/", {"topic": "news", "data": [1]}, headers=as_editor
        )
        assert (reply.status, reply.json()) == (200, {"topic": "news"})
        assert await next_event(subscriber) == ("news", [1], None)

        refused = [
            await asyncio.to_thread(
                http.post_json, cluster.a, "/wsrpc/publish/", {"topic": "secret.plans", "data": 2}, headers=as_editor
            ),
            await asyncio.to_thread(
                http.post_json, cluster.a, "/wsrpc/publish/", {"topic": "news", "data": 3}
            ),  # anonymous
        ]
        assert [page.status for page in refused] == [403, 403]

        reply = await asyncio.to_thread(
            http.post_json, cluster.a, "/wsrpc/publish/", {"topic": "news", "data": 4}, headers=as_editor
        )
        assert reply.status == 200
        assert await next_event(subscriber) == ("news", 4, None)  # and not 2 or 3


async def test_http_topics_lists_what_the_caller_may_do(cluster: Cluster, editor_token: str) -> None:
    http = HttpSession()

    def listing(page: Any) -> dict[str, tuple[bool, bool]]:
        assert page.status == 200, page
        return {entry["name"]: (entry["subscribe"], entry["publish"]) for entry in page.json()}

    anonymous = listing(await asyncio.to_thread(http.get, cluster.b, "/wsrpc/topics/"))
    editor = listing(
        await asyncio.to_thread(
            http.get, cluster.b, "/wsrpc/topics/", headers={"Authorization": f"Token {editor_token}"}
        )
    )
    assert anonymous["chat.lobby"] == editor["chat.lobby"] == (True, True)
    assert anonymous["news"] == (True, False)
    assert editor["news"] == (True, True)
    assert anonymous["sensors.*.temp"] == (True, False)  # a pattern: subscribe only
    assert "staff.only" not in anonymous
    assert editor["staff.only"] == (True, True)


# Last: what the servers said -------------------------------------------------------


def assert_logged_no_error(server: ServerProcess) -> None:
    output = server.output()
    assert "Traceback" not in output, f"{server!r} logged an error:\n{output}"


def test_the_servers_logged_no_errors(cluster: Cluster) -> None:
    for server in cluster.servers:
        assert_logged_no_error(server)
