"""The JS client (wsrpc_app/static/wsrpc_app/wsrpc.js) in real Chromium against a real server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.servers import ServerProcess

from .helpers import outcome

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


# Connecting ------------------------------------------------------------------------


def test_a_relative_url_is_resolved_against_the_page(page: Any, app_server: ServerProcess) -> None:
    urls = page.evaluate(
        """async () => {
            const client = new WsRpcClient("/ws/rpc/");
            client.close();
            const { resolveUrl } = await import("/static/wsrpc_app/wsrpc.js");
            return [client.url, resolveUrl("https://example.com/ws/rpc/"), resolveUrl("ws://example.com/x")];
        }"""
    )
    assert urls == [app_server.ws_url, "wss://example.com/ws/rpc/", "ws://example.com/x"]


def test_state_events_ready_and_close(page: Any) -> None:
    seen = page.evaluate(
        """async () => {
            const client = new WsRpcClient("/ws/rpc/");
            const states = [], opened = [];
            client.on("state", ({ state, previous }) => states.push([previous, state]));
            client.addEventListener("open", (event) => opened.push(event.detail.state));
            const initial = client.state;
            const ready = await client.ready;
            await client.connected();
            const open = client.state;
            client.close();
            return {
                initial, open, states, opened, same: ready === client, final: client.state,
                call: await T.outcome(client.call("add", [1, 2])),
                connected: await T.outcome(client.connected()),
            };
        }"""
    )
    assert seen["initial"] == "connecting"
    assert seen["open"] == "open"
    assert seen["same"] is True
    assert seen["states"] == [["connecting", "open"], ["open", "closed"]]
    assert seen["opened"] == ["open"]
    assert seen["final"] == "closed"
    assert seen["call"]["error"]["code"] == -32099
    assert seen["connected"]["error"]["code"] == -32099


# Calls ---------------------------------------------------------------------------


def test_calls_with_positional_and_named_params(page: Any) -> None:
    results = page.evaluate(
        """async () => [
            await c.call("add", [2, 3]),
            await c.call("add", { a: 1.5, b: 2 }),
            await c.methods["calc.multiply"](6, 7),
            await c.call("rpc.ping"),
            await c.call("echo", { value: { nested: [1, "two", null] } }),
        ]"""
    )
    assert results == [5, 3.5, 42, "pong", {"nested": [1, "two", None]}]


def test_error_replies_reject_with_an_rpc_error(page: Any) -> None:
    unknown = outcome(page, "c.call('no.such.method')")["error"]
    assert unknown["rpc"] is True and unknown["name"] == "RpcError"
    assert unknown["code"] == -32601

    invalid = outcome(page, "c.call('add', ['two', 3])")["error"]
    assert invalid["code"] == -32602
    assert invalid["data"]["errors"][0]["param"] == "a"

    application = outcome(page, "c.call('calc.divide', { a: 1, b: 0 })")["error"]
    assert application == {
        "name": "RpcError",
        "code": -32010,
        "message": "Division by zero",
        "data": {"b": 0},
        "rpc": True,
    }


def test_a_call_past_its_timeout_rejects_with_32008_and_is_forgotten(page: Any) -> None:
    seen = page.evaluate(
        """async () => {
            const started = performance.now();
            const late = await T.outcome(c.call("slow_echo", { value: "late", seconds: 2 }, { timeout: 200 }));
            const ms = performance.now() - started;
            return { late, ms, pending: c._pending.size, next: await c.call("add", [1, 1]) };
        }"""
    )
    assert seen["late"]["error"]["code"] == -32008
    assert seen["late"]["error"]["data"] == {"method": "slow_echo", "timeout": 200}
    assert 150 <= seen["ms"] < 1500
    assert seen["pending"] == 0
    assert seen["next"] == 2


def test_a_batch_is_one_frame_with_an_outcome_per_entry(page: Any) -> None:
    frames: list[Any] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: frames.append(payload)))
    outcomes = page.evaluate(
        """async () => {
            const client = await T.client();
            const outcomes = await client.batch([
                ["add", [1, 2]],
                { method: "calc.divide", params: [1, 0] },
                { method: "notify_hello", params: [1], notification: true },
                ["no.such.method"],
            ]);
            return outcomes.map((o) => (o.error ? { code: o.error.code } : { result: o.result ?? null }));
        }"""
    )
    assert outcomes == [{"result": 3}, {"code": -32010}, {"result": None}, {"code": -32601}]
    batches = [json.loads(frame) for frame in frames if "calc.divide" in frame]
    assert len(batches) == 1
    assert [message["method"] for message in batches[0]] == ["add", "calc.divide", "notify_hello", "no.such.method"]
    assert "id" not in batches[0][2]


def test_a_notification_has_no_id_and_resolves_once_sent(page: Any) -> None:
    frames: list[Any] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: frames.append(payload)))
    sent = page.evaluate(
        """async () => {
            const client = await T.client();
            return [await client.notify("notify_hello", ["hi"]), await client.call("add", [1, 2])];
        }"""
    )
    assert sent == [None, 3]
    notifications = [json.loads(frame) for frame in frames if "notify_hello" in frame]
    assert notifications == [{"jsonrpc": "2.0", "method": "notify_hello", "params": ["hi"]}]


def test_json_stays_strict(page: Any) -> None:
    echoed = page.evaluate("async () => [await c.call('echo', [NaN]), await c.call('echo', [[Infinity, -Infinity]])]")
    assert echoed == [None, [None, None]]
    not_json = outcome(page, "c.call('echo', [10n])")["error"]
    assert not_json["name"] == "TypeError"
    assert page.evaluate("c._pending.size") == 0


# Pub/sub ---------------------------------------------------------------------------


def test_subscribe_publish_and_unsubscribe(page: Any) -> None:
    seen = page.evaluate(
        """async () => {
            const reader = await T.client(), writer = await T.client();
            const got = [];
            const first = (data, event) => got.push(["first", data, event]);
            const second = (data) => got.push(["second", data]);
            const subscribed = await reader.subscribe("chat.lobby", first);
            await reader.subscribe("chat.lobby", second);
            const published = await writer.publish("chat.lobby", { text: "one" });
            await T.until(() => got.length === 2);
            await reader.unsubscribe("chat.lobby", first);
            await writer.publish("chat.lobby", { text: "two" });
            await T.until(() => got.length === 3);
            const unsubscribed = await reader.unsubscribe("chat.lobby");
            const afterwards = reader.subscriptions;
            await writer.publish("chat.lobby", { text: "three" });
            await T.sleep(300);
            return { subscribed, published, got, unsubscribed, afterwards };
        }"""
    )
    assert seen["subscribed"] == {"topic": "chat.lobby", "subscribed": True}
    assert seen["published"] == {"topic": "chat.lobby"}
    first, second, third = seen["got"]
    assert first[:2] == ["first", {"text": "one"}]
    assert first[2]["topic"] == "chat.lobby" and first[2]["data"] == {"text": "one"}
    assert second == ["second", {"text": "one"}]
    assert third == ["second", {"text": "two"}]
    assert seen["unsubscribed"] == {"topic": "chat.lobby", "subscribed": False}
    assert seen["afterwards"] == []


def test_refusals_reject_with_the_servers_code(page: Any) -> None:
    pattern = outcome(page, "c.subscribe('chat.#', () => {})")["error"]
    assert pattern["code"] == -32003
    assert page.evaluate("c.subscriptions") == []
    assert outcome(page, "c.subscribe('not a topic!')")["error"]["code"] == -32004
    news = outcome(page, "c.publish('news', { title: 'not staff' })")["error"]
    assert news["code"] == -32003
    assert news["data"] == {"topic": "news", "action": "publish"}


# Calls from the server -------------------------------------------------------------


def test_the_server_calls_exposed_functions(page: Any) -> None:
    results = page.evaluate(
        """async () => {
            c.expose("answer", async (question) => { await T.sleep(20); return `you asked: ${question}`; });
            c.expose("client.add", (a, b) => a + b);
            c.expose("ask", (params) => params.choices[1]);
            c.expose("nothing", () => undefined);
            return [
                await c.call("ask_browser", { question: "colour?" }),
                await c.call("call_back", ["client.add", [2, 3]]),
                await c.call("call_back", { method: "ask", params: { choices: ["red", "blue"] } }),
                await c.call("call_back", ["nothing"]),
                await c.call("call_back", ["rpc.ping"]),
            ];
        }"""
    )
    assert results == [{"question": "colour?", "answer": "you asked: colour?"}, 5, "blue", None, "pong"]


def test_an_exposed_function_that_throws_answers_an_error(page: Any) -> None:
    page.evaluate(
        """() => {
            c.expose("answer", () => { throw new RpcError("No comment", { code: -32050, data: { why: "shy" } }); });
            c.expose("boom", () => { throw new Error("kaboom"); });
            c.expose("async_boom", async () => { throw new TypeError("bad type"); });
        }"""
    )
    declined = outcome(page, "c.call('ask_browser', ['colour?'])")["error"]
    assert (declined["code"], declined["message"], declined["data"]) == (-32050, "No comment", {"why": "shy"})
    boom = outcome(page, "c.call('call_back', ['boom'])")["error"]
    assert (boom["code"], boom["message"]) == (-32000, "kaboom")
    async_boom = outcome(page, "c.call('call_back', ['async_boom'])")["error"]
    assert (async_boom["code"], async_boom["message"]) == (-32000, "bad type")
    unknown = outcome(page, "c.call('call_back', ['not.exposed'])")["error"]
    assert unknown["code"] == -32601
    assert unknown["data"] == {"method": "not.exposed"}


def test_a_notification_from_the_server_runs_the_handler(page: Any) -> None:
    got = page.evaluate(
        """async () => {
            const got = [];
            c.expose("note", (...args) => got.push(args));
            await c.call("notify_back", ["note", [1, "two"]]);
            await T.until(() => got.length === 1);
            return got;
        }"""
    )
    assert got == [[1, "two"]]


# Losing the connection -------------------------------------------------------------


def test_calls_pending_when_the_connection_drops_reject_at_once(page: Any) -> None:
    seen = page.evaluate(
        """async () => {
            const sockets = [];
            class Tracked extends WebSocket {
                constructor(...args) { super(...args); sockets.push(this); }
            }
            const client = await T.client({ WebSocket: Tracked, minDelay: 300, maxDelay: 300, jitter: 0 });
            const states = [];
            client.on("state", ({ state }) => states.push(state));
            const slow = T.outcome(client.call("slow_echo", { value: 1, seconds: 5 }));
            await client.call("rpc.ping");  // the slow call is on the server by now
            const started = performance.now();
            sockets[0].close();
            const lost = await slow;
            const ms = performance.now() - started;
            const during = client.state;
            const queued = await T.outcome(client.call("add", [2, 2]));  // waits for the next connection
            const after = client.state;
            client.close();
            return { lost, ms, during, queued, after, states, sockets: sockets.length };
        }"""
    )
    assert seen["lost"]["error"]["code"] == -32099
    assert seen["lost"]["error"]["data"]["method"] == "slow_echo"
    assert seen["ms"] < 1000
    assert seen["during"] == "reconnecting"
    assert seen["queued"] == {"result": 4}
    assert seen["after"] == "open"
    assert seen["states"] == ["reconnecting", "open", "closed"]
    assert seen["sockets"] == 2


def test_without_an_offline_queue_calls_made_offline_reject_at_once(page: Any) -> None:
    seen = page.evaluate(
        """async () => {
            const client = new WsRpcClient("/ws/rpc/", { offlineQueue: 0 });
            const early = await T.outcome(client.call("add", [1, 2]));
            await client.ready;
            const later = await T.outcome(client.call("add", [1, 2]));
            client.close();
            return { early, later };
        }"""
    )
    assert seen["early"]["error"]["code"] == -32099
    assert seen["later"] == {"result": 3}


def test_close_rejects_queued_and_pending_calls(page: Any) -> None:
    seen = page.evaluate(
        """async () => {
            const client = new WsRpcClient("/ws/rpc/");
            const queued = T.outcome(client.call("add", [1, 2]));  // made before the connection opened
            client.close();
            return { queued: await queued, pending: client._pending.size };
        }"""
    )
    assert seen["queued"]["error"]["code"] == -32099
    assert seen["pending"] == 0


# The protocol, against a stand-in socket ------------------------------------------------


def test_rpc_unsubscribed_ends_the_subscription(page: Any) -> None:
    seen = page.evaluate(
        """async () => {
            const client = new WsRpcClient("/ws/rpc/", { WebSocket: T.FakeSocket, heartbeatInterval: 0 });
            await client.ready;
            const got = [], ended = [];
            client.on("unsubscribed", (detail) => ended.push(detail));
            const subscribed = client.subscribe("chat.lobby", (data) => got.push(data));
            const request = T.fake.sent.at(-1);
            T.fake.receive({ jsonrpc: "2.0", result: { topic: "chat.lobby", subscribed: true }, id: request.id });
            await subscribed;
            const event = { jsonrpc: "2.0", method: "rpc.event", params: { topic: "chat.lobby", data: 1 } };
            T.fake.receive(event);
            T.fake.receive({ jsonrpc: "2.0", method: "rpc.unsubscribed",
                             params: { topic: "chat.lobby", reason: "permission revoked" } });
            T.fake.receive(event);
            await T.sleep(10);
            const replies = T.fake.sent.length;
            client.close();
            return { request, got, ended, subscriptions: client.subscriptions, replies };
        }"""
    )
    assert seen["request"]["method"] == "rpc.subscribe"
    assert seen["request"]["params"] == {"topic": "chat.lobby"}
    assert seen["got"] == [1]
    assert seen["ended"] == [{"topic": "chat.lobby", "reason": "permission revoked"}]
    assert seen["subscriptions"] == []
    assert seen["replies"] == 1  # notifications are never answered


def test_requests_from_the_server_are_answered_by_the_spec(page: Any) -> None:
    sent = page.evaluate(
        """async () => {
            const client = new WsRpcClient("/ws/rpc/", { WebSocket: T.FakeSocket, heartbeatInterval: 0 });
            await client.ready;
            client.expose("double", (n) => 2 * n);
            client.expose("slow", async (n) => { await T.sleep(30); return n; });
            const fake = T.fake;
            fake.receive("{not json");
            fake.receive([]);
            fake.receive({ jsonrpc: "2.0", method: 5, id: 7 });
            fake.receive({ jsonrpc: "2.0", method: "nope", id: "x" });
            fake.receive({ jsonrpc: "2.0", method: "rpc.ping", id: 8 });
            fake.receive([
                { jsonrpc: "2.0", method: "slow", params: [1], id: 1 },
                { jsonrpc: "2.0", method: "double", params: [21], id: 2 },
                { jsonrpc: "2.0", method: "double", params: [0] },
            ]);
            fake.receive({ jsonrpc: "2.0", result: "for nobody", id: 999 });
            fake.receive({ jsonrpc: "2.0", method: "double", params: [NaN === NaN ? 1 : 0.5], id: 9 });
            await T.sleep(100);
            client.close();
            return fake.sent;
        }"""
    )
    assert sent == [
        {"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": None},
        {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": None},
        {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": 7},
        {
            "jsonrpc": "2.0",
            "error": {"code": -32601, "message": "Method not found", "data": {"method": "nope"}},
            "id": "x",
        },
        {"jsonrpc": "2.0", "result": "pong", "id": 8},
        {"jsonrpc": "2.0", "result": 1, "id": 9},
        [{"jsonrpc": "2.0", "result": 1, "id": 1}, {"jsonrpc": "2.0", "result": 42, "id": 2}],
    ]


def test_subscriptions_made_offline_are_sent_on_open_and_renewed_on_each_connection(page: Any) -> None:
    seen = page.evaluate(
        """async () => {
            const client = new WsRpcClient("/ws/rpc/", {
                WebSocket: T.FakeSocket, heartbeatInterval: 0, minDelay: 10, subscribeChunk: 2,
            });
            const topics = ["a.one", "a.two", "a.three"];
            const subscribed = topics.map((topic) => client.subscribe(topic, () => {}));
            await client.ready;
            const answer = (fake) => {
                for (const frame of fake.sent) {
                    for (const request of [frame].flat()) {
                        const result = { topic: request.params.topic, subscribed: true };
                        fake.receive({ jsonrpc: "2.0", result, id: request.id });
                    }
                }
            };
            const first = T.fake;
            await T.until(() => first.sent.length === 1);
            answer(first);
            await T.until(() => first.sent.length === 2);  // the next chunk waits for the first one's answers
            answer(first);
            const results = await Promise.all(subscribed);
            first.close(1006);
            await T.until(() => T.fake !== first && client.state === "open");
            const second = T.fake;
            await T.until(() => second.sent.length === 1);
            const shape = (frames) => frames.map((f) => [f].flat().map((r) => [r.method, r.params.topic]));
            const renewed = shape(second.sent);
            client.close();
            return { first: shape(first.sent), results, renewed };
        }"""
    )
    assert seen["first"] == [
        [["rpc.subscribe", "a.one"], ["rpc.subscribe", "a.two"]],
        [["rpc.subscribe", "a.three"]],
    ]
    assert [result["topic"] for result in seen["results"]] == ["a.one", "a.two", "a.three"]
    assert seen["renewed"] == [[["rpc.subscribe", "a.one"], ["rpc.subscribe", "a.two"]]]


def test_reconnect_delays_back_off_exponentially_with_jitter(page: Any) -> None:
    delays = page.evaluate(
        """async () => {
            class Refused {
                constructor() { setTimeout(() => this.onclose?.({ code: 1006, reason: "" }), 0); }
                close() {}
            }
            const measure = async (jitter) => {
                const client = new WsRpcClient("/ws/rpc/", {
                    WebSocket: Refused, minDelay: 10, maxDelay: 80, factor: 2, jitter,
                });
                const delays = [];
                client.on("reconnecting", ({ delay }) => delays.push(delay));
                await T.until(() => delays.length === 6);
                client.close();
                return delays;
            };
            return { exact: await measure(0), jittered: await measure(0.5) };
        }"""
    )
    assert delays["exact"] == [10, 20, 40, 80, 80, 80]
    for delay, ceiling in zip(delays["jittered"], [10, 20, 40, 80, 80, 80], strict=True):
        assert ceiling / 2 - 1 <= delay <= ceiling
