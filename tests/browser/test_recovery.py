"""The JS client recovers by itself: positions, `since` on renewal, order, exactly once, "gap", rewind, history.

First against a scripted socket (``T.FakeSocket``), where each test fixes the
server's frames; then against real servers restarted under the page.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.recovery import new_topic, published, publisher, redis_env, server_with_topics
from tests.support.redis_server import RedisServer, redis_server_or_skip
from tests.support.servers import ServerProcess

from .helpers import install

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

#: Helpers for the scripted tests: ``R.client()`` on a fake socket, ``R.ev(offset)``, ``R.answer(fake, result)``.
SCRIPTED = """
() => {
  window.R = {
    async client(options = {}) {
      const fake = { WebSocket: T.FakeSocket, heartbeatInterval: 0, minDelay: 5 };
      const client = new WsRpcClient("/ws/rpc/", { ...fake, ...options });
      await client.ready;
      client.log = [];
      client.on("gap", (gap) => client.log.push(["gap", gap]));
      return client;
    },
    ev(offset, epoch = "e1", topic = "room.1", extra = {}) {
      return { topic, data: offset, offset, epoch, ...extra };
    },
    event(params) {
      return { jsonrpc: "2.0", method: "rpc.event", params };
    },
    /** The requests sent on a fake socket, batches flattened. */
    requests(fake) {
      return fake.sent.flatMap((frame) => [frame].flat()).filter((m) => m.id !== undefined);
    },
    /** Answer the latest request of `method` on `fake` with `result`. */
    async answer(fake, method, result) {
      await T.until(() => R.requests(fake).some((m) => m.method === method && !m.answered));
      const request = R.requests(fake).find((m) => m.method === method && !m.answered);
      request.answered = true;
      fake.receive({ jsonrpc: "2.0", result, id: request.id });
      return request.params;
    },
    /** Close the fake socket as a restarting server does; resolves with the next one. */
    async drop(client) {
      const old = T.fake;
      old.close(1012);
      await T.until(() => T.fake !== old && client.state === "open");
      return T.fake;
    },
  };
}
"""


@pytest.fixture
def scripted(page: Any) -> Any:
    page.evaluate(SCRIPTED)
    return page


# Against a scripted socket --------------------------------------------------------------


def test_a_renewal_asks_since_and_hands_recovered_events_first_each_once(scripted: Any) -> None:
    seen = scripted.evaluate(
        """async () => {
            const client = await R.client();
            const got = [], events = [];
            client.on("event", (event) => events.push(event.offset));
            const subscribed = client.subscribe("room.1", (data) => got.push(data));
            await R.answer(T.fake, "rpc.subscribe", { topic: "room.1", subscribed: true, offset: 2, epoch: "e1" });
            T.fake.receive(R.event(R.ev(3)));
            await subscribed;
            const fake = await R.drop(client);
            const result = { topic: "room.1", subscribed: true, offset: 5, epoch: "e1", recovered: true,
                             publications: [R.ev(4), R.ev(5)] };
            const renewal = R.answer(fake, "rpc.subscribe", result);
            // Live events right behind the answer, one of them recovered already.
            fake.receive(R.event(R.ev(5)));
            fake.receive(R.event(R.ev(6)));
            const params = await renewal;
            await T.until(() => got.length >= 4);
            await T.sleep(20);
            client.close();
            return { params, got, events, log: client.log, position: client.position("room.1") };
        }"""
    )
    assert seen["params"] == {"topic": "room.1", "since": {"offset": 3, "epoch": "e1"}}
    assert seen["got"] == [3, 4, 5, 6]
    assert seen["events"] == [3, 4, 5, 6]  # "event" too: recovered ones included, the duplicate not
    assert seen["log"] == []
    assert seen["position"] == {"epoch": "e1", "offset": 6}


def test_a_failed_recovery_emits_gap_before_the_events_that_follow(scripted: Any) -> None:
    seen = scripted.evaluate(
        """async () => {
            const client = await R.client();
            client.subscribe("room.1", (data) => client.log.push(["event", data]));
            await R.answer(T.fake, "rpc.subscribe", { topic: "room.1", subscribed: true, offset: 7, epoch: "e1" });
            const fake = await R.drop(client);
            const lost = { topic: "room.1", offset: 0, epoch: "e2", recovered: false, publications: [] };
            const renewal = R.answer(fake, "rpc.subscribe", lost);
            fake.receive(R.event(R.ev(1, "e2")));
            await renewal;
            await T.until(() => client.log.length === 2);
            client.close();
            return client.log;
        }"""
    )
    assert seen == [
        ["gap", {"topic": "room.1", "reason": "not_recovered", "epoch": "e2", "offset": 0, "missed": None}],
        ["event", 1],
    ]


def test_rpc_gap_is_emitted_and_moves_the_position(scripted: Any) -> None:
    seen = scripted.evaluate(
        """async () => {
            const client = await R.client();
            const got = [];
            client.subscribe("room.1", (data) => got.push(data));
            client.subscribe("room.*", () => {});
            await R.answer(T.fake, "rpc.subscribe", { topic: "room.1", subscribed: true, offset: 1, epoch: "e1" });
            await R.answer(T.fake, "rpc.subscribe", { topic: "room.*", subscribed: true });
            const notice = (params) => T.fake.receive({ jsonrpc: "2.0", method: "rpc.gap", params });
            notice({ topic: "room.1", epoch: "e1", offset: 5, missed: [2, 5] });
            notice({ topic: "room.2", epoch: "e4", offset: 9, subscription: "room.*" });
            T.fake.receive(R.event(R.ev(6)));
            T.fake.receive(R.event(R.ev(6)));
            await T.until(() => got.length === 1);
            await T.sleep(20);
            client.close();
            return { got, log: client.log, position: client.position("room.1"), pattern: client.position("room.*") };
        }"""
    )
    assert seen["got"] == [6]
    assert seen["log"] == [
        ["gap", {"topic": "room.1", "reason": "gap", "epoch": "e1", "offset": 5, "missed": [2, 5]}],
        [
            "gap",
            {"topic": "room.2", "reason": "gap", "epoch": "e4", "offset": 9, "missed": None, "subscription": "room.*"},
        ],
    ]
    assert seen["position"] == {"epoch": "e1", "offset": 6}
    assert seen["pattern"] is None


def test_skipped_offsets_and_duplicates_never_pass_silently(scripted: Any) -> None:
    seen = scripted.evaluate(
        """async () => {
            const client = await R.client();
            const got = [];
            client.subscribe("room.1", (data) => got.push(data));
            await R.answer(T.fake, "rpc.subscribe", { topic: "room.1", subscribed: true, offset: 0, epoch: "e1" });
            for (const offset of [1, 2, 2, 1, 5]) T.fake.receive(R.event(R.ev(offset)));
            await T.until(() => got.includes(5));
            client.close();
            return { got, log: client.log };
        }"""
    )
    assert seen["got"] == [1, 2, 5]
    assert seen["log"] == [["gap", {"topic": "room.1", "reason": "gap", "epoch": "e1", "offset": 4, "missed": [3, 4]}]]


def test_a_renewal_with_no_answer_reconnects_and_renews_again(scripted: Any) -> None:
    seen = scripted.evaluate(
        """async () => {
            const client = await R.client({ callTimeout: 200 });
            const states = [];
            client.on("state", ({ state, reason }) => states.push([state, reason ?? null]));
            client.subscribe("room.1", () => {});
            await R.answer(T.fake, "rpc.subscribe", { topic: "room.1", subscribed: true, offset: 2, epoch: "e1" });
            const silent = await R.drop(client);  // the renewal on it is never answered
            await T.until(() => T.fake !== silent && client.state === "open");
            const renewed = { topic: "room.1", offset: 2, epoch: "e1", recovered: true, publications: [] };
            const params = await R.answer(T.fake, "rpc.subscribe", renewed);
            await T.sleep(20);
            const renewals = R.requests(silent).filter((m) => m.method === "rpc.subscribe").length;
            client.close();
            return { params, renewals, states, subscriptions: client.subscriptions };
        }"""
    )
    assert seen["renewals"] == 1
    assert seen["params"] == {"topic": "room.1", "since": {"offset": 2, "epoch": "e1"}}
    assert ["reconnecting", "renewal timeout"] in seen["states"]
    assert seen["subscriptions"] == ["room.1"]


def test_patterns_and_topics_without_history_are_renewed_plainly(scripted: Any) -> None:
    renewed = scripted.evaluate(
        """async () => {
            const client = await R.client();
            client.subscribe("room.*", () => {});
            client.subscribe("plain", () => {});
            await R.answer(T.fake, "rpc.subscribe", { topic: "room.*", subscribed: true });
            await R.answer(T.fake, "rpc.subscribe", { topic: "plain", subscribed: true });
            T.fake.receive(R.event(R.ev(1, "e1", "room.2", { subscription: "room.*" })));
            T.fake.receive(R.event({ topic: "plain", data: 1 }));
            const fake = await R.drop(client);
            await T.until(() => R.requests(fake).length === 2);
            client.close();
            return R.requests(fake).map((m) => m.params);
        }"""
    )
    assert renewed == [{"topic": "room.*"}, {"topic": "plain"}]


def test_rewind_and_since_on_a_first_subscription(scripted: Any) -> None:
    seen = scripted.evaluate(
        """async () => {
            const client = await R.client();
            const got = [];
            const rewound = client.subscribe("room.1", (data) => got.push(data), { rewind: 1 });
            const last = { topic: "room.1", offset: 9, epoch: "e1", recovered: true, publications: [R.ev(9)] };
            const asked = await R.answer(T.fake, "rpc.subscribe", last);
            T.fake.receive(R.event(R.ev(10)));
            const result = await rewound;
            const since = client.subscribe("room.2", () => {}, { since: { epoch: "e0", offset: 3 } });
            const lost = { topic: "room.2", offset: 1, epoch: "e1", recovered: false, publications: [] };
            const askedSince = await R.answer(T.fake, "rpc.subscribe", lost);
            await since;
            await T.until(() => got.length === 2 && client.log.length === 1);
            const both = { rewind: 1, since: { epoch: "e", offset: 1 } };
            const refused = (await T.outcome(client.subscribe("room.3", () => {}, both))).error.message;
            const bad = (await T.outcome(client.subscribe("room.3", () => {}, { since: { offset: 1 } }))).error.message;
            client.close();
            return { asked, result, got, askedSince, log: client.log, refused, bad };
        }"""
    )
    assert seen["asked"] == {"topic": "room.1", "rewind": 1}
    assert seen["result"]["publications"][0]["offset"] == 9
    assert seen["got"] == [9, 10]
    assert seen["askedSince"] == {"topic": "room.2", "since": {"offset": 3, "epoch": "e0"}}
    assert seen["log"] == [
        ["gap", {"topic": "room.2", "reason": "not_recovered", "epoch": "e1", "offset": 1, "missed": None}]
    ]
    assert seen["refused"] == "give rewind or since, not both"
    assert seen["bad"].startswith("since is")


def test_rewind_for_another_handler_reads_the_history_for_it_alone(scripted: Any) -> None:
    seen = scripted.evaluate(
        """async () => {
            const client = await R.client();
            const first = [], second = [];
            client.subscribe("room.1", (data) => first.push(data));
            await R.answer(T.fake, "rpc.subscribe", { topic: "room.1", subscribed: true, offset: 3, epoch: "e1" });
            T.fake.receive(R.event(R.ev(4)));
            const added = client.subscribe("room.1", (data) => second.push(data), { rewind: 2 });
            const publications = [R.ev(4), R.ev(5)];
            const history = { topic: "room.1", offset: 5, epoch: "e1", recovered: true, publications };
            const asked = await R.answer(T.fake, "rpc.history", history);
            T.fake.receive(R.event(R.ev(5)));  // was on its way: both handlers get it once
            const result = await added;
            await T.until(() => first.length === 2 && second.length === 2);
            client.close();
            const subscribes = R.requests(T.fake).filter((m) => m.method === "rpc.subscribe").length;
            return { asked, result, first, second, subscribes };
        }"""
    )
    assert seen["asked"] == {"topic": "room.1", "limit": 2}
    assert seen["result"]["publications"] == [{"topic": "room.1", "data": 4, "offset": 4, "epoch": "e1"}]
    assert seen["first"] == [4, 5] and seen["second"] == [4, 5]
    assert seen["subscribes"] == 1


def test_history_sends_since_and_limit(scripted: Any) -> None:
    asked = scripted.evaluate(
        """async () => {
            const client = await R.client();
            const answer = { topic: "room.1", offset: 2, epoch: "e1", recovered: true, publications: [] };
            const one = client.history("room.1", { since: { epoch: "e1", offset: 1 }, limit: 10 });
            const params = [await R.answer(T.fake, "rpc.history", answer)];
            await one;
            const two = client.history("room.1");
            params.push(await R.answer(T.fake, "rpc.history", answer));
            await two;
            client.close();
            return params;
        }"""
    )
    assert asked == [{"topic": "room.1", "since": {"offset": 1, "epoch": "e1"}, "limit": 10}, {"topic": "room.1"}]


# Against real servers ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_server(redis_url: str) -> Iterator[ServerProcess]:
    """Daphne on the Redis channel layer: the topics' history outlives a restart."""
    with server_with_topics("daphne", **redis_env(redis_url)) as server:
        yield server


@pytest.fixture(scope="module")
def memory_server() -> Iterator[ServerProcess]:
    """Daphne on the in-memory channel layer: a restart loses the topics' history (a new epoch)."""
    with server_with_topics("daphne") as server:
        yield server


#: A client of the page's own that records events and gaps of ``topic`` (the argument).
LISTEN = """async (topic) => {
    window.c = await T.client({ minDelay: 100, maxDelay: 300 });
    window.got = [];
    window.gaps = [];
    c.on("gap", (gap) => gaps.push(gap));
    window.subscribed = await c.subscribe(topic, (data) => got.push(data));
}"""


def test_every_event_published_across_a_restart_reaches_the_page_once_in_order(
    redis_server: ServerProcess, open_page: Any
) -> None:
    topic = new_topic()
    page = install(open_page(redis_server.http_url))
    page.evaluate(LISTEN, topic)
    # Another process publishes 500 events, 5 ms apart, while the page's server restarts.
    running = publisher(redis_server, topic, 500, 0.005)
    page.wait_for_function("() => got.length >= 20", timeout=20_000)
    redis_server.stop()
    at_stop = page.evaluate("got.length")
    time.sleep(0.5)  # events keep coming while nobody serves the page
    assert running.poll() is None, "the publisher stopped before the server did: nothing to recover"
    redis_server.start()
    published(running)
    page.wait_for_function("() => got.length >= 500", timeout=30_000)
    page.evaluate("async (topic) => { await c.publish(topic, 501); await T.until(() => got.length >= 501); }", topic)
    time.sleep(0.2)  # nothing more may come: no duplicate
    seen = page.evaluate("(topic) => ({ got, gaps, position: c.position(topic), first: subscribed })", topic)
    assert at_stop < 500
    assert seen["got"] == list(range(1, 502))
    assert seen["gaps"] == []
    assert seen["position"] == {"epoch": seen["first"]["epoch"], "offset": 501}
    assert [error for error in page.errors if "WebSocket connection" not in error] == []  # refused while down


def test_a_restart_that_loses_the_history_emits_gap(memory_server: ServerProcess, open_page: Any) -> None:
    topic = new_topic()
    page = install(open_page(memory_server.http_url))
    page.evaluate(LISTEN, topic)
    page.evaluate("async (topic) => { for (const n of [1, 2, 3]) await c.publish(topic, n); }", topic)
    page.wait_for_function("() => got.length === 3")
    before = page.evaluate("(topic) => c.position(topic)", topic)
    memory_server.restart()
    page.wait_for_function("() => gaps.length === 1", timeout=20_000)
    page.evaluate("async (topic) => { await c.publish(topic, 4); await T.until(() => got.length === 4); }", topic)
    seen = page.evaluate("(topic) => ({ got, gaps, position: c.position(topic) })", topic)
    (gap,) = seen["gaps"]
    assert (gap["topic"], gap["reason"], gap["missed"]) == (topic, "not_recovered", None)
    assert gap["epoch"] != before["epoch"]
    assert seen["got"] == [1, 2, 3, 4]
    assert seen["position"] == {"epoch": gap["epoch"], "offset": gap["offset"] + 1}


def test_rewind_gives_the_last_value_and_history_reads_what_is_kept(
    memory_server: ServerProcess, open_page: Any
) -> None:
    topic = new_topic()
    page = install(open_page(memory_server.http_url))
    seen = page.evaluate(
        """async (topic) => {
            const writer = await T.client(), reader = await T.client();
            for (const n of [1, 2, 3]) await writer.publish(topic, n);
            const got = [], later = [];
            const result = await reader.subscribe(topic, (data) => got.push(data), { rewind: 1 });
            await writer.publish(topic, 4);
            await T.until(() => got.length === 2);
            const added = await reader.subscribe(topic, (data) => later.push(data), { rewind: 2 });
            await writer.publish(topic, 5);
            await T.until(() => got.length === 3 && later.length === 3);
            const kept = await writer.history(topic, { limit: 2 });
            const since = await writer.history(topic, { since: { epoch: kept.epoch, offset: 3 } });
            const none = await T.outcome(writer.history("chat.lobby"));
            writer.close();
            reader.close();
            return {
                rewound: result.publications.map((e) => e.data), got, added: added.publications.map((e) => e.data),
                later, kept: kept.publications.map((e) => e.data), since: since.publications.map((e) => e.offset),
                recovered: kept.recovered, none: none.error,
            };
        }""",
        topic,
    )
    assert seen["rewound"] == [3] and seen["got"] == [3, 4, 5]
    assert seen["added"] == [3, 4] and seen["later"] == [3, 4, 5]
    assert seen["kept"] == [4, 5] and seen["since"] == [4, 5] and seen["recovered"] is True
    assert seen["none"]["code"] == -32004 and seen["none"]["data"] == {"topic": "chat.lobby", "history": False}


def test_rpc_gap_after_redis_lost_its_data_is_emitted(open_page: Any) -> None:
    """Redis (a private one) restarts empty under the page's connection: the server's rpc.gap becomes "gap"."""
    redis_server_or_skip()
    topic = new_topic()
    with RedisServer() as redis:
        with server_with_topics("daphne", **redis_env(redis.url)) as server:
            page = install(open_page(server.http_url))
            page.evaluate(
                """async (topic) => {
                    window.frames = [];  // what the server sent, to tell its rpc.gap from the client's own check
                    class Recording extends WebSocket {
                        constructor(...args) {
                            super(...args);
                            this.addEventListener("message", (event) => frames.push(JSON.parse(event.data)));
                        }
                    }
                    window.c = await T.client({ WebSocket: Recording });
                    window.got = [];
                    window.gaps = [];
                    window.notices = [];
                    c.on("gap", (gap) => { gaps.push(gap); notices.push(got.length); });
                    window.subscribed = await c.subscribe(topic, (data) => got.push(data));
                    for (const n of [1, 2, 3]) await c.publish(topic, n);
                    await T.until(() => got.length === 3);
                }""",
                topic,
            )
            redis.kill()
            time.sleep(1.0)
            redis.start()
            # Publish until an event of the new epoch arrives (-32053 while the server reconnects).
            page.evaluate(
                """async (topic) => {
                    for (let n = 4; got.length === 3; n++) {
                        if (n > 200) throw new Error("no event after Redis restarted");
                        await T.outcome(c.publish(topic, n));
                        await T.sleep(100);
                    }
                }""",
                topic,
            )
            seen = page.evaluate(
                """() => ({
                    got, gaps, notices, first: subscribed, state: c.state,
                    sent: frames.filter((f) => f.method === "rpc.gap").map((f) => f.params.epoch),
                })"""
            )
    (gap,) = seen["gaps"]
    assert (gap["topic"], gap["reason"], gap["missed"]) == (topic, "gap", None)
    assert gap["epoch"] != seen["first"]["epoch"]
    assert seen["notices"] == [3]  # before the first event of the new epoch
    assert seen["state"] == "open"  # the connection stayed up: the notice came live
    assert seen["sent"] == [gap["epoch"]]  # the server's rpc.gap, not the client's guess
