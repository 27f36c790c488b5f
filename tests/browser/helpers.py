"""JavaScript the browser tests run in the page, next to the client under test."""

from __future__ import annotations

from typing import Any

__all__ = ["install", "outcome"]

#: Test helpers defined in the page: ``T.client(options)`` opens a client on the page's
#: server and waits for it; ``T.outcome(promise)`` settles to {result} or {error}.
PRELUDE = """
() => {
  window.T = {
    async client(options = {}) {
      const client = new WsRpcClient("/ws/rpc/", { minDelay: 50, maxDelay: 200, ...options });
      await client.ready;
      return client;
    },
    outcome(promise) {
      return promise.then(
        (result) => ({ result: result === undefined ? null : result }),
        (e) => ({ error: { name: e.name, code: e.code, message: e.message, data: e.data ?? null,
                           rpc: e instanceof RpcError } }),
      );
    },
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    /** A stand-in for WebSocket (the client's `WebSocket` option): T.fake is the latest one. */
    FakeSocket: class extends EventTarget {
      constructor(url) {
        super();
        this.url = url;
        this.readyState = 0;
        this.sent = [];
        T.fake = this;
        setTimeout(() => { this.readyState = 1; this.onopen?.({}); }, 0);
      }
      send(text) { this.sent.push(JSON.parse(text)); }
      close(code = 1005, reason = "") {
        this.readyState = 3;
        setTimeout(() => this.onclose?.({ code, reason }), 0);
      }
      /** A frame from the "server". */
      receive(message) { this.onmessage?.({ data: typeof message === "string" ? message : JSON.stringify(message) }); }
    },
    async until(predicate, ms = 3000) {
      const deadline = Date.now() + ms;
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error("timed out waiting for " + predicate);
        await T.sleep(10);
      }
    },
  };
}
"""


def install(page: Any) -> Any:
    """Define ``T`` in ``page``; returns the page."""
    page.evaluate(PRELUDE)
    return page


def outcome(page: Any, expression: str) -> dict[str, Any]:
    """Evaluate ``expression`` (a promise) in the page: ``{"result": ...}`` or ``{"error": ...}``."""
    value: dict[str, Any] = page.evaluate(f"async () => T.outcome((async () => {expression})())")
    return value
