"""Connections across server processes: ids, presence, join/leave, server-side control and calls.

A daphne process (``a``) and a uvicorn process (``b``) on one database and
one Redis, on each Redis channel layer, speaking raw frames; server code
runs in a third process (a plain Python script with Django set up), as a
Celery task or a management command would. Presence is kept
``PRESENCE_TTL`` seconds after a process was last heard of: 3 here, so a
process killed with SIGKILL must leave presence within that (and one
heartbeat more for the store's clock). A topic rule in code
(``tests.support.topic_rules.owner_only``) gives ``user.<pk>.#`` to its owner.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import signal
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as websocket_connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from tests.support.servers import ServerProcess

from .cluster import LAYERS, Cluster
from .http_session import HttpSession
from .wire import REPLY_TIMEOUT, loads, open_socket, send_json

pytestmark = pytest.mark.e2e

PASSWORD = "connections-e2e-password"
PRESENCE_TTL = 3.0

SETUP = f"""
from django.contrib.auth.models import User
from wsrpc_app.models import Topic

User.objects.create_superuser("root", "root@example.com", {PASSWORD!r})
User.objects.create_user("ann", password={PASSWORD!r}, is_staff=True)
User.objects.create_user("bob", password={PASSWORD!r}, is_staff=True)
Topic.objects.create(name="room.#", anonymous_subscribe=True, presence=True, join_leave=True)
Topic.objects.create(name="hidden.#", presence=True, join_leave=True)
Topic.objects.create(name="plain.#", anonymous_subscribe=True, anonymous_publish=True)
"""


@pytest.fixture(scope="session")
def run_id() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="module", params=LAYERS)
def cluster(request: pytest.FixtureRequest, redis_url: str, run_id: str) -> Iterator[Cluster]:
    layer: str = request.param
    env = {
        "WSRPC_TEST_PRESENCE_TTL": str(PRESENCE_TTL),
        "WSRPC_TEST_TOPIC_RULES": "tests.support.topic_rules.owner_only",
    }
    with Cluster(layer, prefix=f"wsrpc-e2e-conn-{run_id}-{layer}", redis_url=redis_url, env=env) as started:
        started.python(SETUP)
        yield started


def room(cluster: Cluster, name: str) -> str:
    """A topic of ``room.#`` no other test uses."""
    return f"room.{cluster.layer}.{name}.{uuid.uuid4().hex[:8]}"


# A client on the wire ---------------------------------------------------------------

#: How a client answers a call from the server: its result, or an error object to answer with.
Answer = Callable[[Any], Any]


class Client:
    """A raw WebSocket connection: its requests wait for their reply; it answers the server's calls
    with ``answers`` (none: it stays silent); other frames queue in ``frames``."""

    def __init__(self, ws: ClientConnection, answers: dict[str, Answer]) -> None:
        self.ws = ws
        self.answers = answers
        self.frames: asyncio.Queue[Any] = asyncio.Queue()
        self.replies: dict[str, asyncio.Future[Any]] = {}
        self.ids = itertools.count(1)
        self.id = ""
        self.closed: asyncio.Future[tuple[int | None, str | None]] = asyncio.get_running_loop().create_future()
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        try:
            async for text in self.ws:
                frame = loads(text)
                if "method" in frame and "id" in frame:
                    answer = self.answers.get(frame["method"])
                    if answer is not None:
                        outcome = answer(frame.get("params"))
                        key = "error" if isinstance(outcome, dict) and "code" in outcome else "result"
                        await send_json(self.ws, {"jsonrpc": "2.0", "id": frame["id"], key: outcome})
                elif "id" in frame and frame["id"] in self.replies:
                    self.replies.pop(frame["id"]).set_result(frame)
                else:
                    self.frames.put_nowait(frame)
        except ConnectionClosed:
            pass
        finally:
            received = self.ws.protocol.close_rcvd
            if not self.closed.done():
                self.closed.set_result((received.code, received.reason) if received else (None, None))

    async def request(self, method: str, params: Any = None) -> dict[str, Any]:
        id_ = f"c{next(self.ids)}"
        self.replies[id_] = asyncio.get_running_loop().create_future()
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": id_}
        if params is not None:
            message["params"] = params
        await send_json(self.ws, message)
        async with asyncio.timeout(REPLY_TIMEOUT):
            reply: dict[str, Any] = await self.replies[id_]
        return reply

    async def result(self, method: str, params: Any = None) -> Any:
        reply = await self.request(method, params)
        assert "result" in reply, reply
        return reply["result"]

    async def next_frame(self, within: float = REPLY_TIMEOUT) -> Any:
        async with asyncio.timeout(within):
            return await self.frames.get()

    async def subscribe(self, topic: str) -> None:
        assert (await self.result("rpc.subscribe", {"topic": topic}))["subscribed"] is True

    async def close_code(self, within: float = REPLY_TIMEOUT) -> tuple[int | None, str | None]:
        """The close frame's code and reason; daphne sends no reason (its serverClose takes none)."""
        async with asyncio.timeout(within):
            return await asyncio.shield(self.closed)

    async def still_open(self) -> bool:
        return bool(await self.result("rpc.ping") == "pong")


@contextlib.asynccontextmanager
async def client(
    server: ServerProcess,
    *,
    answers: dict[str, Answer] | None = None,
    path_info: dict[str, Any] | None = None,
    **connect: Any,
) -> AsyncIterator[Client]:
    """A connected client; ``path_info`` is what it declares about itself (``?info=``)."""
    opener = open_socket(server, **connect)
    if path_info is not None:
        url = server.ws_url + "?info=" + urllib.parse.quote(json.dumps(path_info))
        opener = websocket_connect(url, origin=Origin(server.origin), proxy=None, close_timeout=2, **connect)
    async with opener as ws:
        peer = Client(ws, answers or {})
        try:
            peer.id = (await peer.result("rpc.info"))["connection"]
            yield peer
        finally:
            peer.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await peer.reader


def token_of(cluster: Cluster, username: str) -> str:
    output = cluster.manage("drf_create_token", username)
    match = re.search(rf"Generated token (\w+) for user {username}", output)
    assert match, output
    return match[1]


def by_token(token: str) -> dict[str, Any]:
    return {"additional_headers": {"Authorization": f"Token {token}"}}


@pytest.fixture(scope="module")
def ann_token(cluster: Cluster) -> str:
    return token_of(cluster, "ann")


@pytest.fixture(scope="module")
def bob_token(cluster: Cluster) -> str:
    return token_of(cluster, "bob")


async def server_code(cluster: Cluster, code: str) -> Any:
    """Run ``code`` (setting ``result``) in a process of its own, as server code; ``result`` back as JSON.

    The test's clients go on reading and answering meanwhile.
    """
    script = f"""
import json
import wsrpc_app
from django.contrib.auth.models import User
from wsrpc_app.core.errors import PeerDisconnected, RpcError

def outcome(value):
    if isinstance(value, RpcError):
        return {{"error": value.to_object()}}
    if isinstance(value, BaseException):
        return {{"raised": type(value).__name__}}
    return {{"result": value}}

result = None
{code}
print("RESULT:" + json.dumps(result))
"""
    output = await asyncio.to_thread(cluster.python, script)
    return json.loads(output.split("RESULT:", 1)[1])


# Ids and presence ----------------------------------------------------------------------


async def test_connection_ids_are_unique_across_processes(cluster: Cluster) -> None:
    async with client(cluster.a) as one, client(cluster.b) as two, client(cluster.a) as three:
        ids = [one.id, two.id, three.id]
    assert len(set(ids)) == 3
    assert ids[0].split(".")[0] == ids[2].split(".")[0] != ids[1].split(".")[0], "the prefix names the process"


async def test_presence_lists_the_subscribers_of_both_processes(cluster: Cluster, ann_token: str) -> None:
    topic = room(cluster, "both")
    async with (
        client(cluster.a, **by_token(ann_token)) as ann,
        client(cluster.b) as anonymous,
        client(cluster.b, additional_headers={}) as watcher,
    ):
        await ann.subscribe(topic)
        await anonymous.subscribe(topic)
        for asker in (ann, watcher):  # on either process, subscribed or not
            answer = await asker.result("rpc.presence", {"topic": topic})
            assert answer == {
                "topic": topic,
                "clients": sorted(
                    [
                        {"connection": ann.id, "user": "ann", "user_id": answer_user_id(answer, ann.id)},
                        {"connection": anonymous.id, "user": None, "user_id": None},
                    ],
                    key=lambda client: str(client["connection"]),
                ),
            }
        assert await watcher.result("rpc.presence_stats", {"topic": topic}) == {
            "topic": topic,
            "connections": 2,
            "users": 1,
        }
        seen = await server_code(cluster, f"result = wsrpc_app.presence({topic!r})")
        assert sorted(client["connection"] for client in seen["clients"]) == sorted([ann.id, anonymous.id])
        await anonymous.result("rpc.unsubscribe", {"topic": topic})
        assert [c["connection"] for c in (await watcher.result("rpc.presence", [topic]))["clients"]] == [ann.id]
    stats = await server_code(cluster, f"result = wsrpc_app.presence_stats({topic!r})")
    assert stats == {"topic": topic, "connections": 0, "users": 0}


def answer_user_id(answer: dict[str, Any], connection: str) -> Any:
    [user_id] = [client["user_id"] for client in answer["clients"] if client["connection"] == connection]
    assert isinstance(user_id, int)
    return user_id


async def test_presence_refuses_who_may_not_subscribe_and_topics_without_it(cluster: Cluster) -> None:
    async with client(cluster.a) as peer:
        denied = await peer.request("rpc.presence", {"topic": "hidden.x"})
        assert denied["error"]["code"] == -32003
        without = await peer.request("rpc.presence_stats", {"topic": "plain.x"})
        assert without["error"] == {
            "code": -32004,
            "message": "The topic keeps no presence",
            "data": {"topic": "plain.x", "presence": False},
        }
        assert (await peer.request("rpc.presence", {"topic": "room.#"}))["error"]["code"] == -32004
        assert await peer.still_open()


async def test_join_and_leave_reach_subscribers_on_the_other_process_in_order(cluster: Cluster) -> None:
    topic = room(cluster, "joins")
    async with client(cluster.a) as stays:
        await stays.subscribe(topic)
        async with client(cluster.b) as comes:
            await comes.subscribe(topic)
            await comes.result("rpc.unsubscribe", {"topic": topic})
            await comes.subscribe(topic)
        frames = [await stays.next_frame() for _ in range(4)]
    assert [(f["method"], f["params"]["client"]["connection"]) for f in frames] == [
        ("rpc.join", comes.id),
        ("rpc.leave", comes.id),
        ("rpc.join", comes.id),
        ("rpc.leave", comes.id),  # it closed while subscribed
    ]
    assert all(f["params"]["topic"] == topic and f["params"]["client"]["user"] is None for f in frames)


async def test_a_killed_process_leaves_presence_within_the_presence_ttl(cluster: Cluster) -> None:
    topic = room(cluster, "killed")
    doomed = cluster.server("uvicorn")
    doomed.start()
    try:
        async with client(cluster.a) as watcher, contextlib.AsyncExitStack() as stack:
            # Never closed by the client: its server dies under it.
            victim = Client(await stack.enter_async_context(open_socket(doomed, close_timeout=0.1)), {})
            stack.callback(victim.reader.cancel)
            await watcher.subscribe(topic)
            victim.id = (await victim.result("rpc.info"))["connection"]
            await victim.subscribe(topic)
            assert (await watcher.next_frame())["method"] == "rpc.join"
            listed = await watcher.result("rpc.presence", {"topic": topic})
            assert victim.id in [client["connection"] for client in listed["clients"]]
            os.kill(doomed.pid, signal.SIGKILL)
            killed = time.monotonic()
            while True:
                listed = await watcher.result("rpc.presence", {"topic": topic})
                if victim.id not in [client["connection"] for client in listed["clients"]]:
                    break
                # The documented bound: PRESENCE_TTL after the last heartbeat, which came before the kill.
                assert time.monotonic() - killed < PRESENCE_TTL + 1.0, "the dead process is still present"
                await asyncio.sleep(0.2)
            assert [client["connection"] for client in listed["clients"]] == [watcher.id]
    finally:
        doomed.cleanup()


# Server-side control ------------------------------------------------------------------------


async def test_disconnect_user_closes_their_sockets_on_both_processes(
    cluster: Cluster, ann_token: str, bob_token: str
) -> None:
    async with (
        client(cluster.a, **by_token(ann_token)) as ann_a,
        client(cluster.b, **by_token(ann_token)) as ann_b,
        client(cluster.b, **by_token(bob_token)) as bob,
        client(cluster.a) as anonymous,
    ):
        await server_code(cluster, "wsrpc_app.disconnect_user(User.objects.get(username='ann'), reason='banned')")
        assert await ann_a.close_code() == (4003, "")  # daphne
        assert await ann_b.close_code() == (4003, "banned")  # uvicorn
        assert await bob.still_open() and await anonymous.still_open()


async def test_disconnect_connection_closes_one_on_the_other_process(cluster: Cluster, ann_token: str) -> None:
    async with client(cluster.b, **by_token(ann_token)) as one, client(cluster.a, **by_token(ann_token)) as two:
        await server_code(cluster, f"wsrpc_app.disconnect_connection({one.id!r})")
        assert await one.close_code() == (4003, "disconnected by the server")
        assert await two.still_open()


async def test_logout_in_the_admin_closes_that_sessions_sockets_and_no_others(cluster: Cluster, bob_token: str) -> None:
    leaving, staying = HttpSession(), HttpSession()
    await asyncio.to_thread(leaving.login, cluster.a, "ann", PASSWORD)
    await asyncio.to_thread(staying.login, cluster.b, "ann", PASSWORD)

    def cookies(session: HttpSession) -> dict[str, Any]:
        return {"additional_headers": {"Cookie": session.cookie_header()}}

    async with (
        client(cluster.a, **cookies(leaving)) as leaving_a,
        client(cluster.b, **cookies(leaving)) as leaving_b,
        client(cluster.b, **cookies(staying)) as staying_b,
        client(cluster.a, **by_token(bob_token)) as bob,
    ):
        assert (await leaving_a.result("rpc.info"))["user"] == "ann"
        page = await asyncio.to_thread(
            leaving.request,
            cluster.a,
            "/admin/logout/",
            method="POST",
            data=b"",
            headers={"X-CSRFToken": leaving.cookie("csrftoken")},
        )
        assert page.status == 200, page.text
        assert (await leaving_a.close_code())[0] == 4003
        assert await leaving_b.close_code() == (4003, "logged out")
        assert await staying_b.still_open() and await bob.still_open()


async def test_subscribe_user_reaches_their_connections_on_both_processes(cluster: Cluster, ann_token: str) -> None:
    topic = f"plain.{cluster.layer}.{uuid.uuid4().hex[:8]}"
    async with client(cluster.a, **by_token(ann_token)) as on_a, client(cluster.b, **by_token(ann_token)) as on_b:
        await server_code(cluster, f"wsrpc_app.subscribe_user(User.objects.get(username='ann'), {topic!r})")
        for peer in (on_a, on_b):
            assert (await peer.next_frame())["method"] == "rpc.subscribed"
        await server_code(cluster, f"wsrpc_app.publish({topic!r}, 'hello')")
        for peer in (on_a, on_b):
            assert (await peer.next_frame())["params"] == {"topic": topic, "data": "hello"}
        await server_code(cluster, f"wsrpc_app.unsubscribe_user(User.objects.get(username='ann').pk, {topic!r})")
        for peer in (on_a, on_b):
            assert (await peer.next_frame())["method"] == "rpc.unsubscribed"


async def test_call_user_gathers_each_connections_outcome_across_processes(cluster: Cluster, ann_token: str) -> None:
    def refuse(params: Any) -> Any:
        return {"code": 4001, "message": "Not now"}

    async with (
        client(cluster.a, answers={"confirm": lambda params: {"ok": params}}, **by_token(ann_token)) as answers,
        client(cluster.b, answers={"confirm": refuse}, **by_token(ann_token)) as refuses,
        client(cluster.b, **by_token(ann_token)) as silent,
    ):
        outcomes = await server_code(
            cluster,
            "outcomes = wsrpc_app.call_user(User.objects.get(username='ann'), 'confirm', 'sure?', timeout=1.5)\n"
            "result = {connection: outcome(value) for connection, value in outcomes.items()}",
        )
    assert outcomes == {
        answers.id: {"result": {"ok": ["sure?"]}},
        refuses.id: {"error": {"code": 4001, "message": "Not now"}},
        silent.id: {"raised": "TimeoutError"},
    }


async def test_call_connection_across_processes(cluster: Cluster) -> None:
    async with client(cluster.b, answers={"add": lambda params: sum(params)}) as peer:
        assert await server_code(cluster, f"result = wsrpc_app.call_connection({peer.id!r}, 'add', 1, 2)") == 3
        gone = peer.id
    code = f"""
try:
    wsrpc_app.call_connection({gone!r}, 'add', 1, 2, timeout=3)
except Exception as exc:
    result = outcome(exc)
"""
    assert await server_code(cluster, code) == {"raised": "PeerDisconnected"}


# Topic rules in code -----------------------------------------------------------------------


async def test_a_rule_gives_user_pk_topics_to_their_owner_only(
    cluster: Cluster, ann_token: str, bob_token: str
) -> None:
    async with client(cluster.a, **by_token(ann_token)) as ann, client(cluster.b, **by_token(bob_token)) as bob:
        ann_pk = (await ann.result("rpc.info"))["user_id"]
        inbox = f"user.{ann_pk}.inbox"
        await ann.subscribe(inbox)
        denied = await bob.request("rpc.subscribe", {"topic": inbox})
        assert denied["error"] == {
            "code": -32003,
            "message": "Permission denied",
            "data": {"topic": inbox, "action": "subscribe"},
        }
        assert (await bob.request("rpc.subscribe", {"topic": "user.*.inbox"}))["error"]["code"] == -32003
        assert (await bob.request("rpc.publish", {"topic": inbox, "data": "spam"}))["error"]["code"] == -32003
        assert (await ann.result("rpc.publish", {"topic": inbox, "data": "note to self"}))["topic"] == inbox
        assert (await ann.next_frame())["params"] == {"topic": inbox, "data": "note to self"}


# The admin page of live connections -----------------------------------------------------------


async def test_the_admin_lists_the_connections_of_both_processes_and_disconnects_one(
    cluster: Cluster, ann_token: str
) -> None:
    admin = HttpSession()
    await asyncio.to_thread(admin.login, cluster.b, "root", PASSWORD)
    topic = room(cluster, "admin")
    async with (
        client(cluster.a, **by_token(ann_token)) as ann,
        client(cluster.b, path_info={"device": "tablet"}) as anonymous,
    ):
        await ann.subscribe(topic)
        page = await asyncio.to_thread(admin.get, cluster.b, "/admin/wsrpc_app/topic/connections/")
        assert page.status == 200, page.text
        rows = dict(re.findall(r'<tr class="wsrpc-connection" data-connection="([^"]+)">(.*?)</tr>', page.text, re.S))
        assert ann.id in rows and anonymous.id in rows, "connections of both processes"
        assert "ann" in rows[ann.id] and topic in rows[ann.id]
        assert "anonymous" in rows[anonymous.id] and "tablet" in rows[anonymous.id]
        changelist = await asyncio.to_thread(admin.get, cluster.a, "/admin/wsrpc_app/topic/")
        assert "/admin/wsrpc_app/topic/connections/" in changelist.text
        reply = await asyncio.to_thread(
            admin.submit,
            cluster.b,
            "/admin/wsrpc_app/topic/connections/",
            {"connection": ann.id, "csrfmiddlewaretoken": admin.cookie("csrftoken")},
        )
        assert reply.status == 302
        assert (await ann.close_code())[0] == 4003
        assert await anonymous.still_open()
        bad = await asyncio.to_thread(
            admin.submit,
            cluster.b,
            "/admin/wsrpc_app/topic/connections/",
            {"connection": "../../etc", "csrfmiddlewaretoken": admin.cookie("csrftoken")},
        )
        assert bad.status == 302 and await anonymous.still_open()


async def test_the_admin_page_is_for_staff_who_may_view_topics(cluster: Cluster) -> None:
    nobody, ann = HttpSession(), HttpSession()
    page = await asyncio.to_thread(nobody.get, cluster.a, "/admin/wsrpc_app/topic/connections/")
    assert page.status == 302 and "/admin/login/" in page.headers["Location"]
    await asyncio.to_thread(ann.login, cluster.a, "ann", PASSWORD)  # staff, without the topic permissions
    assert (await asyncio.to_thread(ann.get, cluster.a, "/admin/wsrpc_app/topic/connections/")).status == 403


# The Python client ------------------------------------------------------------------------------


async def test_the_python_client_declares_info_lists_presence_and_hears_joins(cluster: Cluster) -> None:
    from wsrpc_app.client import RpcError, WsRpcClient

    topic = room(cluster, "python")
    heard: list[tuple[str, str, str]] = []
    joined = asyncio.Event()

    def on_join(topic: str, client: dict[str, Any]) -> None:
        heard.append(("join", topic, client["connection"]))
        joined.set()

    def on_leave(topic: str, client: dict[str, Any]) -> None:
        heard.append(("leave", topic, client["connection"]))
        joined.set()

    options: dict[str, Any] = {"proxy": None, "origin": Origin(cluster.a.origin)}
    async with WsRpcClient(
        cluster.a.ws_url, info={"device": "laptop"}, on_join=on_join, on_leave=on_leave, **options
    ) as first:
        me = await first.info()
        assert me["info"] == {"device": "laptop"} and me["user"] is None
        await first.subscribe(topic, lambda data, event: None)
        async with WsRpcClient(cluster.b.ws_url, proxy=None, origin=Origin(cluster.b.origin)) as second:
            await second.subscribe(topic, lambda data, event: None)
            other = (await second.info())["connection"]
            async with asyncio.timeout(REPLY_TIMEOUT):
                await joined.wait()
            joined.clear()
            listed = await second.presence(topic)
            assert {client["connection"]: client.get("info") for client in listed} == {
                me["connection"]: {"device": "laptop"},
                other: None,
            }
            assert await first.presence_stats(topic) == {"topic": topic, "connections": 2, "users": 0}
            with pytest.raises(RpcError) as denied:
                await first.presence("hidden.x")
            assert denied.value.code == -32003
        async with asyncio.timeout(REPLY_TIMEOUT):
            await joined.wait()
    assert heard == [("join", topic, other), ("leave", topic, other)]


async def test_the_python_client_hears_that_server_code_subscribed_it(cluster: Cluster, ann_token: str) -> None:
    from wsrpc_app.client import WsRpcClient

    topic = f"plain.{cluster.layer}.{uuid.uuid4().hex[:8]}"
    told: asyncio.Queue[str] = asyncio.Queue()
    got: asyncio.Queue[Any] = asyncio.Queue()
    async with WsRpcClient(
        cluster.b.ws_url,
        headers={"Authorization": f"Token {ann_token}"},
        on_subscribed=told.put_nowait,
        proxy=None,
        origin=Origin(cluster.b.origin),
    ) as ann:
        await server_code(cluster, f"wsrpc_app.subscribe_user(User.objects.get(username='ann'), {topic!r})")
        async with asyncio.timeout(REPLY_TIMEOUT):
            assert await told.get() == topic
        await ann.subscribe(topic, lambda data, event: got.put_nowait(data))
        await server_code(cluster, f"wsrpc_app.publish({topic!r}, 'for ann')")
        async with asyncio.timeout(REPLY_TIMEOUT):
            assert await got.get() == "for ann"


# Hostile clients leave nothing behind ----------------------------------------------------------


async def stats(peer: Client) -> dict[str, int]:
    result: dict[str, int] = await peer.result("server_stats")
    return result


async def test_connections_that_vanish_leave_no_id_entry_or_call_behind(cluster: Cluster) -> None:
    topic = room(cluster, "vanish")
    async with client(cluster.b) as observer:
        await observer.subscribe(topic)
        before = await stats(observer)
        doomed: list[Client] = []
        async with contextlib.AsyncExitStack() as stack:
            for _ in range(10):
                peer = await stack.enter_async_context(client(cluster.b, close_timeout=0.1))
                await peer.subscribe(topic)
                doomed.append(peer)
            for _ in range(10):
                assert (await observer.next_frame())["method"] == "rpc.join"
            # One is asked something by server code, and goes away without answering.
            asked = asyncio.ensure_future(
                server_code(
                    cluster,
                    f"try:\n    wsrpc_app.call_connection({doomed[0].id!r}, 'never', timeout=10)\n"
                    "except Exception as exc:\n    result = outcome(exc)",
                )
            )
            await asyncio.sleep(1.0)
            for peer in doomed:
                peer.ws.transport.abort()  # no close frame: the TCP connection just ends
            assert await asked == {"raised": "PeerDisconnected"}
        leaves = {(await observer.next_frame())["params"]["client"]["connection"] for _ in range(10)}
        assert leaves == {peer.id for peer in doomed}
        after = await stats(observer)
        for key in ("connections", "presence_entries", "pending_calls", "routes", "user_routes"):
            assert after[key] == before[key], (key, before, after)
        assert [c["connection"] for c in (await observer.result("rpc.presence", [topic]))["clients"]] == [observer.id]


async def test_call_user_does_not_wait_for_a_process_without_their_connections(
    cluster: Cluster, ann_token: str
) -> None:
    """Process b has none of ann's connections: it says so, and the call ends with a's answer, not its timeout."""
    async with client(cluster.a, answers={"confirm": lambda params: "yes"}, **by_token(ann_token)) as only:
        async with asyncio.timeout(40):
            outcomes = await server_code(
                cluster,
                "outcomes = wsrpc_app.call_user(User.objects.get(username='ann'), 'confirm', timeout=120)\n"
                "result = {connection: outcome(value) for connection, value in outcomes.items()}",
            )
    assert outcomes == {only.id: {"result": "yes"}}


async def test_presence_comes_back_after_redis_lost_it(cluster: Cluster, redis_url: str) -> None:
    """Redis restarted empty (here: this cluster's presence keys deleted): each process writes its entries again."""
    from redis.asyncio import Redis

    topic = room(cluster, "lost")
    prefix = cluster.env["WSRPC_TEST_LAYER_PREFIX"]
    async with client(cluster.a) as on_a, client(cluster.b) as on_b:
        await on_a.subscribe(topic)
        await on_b.subscribe(topic)
        redis = Redis.from_url(redis_url)
        try:
            await redis.delete(f"{prefix}:wsrpc:procs", f"{prefix}:wsrpc:{{{topic}}}:p")
        finally:
            await redis.aclose()
        expected = sorted([on_a.id, on_b.id])
        async with asyncio.timeout(PRESENCE_TTL + 2):  # the next heartbeat, a third of it away
            while True:
                listed = [c["connection"] for c in (await on_b.result("rpc.presence", [topic]))["clients"]]
                if listed == expected:
                    break
                await asyncio.sleep(0.2)
