"""Long calls with the JS client in real Chromium against a real server: cancel and progress, both ways."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from .helpers import outcome

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

#: In the page: the state of a job on the server, once it is `state` (or a timeout).
UNTIL_STATE = """
window.untilState = async (key, state) => {
  const deadline = Date.now() + 5000;
  for (;;) {
    const seen = await c.call("job_state", { key });
    if (JSON.stringify(seen) === JSON.stringify(state)) return seen;
    if (Date.now() > deadline) throw new Error(`job ${key}: ${JSON.stringify(seen)}`);
    await T.sleep(20);
  }
};
"""


@pytest.fixture
def page_(page: Any) -> Any:
    page.evaluate(f"() => {{ {UNTIL_STATE} }}")
    return page


def test_an_abort_signal_rejects_with_32800_and_cancels_the_method_at_the_server(page_: Any) -> None:
    job = uuid.uuid4().hex
    seen = page_.evaluate(
        """async (key) => {
            const controller = new AbortController();
            const call = T.outcome(c.call("long_job", { key }, { signal: controller.signal }));
            await untilState(key, ["running"]);
            controller.abort("enough");
            const rejected = await call;
            const state = await untilState(key, ["running", "cancelled", "finally"]);
            return { rejected, state, pending: c._pending.size };
        }""",
        job,
    )
    assert seen["rejected"]["error"]["code"] == -32800
    assert seen["rejected"]["error"]["data"] == {"method": "long_job", "reason": "enough"}
    assert seen["state"] == ["running", "cancelled", "finally"]
    assert seen["pending"] == 0


def test_a_signal_aborted_before_the_call_sends_nothing(page_: Any) -> None:
    seen = page_.evaluate(
        """async () => {
            const controller = new AbortController();
            controller.abort();
            const sent = [];
            const send = c._ws.send.bind(c._ws);
            c._ws.send = (text) => { sent.push(text); send(text); };
            const rejected = await T.outcome(c.call("add", [1, 2], { signal: controller.signal }));
            c._ws.send = send;
            return { rejected, sent };
        }"""
    )
    assert seen["rejected"]["error"]["code"] == -32800
    assert seen["sent"] == []


def test_a_timeout_cancels_the_method_and_leaves_no_task_on_the_server(page_: Any) -> None:
    job = uuid.uuid4().hex
    seen = page_.evaluate(
        """async (key) => {
            const tasks = async () => (await c.call("server_stats")).tasks;
            await c.call("sleep", [0.05]);  // the connection's reading has moved to a task of its own
            await T.sleep(200);
            const before = await tasks();
            const late = await T.outcome(c.call("long_job", { key }, { timeout: 300 }));
            const state = await untilState(key, ["running", "cancelled", "finally"]);
            const deadline = Date.now() + 5000;
            let after = await tasks();
            while (after > before && Date.now() < deadline) { await T.sleep(50); after = await tasks(); }
            return { late, state, before, after };
        }""",
        job,
    )
    assert seen["late"]["error"]["code"] == -32008
    assert seen["state"] == ["running", "cancelled", "finally"]
    assert seen["after"] <= seen["before"], seen


def test_progress_reaches_on_progress_in_order_before_the_result(page_: Any) -> None:
    heard = page_.evaluate(
        """async () => {
            const heard = [];
            const result = await c.call("count_up", { count: 5, pause: 0.1 }, { onProgress: (v) => heard.push(v) });
            heard.push(result);
            const fast = [];
            await c.call("count_up", { count: 3000 }, { onProgress: (v) => fast.push(v) });
            return { heard, fast };
        }"""
    )
    assert heard["heard"] == [1, 2, 3, 4, 5, "counted"]
    fast = heard["fast"]
    assert fast[0] == 1 and fast[-1] == 3000 and fast == sorted(set(fast))


def test_the_server_cancels_an_exposed_handler_which_is_answered_at_once(page_: Any) -> None:
    seen = page_.evaluate(
        """async () => {
            const frames = [];
            const send = c._ws.send.bind(c._ws);
            c._ws.send = (text) => { frames.push(JSON.parse(text)); send(text); };
            let aborted = null;
            let resumed = false;
            c.expose("client.wait", function () {
              this.signal.addEventListener("abort", () => { aborted = this.signal.reason; });
              return new Promise((resolve) => setTimeout(() => { resumed = true; resolve("late"); }, 1500));
            });
            const answer = await c.call("ask_client", { method: "client.wait", timeout: 0.3 });
            await T.until(() => aborted !== null);
            await T.sleep(50);
            const running = c._running.size;
            await T.sleep(1600);  // the handler's own promise settles: nothing more is sent for it
            c._ws.send = send;
            return { answer, aborted, running, resumed, frames };
        }"""
    )
    assert seen["answer"] == {"timeout": True, "progress": []}
    assert seen["aborted"] == "cancelled by the server"
    assert seen["running"] == 0
    assert seen["resumed"] is True
    replies = [f for f in seen["frames"] if "method" not in f]
    assert [r["error"]["code"] for r in replies] == [-32800], seen["frames"]


def test_an_exposed_handler_reports_progress_to_the_server(page_: Any) -> None:
    answer = page_.evaluate(
        """async () => {
            c.expose("client.report", async function (steps) {
              for (let step = 1; step <= steps; step += 1) {
                this.progress({ step });
                await T.sleep(100);
              }
              return "reported";
            });
            return c.call("ask_client", { method: "client.report", params: [3] });
        }"""
    )
    assert answer == {"result": "reported", "progress": [{"step": 1}, {"step": 2}, {"step": 3}]}


def test_fast_reports_of_a_handler_are_coalesced_the_latest_sent_before_the_result(page_: Any) -> None:
    answer = page_.evaluate(
        """async () => {
            c.expose("client.burst", function (count) {
              for (let n = 1; n <= count; n += 1) this.progress(n);
              return "burst";
            });
            return c.call("ask_client", { method: "client.burst", params: [500] });
        }"""
    )
    assert answer["result"] == "burst"
    assert answer["progress"][0] == 1 and answer["progress"][-1] == 500
    assert answer["progress"] == sorted(set(answer["progress"]))
    assert len(answer["progress"]) < 500


def test_a_lost_connection_aborts_the_running_handlers(page_: Any) -> None:
    seen = page_.evaluate(
        """async () => {
            let aborted = null;
            c.expose("client.wait", function () {
              this.signal.addEventListener("abort", () => { aborted = this.signal.reason; });
              return new Promise(() => {});
            });
            const outer = T.outcome(c.call("ask_client", { method: "client.wait" }));
            await T.until(() => c._running.size === 1);
            c._abandon(c._ws, "test");
            await T.until(() => aborted !== null);
            return { aborted, running: c._running.size, outer: await outer };
        }"""
    )
    assert seen["aborted"] == "connection lost"
    assert seen["running"] == 0
    assert seen["outer"]["error"]["code"] == -32099


def test_call_options_are_checked(page_: Any) -> None:
    refused = outcome(page_, "c.call('add', [1, 2], { onProgress: 'nope' })")
    assert refused["error"]["name"] == "TypeError"
