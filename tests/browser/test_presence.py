"""The JS client's presence: declared info, rpc.info, presence(), presenceStats(), onJoin/onLeave, in Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.servers import ServerProcess

from .helpers import install

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

TOPICS = """
from wsrpc_app.models import Topic
Topic.objects.create(name="room.#", anonymous_subscribe=True, presence=True, join_leave=True)
Topic.objects.create(name="hidden.#", presence=True)
Topic.objects.create(name="plain.#", anonymous_subscribe=True)
"""


@pytest.fixture(scope="module")
def presence_server() -> Iterator[ServerProcess]:
    """Daphne on the in-memory layer, with topics that keep presence."""
    server = ServerProcess("daphne", env={"REDIS_URL": None})
    try:
        server.migrate()
        server.manage("shell", "-c", TOPICS)
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def presence_page(open_page: Any, presence_server: ServerProcess) -> Any:
    return install(open_page(presence_server.http_url))


def test_info_presence_and_join_leave(presence_page: Any) -> None:
    seen = presence_page.evaluate(
        """async () => {
            const first = await T.client({ info: { device: "phone", name: "Ada" } });
            const heard = [];
            first.onJoin(({ topic, client }) => heard.push(["join", topic, client.connection, client.info ?? null]));
            const stop = first.onLeave(({ topic, client }) => heard.push(["leave", topic, client.connection]));
            const me = await first.info();
            await first.subscribe("room.js", () => {});
            const second = await T.client();
            const other = (await second.info()).connection;
            await second.subscribe("room.js", () => {});
            await T.until(() => heard.length === 1);
            const listed = await second.presence("room.js");
            const stats = await first.presenceStats("room.js");
            await second.unsubscribe("room.js");
            await T.until(() => heard.length === 2);
            stop();
            await second.subscribe("room.js", () => {});
            await T.until(() => heard.length === 3);
            second.close();  // its leave is not heard: the listener was stopped
            await T.sleep(300);
            first.close();
            return { me, other, heard, listed, stats };
        }"""
    )
    me, other = seen["me"], seen["other"]
    assert me["info"] == {"device": "phone", "name": "Ada"} and me["user"] is None and me["connection"] != other
    assert seen["heard"] == [
        ["join", "room.js", other, None],
        ["leave", "room.js", other],
        ["join", "room.js", other, None],
    ]
    assert {client["connection"]: client.get("info") for client in seen["listed"]} == {
        me["connection"]: {"device": "phone", "name": "Ada"},
        other: None,
    }
    assert seen["stats"] == {"topic": "room.js", "connections": 2, "users": 0}


def test_presence_errors_reject_with_the_servers_codes(presence_page: Any) -> None:
    codes = presence_page.evaluate(
        """async () => {
            const client = await T.client();
            const outcomes = [
                await T.outcome(client.presence("hidden.x")),
                await T.outcome(client.presenceStats("plain.x")),
                await T.outcome(client.presence("room.*")),
            ];
            const still = await client.call("rpc.ping");
            client.close();
            return { codes: outcomes.map((o) => o.error.code), data: outcomes[1].error.data, still };
        }"""
    )
    assert codes == {
        "codes": [-32003, -32004, -32004],
        "data": {"topic": "plain.x", "presence": False},
        "still": "pong",
    }


def test_bad_declared_info_is_refused_at_the_handshake(presence_page: Any) -> None:
    refused = presence_page.evaluate(
        """async () => {
            const client = new WsRpcClient("/ws/rpc/", { info: { big: "x".repeat(2000) }, reconnect: false });
            const states = [];
            client.on("state", ({ state }) => states.push(state));
            await T.until(() => client.state === "closed");
            return states;
        }"""
    )
    assert refused[-1] == "closed"
