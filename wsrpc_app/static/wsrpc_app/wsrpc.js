/**
 * wsrpc.js: the browser client of wsrpc_app, JSON-RPC 2.0 and pub/sub over one WebSocket.
 * An ES module with no dependencies and no build step; types in wsrpc.d.ts.
 *
 *   import { WsRpcClient } from "/static/wsrpc_app/wsrpc.js";
 *   const rpc = new WsRpcClient("/ws/rpc/");               // relative to the page: http→ws, https→wss
 *   await rpc.call("add", [1, 2]);                         // 3
 *   await rpc.subscribe("chat.lobby", (data, event) => console.log(event.topic, data));
 *   await rpc.subscribe("prices.eur", show, { rewind: 1 });  // the last value first, then each new one
 *   rpc.on("gap", ({ topic }) => refetch(topic));          // events of a topic were missed for good
 *   rpc.expose("answer", async (question) => "42");        // the server may call it
 *   await rpc.call("report", [2024], { signal, onProgress: (value) => bar.update(value) });
 *   rpc.on("state", ({ state }) => console.log(state));    // connecting, open, reconnecting, closed
 *   const who = new WsRpcClient("/ws/rpc/", { info: { device: "phone" } });  // declared on every connection
 *   await who.presence("room.1");                          // [{connection, user, user_id, info}, ...]
 *   who.onJoin(({ topic, client }) => show(client));       // rpc.join / rpc.leave of topics with join_leave
 *
 * When the connection is lost (a deliberate choice):
 * - a call already sent is rejected at once with code -32099 (ErrorCode.DISCONNECTED):
 *   the server may or may not have run it, so it is never re-sent behind the caller's back;
 * - a call made while connecting or reconnecting waits in a bounded offline queue
 *   (`offlineQueue` frames, 100 by default; 0 rejects such calls at once with -32099) and
 *   is sent when the connection opens; its timeout counts from the moment of the call;
 * - once closed (close(), or a drop with `reconnect: false`) every call is rejected with -32099.
 * Subscriptions are state, not calls: they survive reconnects and are renewed on each new
 * connection ("resubscribed" is emitted once the server answered). A topic with history is
 * renewed `since` the position (epoch, offset) of the last event handed on: the events missed
 * meanwhile reach the same handlers first, in order, each once; when they cannot (the history
 * was lost or trimmed, or the server sends rpc.gap) "gap" is emitted so the page can refetch.
 * Patterns, and topics without history, are renewed plainly: their events published in between
 * are missed. A renewal not answered within `callTimeout` drops that connection: the next one
 * renews again. The heartbeat (`rpc.ping` every `heartbeatInterval` ms) treats a connection
 * that does not answer within `heartbeatTimeout` ms as dead (half-open) and reconnects.
 *
 * Long calls: a call whose `timeout` passes or whose `signal` aborts is rejected with -32008 or
 * -32800 and, once sent, cancelled at the server with `rpc.cancel`, so the method stops; the
 * server's `rpc.progress` reports reach `onProgress`. An exposed handler runs with `this` bound to
 * `{ id, signal, progress }`: `this.progress(value)` reports to the server (at most `progressRate`
 * a second, the latest kept) and `this.signal` aborts when the server cancels the call, which is
 * then answered -32800 at once, without waiting for the handler any further.
 */

export const ErrorCode = Object.freeze({
  // JSON-RPC 2.0, section 5.1
  PARSE_ERROR: -32700, INVALID_REQUEST: -32600, METHOD_NOT_FOUND: -32601, INVALID_PARAMS: -32602, INTERNAL_ERROR: -32603,
  // wsrpc_app's server (README, "Wire protocol")
  APPLICATION_ERROR: -32000, NOT_AUTHENTICATED: -32001, PERMISSION_DENIED: -32003, NO_SUCH_TOPIC: -32004,
  TIMED_OUT: -32008, TOO_MANY_REQUESTS: -32029, REQUEST_CANCELLED: -32800,
  // This client only: the connection closed before the reply, or there is none to send on.
  DISCONNECTED: -32099,
});

/** A JSON-RPC error: from the server's error reply, or thrown by an exposed handler to answer with. */
export class RpcError extends Error {
  constructor(message, { code = ErrorCode.APPLICATION_ERROR, data } = {}) {
    super(message);
    this.name = "RpcError";
    this.code = code;
    this.data = data;
  }

  /** The RpcError for a JSON-RPC error object. */
  static from(error) {
    const valid = error && typeof error === "object" && Number.isInteger(error.code);
    if (!valid) return new RpcError("Invalid error object", { code: ErrorCode.INTERNAL_ERROR, data: error });
    return new RpcError(String(error.message ?? ""), { code: error.code, data: error.data });
  }

  toJSON() {
    const object = { code: this.code, message: this.message };
    if (this.data !== undefined) object.data = this.data;
    return object;
  }
}

export const DEFAULTS = Object.freeze({
  // Reconnection
  reconnect: true,
  minDelay: 500, // ms before the first retry
  maxDelay: 30000, // ms, the longest wait between retries
  factor: 2, // each failed attempt multiplies the delay
  jitter: 0.5, // each delay is shortened by a random fraction up to this
  // Timeouts (ms; 0 or null: none)
  connectTimeout: 10000, // a handshake not done by then is abandoned and retried
  callTimeout: 30000,
  heartbeatInterval: 25000,
  heartbeatTimeout: 10000,
  // Limits
  offlineQueue: 100, // frames kept while not connected; 0: reject at once
  subscribeChunk: 8, // topics per batch when renewing subscriptions (stays under the server's in-flight limit)
  progressRate: 20, // rpc.progress reports of one exposed call per second (0 or null: no bound)
  // Presence
  info: undefined, // a JSON object the client declares about itself (?info=), listed by rpc.presence
  // Transport
  protocols: undefined,
  WebSocket: undefined, // a WebSocket implementation; the global one by default
});

const OPEN = 1; // WebSocket.OPEN
const TIMEOUT_CLOSE = 4000; // the close code this client uses when it gives up on a silent socket

/** The ws:// or wss:// URL of `url`, resolved against the page's address. */
export function resolveUrl(url) {
  const resolved = new URL(url, globalThis.location?.href);
  if (resolved.protocol === "http:") resolved.protocol = "ws:";
  else if (resolved.protocol === "https:") resolved.protocol = "wss:";
  return resolved.href;
}

function report(error) {
  // An exception in the application's handler must not break the client; show it as uncaught.
  if (typeof globalThis.reportError === "function") globalThis.reportError(error);
  else console.error(error);
}

/** Stop listening to a socket, and close it when given a close code. */
function detach(ws, code, reason) {
  if (!ws) return;
  ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
  if (code === undefined) return;
  try {
    ws.close(code, reason);
  } catch (error) {
    report(error);
  }
}

function errorReply(id, code, message, data) {
  const error = { code, message };
  if (data !== undefined) error.data = data;
  return { jsonrpc: "2.0", error, id };
}

function validId(id) {
  return id === null || typeof id === "string" || (typeof id === "number" && Number.isFinite(id));
}

const isPattern = (name) => name.includes("*") || name.includes("#");

/** The `{epoch, offset}` of an event, a gap or a result; null without one. */
function positionOf(fields) {
  if (!fields || typeof fields !== "object") return null;
  const { epoch, offset } = fields;
  return typeof epoch === "string" && Number.isInteger(offset) ? { epoch, offset } : null;
}

function gap(topic, reason, position, missed = null, subscription = undefined) {
  const detail = { topic, reason, epoch: position?.epoch ?? null, offset: position?.offset ?? null, missed };
  if (subscription !== undefined) detail.subscription = subscription;
  return { gap: detail };
}

/**
 * One topic or pattern subscribed to: its handlers and, for an exact topic, the position of the
 * last event handed on (SPEC, "History, offsets and recovery"). No I/O: its methods take the
 * server's frames and answer what to hand on, in order: `{event}` and `{gap}`. While a subscribe
 * or history request is in flight it holds what arrives, so that recovered events go first.
 */
class Subscription {
  constructor(topic, { since, rewind } = {}) {
    this.topic = topic;
    this.exact = !isPattern(topic);
    this.handlers = new Set();
    this.position = this.exact ? positionOf(since) : null;
    this.rewind = rewind; // asked by the first subscription only
    this.confirmed = false;
    this.remote = null;
    this.ready = new Promise((resolve, reject) => Object.assign(this, { resolve, reject }));
    this._holds = 0;
    this._held = [];
  }

  /** The params of rpc.subscribe: `since` the position when there is one, else `rewind` the first time. */
  params() {
    const params = { topic: this.topic };
    if (this.position) params.since = { offset: this.position.offset, epoch: this.position.epoch };
    else if (this.rewind && !this.confirmed) params.rewind = this.rewind;
    return params;
  }

  hold() {
    this._holds += 1;
  }

  /** End one hold; once none is left, what was held, in the order it came. */
  release() {
    this._holds = Math.max(0, this._holds - 1);
    if (this._holds) return [];
    const held = this._held.splice(0);
    return held.flatMap(([kind, params]) => (kind === "gap" ? this._gap(params) : this._admit(params)));
  }

  /** The answer to rpc.subscribe sent with `since` (or not): the recovered events, or a gap. */
  subscribed(result, since) {
    this.confirmed = true;
    const current = positionOf(result);
    if (since && result?.recovered !== true) {
      this.position = this.exact ? current : null; // the stream goes on from the server's position
      return [gap(this.topic, "not_recovered", this.position)];
    }
    const publications = Array.isArray(result?.publications) ? result.publications : [];
    const outcomes = publications.filter((e) => e && typeof e === "object").flatMap((e) => this._admit(e));
    if (!since && this.exact && current) this.position = current;
    return outcomes;
  }

  /** The events of an rpc.history answer already handed on: for a handler added with rewind. */
  rewound(history) {
    const last = this.position;
    if (!last || !Array.isArray(history?.publications)) return [];
    return history.publications.filter((event) => {
      const position = positionOf(event);
      return position && position.epoch === last.epoch && position.offset <= last.offset;
    });
  }

  /** An rpc.event of this subscription: what to hand on (nothing for a duplicate, or while held). */
  event(params) {
    if (!this._holds) return this._admit(params);
    this._held.push(["event", params]);
    return [];
  }

  /** An rpc.gap of this subscription: the "gap" to emit, and the new position. */
  gap(params) {
    if (!this._holds) return this._gap(params);
    this._held.push(["gap", params]);
    return [];
  }

  _tracked(params) {
    return this.exact && params.subscription == null ? positionOf(params) : null;
  }

  _admit(params) {
    const position = this._tracked(params);
    if (!position) return [{ event: params }];
    const last = this.position;
    this.position = position;
    if (!last) return [{ event: params }];
    const before = { epoch: position.epoch, offset: position.offset - 1 };
    // A new epoch, or skipped offsets, that the server did not announce: the page must hear of it.
    if (last.epoch !== position.epoch) return [gap(this.topic, "gap", before), { event: params }];
    if (position.offset <= last.offset) {
      this.position = last; // handed on already: each event once
      return [];
    }
    if (position.offset > last.offset + 1) {
      return [gap(this.topic, "gap", before, [last.offset + 1, position.offset - 1]), { event: params }];
    }
    return [{ event: params }];
  }

  _gap(params) {
    const position = positionOf(params);
    const tracked = this._tracked(params);
    const last = this.position;
    if (tracked && last && tracked.epoch === last.epoch && tracked.offset <= last.offset) return []; // stale
    if (tracked) this.position = tracked;
    const missed = params.missed;
    const range = Array.isArray(missed) && missed.length === 2 && missed.every(Number.isInteger) ? missed : null;
    const topic = typeof params.topic === "string" ? params.topic : this.topic;
    const subscription = typeof params.subscription === "string" ? params.subscription : undefined;
    return [gap(topic, "gap", position, range, subscription)];
  }
}

/** What ends the race of an exposed handler with its cancellation. */
const CANCELLED = Symbol("cancelled");

/**
 * One call of the server to an exposed handler while it runs: the handler's `this`
 * (`{id, signal, progress}`), its progress reports (rate-limited, the latest kept, the last one
 * sent before the reply) and its cancellation.
 */
class Running {
  constructor(client, id, isCall) {
    this.client = client;
    this.id = id;
    this.controller = new AbortController();
    this.cancelled = new Promise((resolve) => { this._resolve = resolve; });
    this.ended = !isCall; // a notification has no caller to report to
    this.interval = client.options.progressRate > 0 ? 1000 / client.options.progressRate : 0;
    this.last = -Infinity;
    this.held = undefined;
    this.holding = false;
    this.timer = null;
    const progress = (value) => this.report(value);
    this.context = Object.freeze({ id, signal: this.controller.signal, progress });
  }

  report(value) {
    if (this.ended) return;
    const now = performance.now();
    if (!this.holding && now >= this.last + this.interval) {
      this.last = now;
      this.client._notice("rpc.progress", { id: this.id, value: value === undefined ? null : value });
      return;
    }
    this.held = value;
    this.holding = true;
    this.timer ??= setTimeout(() => {
      this.timer = null;
      this.flush();
    }, this.last + this.interval - now);
  }

  flush() {
    if (!this.holding) return;
    const value = this.held;
    this.holding = false;
    this.held = undefined;
    this.last = performance.now();
    this.client._notice("rpc.progress", { id: this.id, value: value === undefined ? null : value });
  }

  /** The handler has its outcome: the report still held goes first when `flush`; none after. */
  end(flush) {
    if (this.ended) return;
    clearTimeout(this.timer);
    this.timer = null;
    if (flush) this.flush();
    this.ended = true;
  }

  cancel(reason) {
    if (this.controller.signal.aborted) return;
    this.end(false);
    this.controller.abort(reason);
    this._resolve(CANCELLED);
  }
}

export class WsRpcClient extends EventTarget {
  constructor(url = "/ws/rpc/", options = {}) {
    super();
    this.url = resolveUrl(url);
    this.options = { ...DEFAULTS, ...options };
    this._state = "connecting";
    this._ws = null;
    this._nextId = 1;
    this._pending = new Map(); // id -> {resolve, reject, method, sent, timer}
    this._queue = []; // frames waiting for a connection: {text, ids}
    this._subs = new Map(); // topic or pattern -> Subscription
    this._exposed = new Map();
    this._running = new Map(); // id of a server call to an exposed handler -> Set of its Running
    this._waiters = [];
    this._attempt = 0;
    this._retryTimer = null;
    this._connectTimer = null;
    this._heartbeatTimer = null;
    this._pinging = false;
    // Back online: retry now rather than at the end of a long backoff.
    this._online = () => {
      if (this._state !== "reconnecting" || !this._retryTimer) return;
      clearTimeout(this._retryTimer);
      this._connect();
    };
    globalThis.addEventListener?.("online", this._online);
    /** Resolves when the connection first opens; rejects if the client is closed before. */
    this.ready = this.connected();
    this.ready.catch(() => {});
    /** `client.methods.add(1, 2)` is `client.call("add", [1, 2])`. */
    this.methods = new Proxy({}, {
      get: (_, name) => (typeof name !== "string" || name === "then" ? undefined : (...args) => this.call(name, args)),
    });
    this._connect();
  }

  /** "connecting", "open", "reconnecting" or "closed". */
  get state() {
    return this._state;
  }

  /** A promise resolved when the connection is open (now or at the next (re)connection). */
  connected() {
    if (this._state === "open") return Promise.resolve(this);
    if (this._state === "closed") return Promise.reject(this._closedError());
    return new Promise((resolve, reject) => this._waiters.push({ resolve, reject }));
  }

  /**
   * Listen to an event ("state", a state's name, "unsubscribed", "resubscribed", "gap", "event",
   * "join", "leave", "subscribed" (server code subscribed this connection: events follow as "event"));
   * returns a function that stops it.
   */
  on(type, listener) {
    const wrapped = (event) => listener(event.detail, event);
    this.addEventListener(type, wrapped);
    return () => this.removeEventListener(type, wrapped);
  }

  // Calls -------------------------------------------------------------------

  /**
   * Call a server method; resolves to its result, rejects with an RpcError. `timeout` (ms) and
   * an AbortSignal `signal` give up the call (-32008, -32800) and cancel it at the server;
   * `onProgress(value)` hears the method's progress reports, in order, before the result.
   */
  async call(method, params, { timeout, signal, onProgress } = {}) {
    if (signal?.aborted) throw this._abortError(method, signal);
    return this._request([{ method, params, onProgress }], { timeout, signal })[0];
  }

  /** Send a notification; resolves once sent or queued. */
  async notify(method, params) {
    return this._request([{ method, params, notification: true }])[0];
  }

  /**
   * Several calls in one frame. Entries are `[method, params]` or `{method, params, notification}`;
   * resolves to one `{result}` or `{error}` per entry, in order.
   */
  async batch(entries, { timeout } = {}) {
    if (!entries.length) return [];
    const calls = entries.map((e) => (Array.isArray(e) ? { method: e[0], params: e[1] } : e));
    const replies = this._request(calls, { timeout, batch: true });
    return Promise.all(replies.map((reply) => reply.then((result) => ({ result }), (error) => ({ error }))));
  }

  _request(calls, { timeout, signal, batch = false } = {}) {
    const messages = [];
    const promises = [];
    const ids = [];
    const onProgress = [];
    for (const { method, params, notification, onProgress: callback } of calls) {
      if (typeof method !== "string") throw new TypeError("the method name must be a string");
      if (callback != null && typeof callback !== "function") throw new TypeError("onProgress must be a function");
      onProgress.push(callback);
      if (params != null && typeof params !== "object") throw new TypeError("params are an array or an object");
      const message = { jsonrpc: "2.0", method };
      if (params !== undefined && params !== null) message.params = params;
      if (!notification) message.id = this._nextId++;
      messages.push(message);
    }
    // JSON.stringify writes NaN and Infinity as null, never as invalid JSON; a BigInt or a cycle throws here.
    const text = JSON.stringify(batch ? messages : messages[0]);
    for (const [i, message] of messages.entries()) {
      if (message.id === undefined) {
        promises.push(null);
        continue;
      }
      const id = message.id;
      ids.push(id);
      promises.push(new Promise((resolve, reject) => {
        this._pending.set(id, {
          resolve, reject, method: message.method, sent: false, timer: null, onProgress: onProgress[i],
        });
      }));
    }
    let refusal = null;
    if (this._state === "open") this._transmit(text, ids);
    else if (this._state === "closed") refusal = this._closedError();
    else if (this._queue.length < (this.options.offlineQueue || 0)) this._queue.push({ text, ids });
    else refusal = new RpcError("Not connected, and the offline queue is full", {
      code: ErrorCode.DISCONNECTED, data: { state: this._state, offlineQueue: this.options.offlineQueue || 0 },
    });
    const wait = timeout === undefined ? this.options.callTimeout : timeout;
    for (const id of ids) {
      const entry = this._pending.get(id);
      if (refusal) this._settle(id, refusal);
      else if (wait) entry.timer = setTimeout(() => this._timedOut(id, wait), wait);
      if (signal && !refusal) {
        const abort = () => this._giveUp(id, this._abortError(entry.method, signal));
        signal.addEventListener("abort", abort, { once: true });
        entry.unlisten = () => signal.removeEventListener("abort", abort);
      }
    }
    return promises.map((promise) => promise ?? (refusal ? Promise.reject(refusal) : Promise.resolve()));
  }

  _transmit(text, ids) {
    this._ws.send(text);
    for (const id of ids) {
      const entry = this._pending.get(id);
      if (entry) entry.sent = true;
    }
  }

  _timedOut(id, wait) {
    const entry = this._pending.get(id);
    if (!entry) return;
    this._giveUp(id, new RpcError(`No reply to ${entry.method} within ${wait} ms`, {
      code: ErrorCode.TIMED_OUT, data: { method: entry.method, timeout: wait },
    }));
  }

  /** Stop waiting for a call: rejected with `error`; cancelled at the server if it was sent, unqueued if not. */
  _giveUp(id, error) {
    const entry = this._pending.get(id);
    if (!entry) return;
    this._settle(id, error);
    if (entry.sent) this._notice("rpc.cancel", { id });
    else this._queue = this._queue.filter((f) => !f.ids.length || f.ids.some((i) => this._pending.has(i)));
  }

  _abortError(method, signal) {
    return new RpcError("Request cancelled", {
      code: ErrorCode.REQUEST_CANCELLED, data: { method, reason: String(signal.reason ?? "aborted") },
    });
  }

  /** Send a notification of the protocol's own now, when the socket is open (dropped otherwise). */
  _notice(method, params) {
    if (this._ws && this._ws.readyState === OPEN) this._ws.send(JSON.stringify({ jsonrpc: "2.0", method, params }));
  }

  _settle(id, error, result) {
    const entry = this._pending.get(id);
    if (!entry) return;
    this._pending.delete(id);
    clearTimeout(entry.timer);
    entry.unlisten?.();
    if (error) entry.reject(error);
    else entry.resolve(result);
  }

  /** An rpc.progress of one of this client's calls: to its `onProgress`, while it waits. */
  _progress(params) {
    const entry = params && typeof params === "object" ? this._pending.get(params.id) : undefined;
    if (!entry?.onProgress) return;
    try {
      const returned = entry.onProgress(params.value);
      if (returned && typeof returned.then === "function") returned.then(undefined, report);
    } catch (error) {
      report(error);
    }
  }

  _closedError() {
    return new RpcError("The client is closed", { code: ErrorCode.DISCONNECTED, data: { state: "closed" } });
  }

  // Pub/sub -----------------------------------------------------------------

  /**
   * Receive the events of a topic or pattern: `handler(data, event)`, event being the whole
   * `rpc.event` params. Resolves to the server's answer to the first subscription.
   * `{ rewind: K }` hands the handler the topic's last K events first (1: the last value);
   * `{ since: { epoch, offset } }` the events after that position (e.g. `position(topic)` kept
   * across a page load). Both need a topic with history.
   */
  subscribe(topic, handler, { rewind, since } = {}) {
    if (typeof topic !== "string") return Promise.reject(new TypeError("the topic must be a string"));
    if (handler !== undefined && typeof handler !== "function") {
      return Promise.reject(new TypeError("the handler must be a function"));
    }
    if (rewind != null && since != null) return Promise.reject(new TypeError("give rewind or since, not both"));
    if (since != null && !positionOf(since)) {
      return Promise.reject(new TypeError("since is { epoch: string, offset: integer }"));
    }
    if (this._state === "closed") return Promise.reject(this._closedError());
    let sub = this._subs.get(topic);
    if (!sub) {
      sub = new Subscription(topic, { since, rewind });
      this._subs.set(topic, sub);
      // Not connected: the subscription is sent with the others when the connection opens.
      if (this._state === "open") this._subscribeRemote([topic]);
    } else if (handler && (rewind || since) && !sub.handlers.has(handler)) {
      // Another handler that asks for past events: they come from rpc.history, for it alone.
      return sub.ready.then(() => {
        if (this._subs.get(topic) !== sub) return this.subscribe(topic, handler, { rewind, since });
        return this._rewindFor(sub, handler, { rewind, since });
      });
    }
    if (handler) sub.handlers.add(handler);
    return sub.ready;
  }

  /** `{epoch, offset}` of the last event of `topic` handed on; null for a pattern or a topic without history. */
  position(topic) {
    const position = this._subs.get(topic)?.position;
    return position ? { ...position } : null;
  }

  /**
   * A topic's kept events (`rpc.history`): those after `since`, or the last `limit`. Resolves to
   * `{topic, offset, epoch, publications, recovered}`; rejects with -32004 for a topic without history.
   */
  history(topic, { since, limit, timeout } = {}) {
    const params = { topic };
    if (since != null) params.since = { offset: since.offset, epoch: since.epoch };
    if (limit != null) params.limit = limit;
    return this.call("rpc.history", params, { timeout });
  }

  /** Stop a handler, or every handler of the topic; the server forgets the topic when none is left. */
  unsubscribe(topic, handler) {
    const sub = this._subs.get(topic);
    if (!sub) return Promise.resolve({ topic, subscribed: false });
    if (handler) {
      sub.handlers.delete(handler);
      if (sub.handlers.size) return Promise.resolve({ topic, subscribed: true });
    }
    this._subs.delete(topic);
    sub.resolve({ topic, subscribed: false });
    // Requests run concurrently on the server: unsubscribe only after the subscribe was answered.
    return Promise.resolve(sub.remote).then(() => {
      if (this._subs.has(topic) || this._state !== "open") return { topic, subscribed: this._subs.has(topic) };
      return this.call("rpc.unsubscribe", { topic });
    });
  }

  // Presence ------------------------------------------------------------------

  /** Who this connection is (`rpc.info`): `{connection, user, user_id, info?, since}`. */
  info() {
    return this.call("rpc.info");
  }

  /** The connections subscribed to `topic` on every server process: `[{connection, user, user_id, info?}]`. */
  async presence(topic) {
    return (await this.call("rpc.presence", { topic })).clients;
  }

  /** How many connections and distinct logged-in users are subscribed to `topic`: `{topic, connections, users}`. */
  presenceStats(topic) {
    return this.call("rpc.presence_stats", { topic });
  }

  /** `listener({topic, client})` whenever another connection subscribes to a topic with join/leave events. */
  onJoin(listener) {
    return this.on("join", listener);
  }

  /** `listener({topic, client})` whenever another connection leaves such a topic. */
  onLeave(listener) {
    return this.on("leave", listener);
  }

  /** Publish to a concrete topic; resolves to the server's answer. */
  publish(topic, data) {
    return this.call("rpc.publish", { topic, data: data === undefined ? null : data });
  }

  /** The topics and patterns subscribed to. */
  get subscriptions() {
    return [...this._subs.keys()];
  }

  _subscribeRemote(topics) {
    if (!topics.length) return Promise.resolve([]);
    const ws = this._ws;
    const subs = topics.map((topic) => this._subs.get(topic));
    const since = subs.map((sub) => Boolean(sub.position));
    const replies = this._request(
      subs.map((sub) => ({ method: "rpc.subscribe", params: sub.params() })),
      { batch: topics.length > 1 },
    );
    // Events that arrive before an answer is handled wait, so that recovered ones go first.
    for (const sub of subs) sub.hold();
    return Promise.all(topics.map((topic, i) => {
      const sub = subs[i];
      const settled = replies[i].then(
        (result) => {
          const outcomes = sub.subscribed(result, since[i]).concat(sub.release());
          if (this._subs.get(topic) !== sub) return;
          sub.resolve(result);
          this._handOn(sub, outcomes);
        },
        (error) => {
          const held = sub.release();
          if (this._subs.get(topic) !== sub) return;
          // A lost connection is not a refusal: the next connection renews the subscription.
          if (error.code === ErrorCode.DISCONNECTED) return this._handOn(sub, held);
          if (error.code === ErrorCode.TIMED_OUT && sub.confirmed) {
            // A renewal with no answer is no refusal either: renew everything on a new connection.
            this._handOn(sub, held);
            return this._abandon(ws, "renewal timeout");
          }
          this._subs.delete(topic);
          sub.reject(error);
          if (sub.confirmed) this._emit("unsubscribed", { topic, reason: error.message, error });
        },
      );
      sub.remote = settled;
      return settled;
    }));
  }

  /** A handler added with rewind or since to a subscription: the history it asked for, then the rest. */
  _rewindFor(sub, handler, { rewind, since }) {
    if (!sub.position) {
      sub.handlers.add(handler); // a pattern or a topic without history: nothing to rewind
      return Promise.resolve({ topic: sub.topic, subscribed: true, recovered: false, publications: [] });
    }
    sub.hold();
    return this.history(sub.topic, { since, limit: rewind }).then(
      (history) => {
        const earlier = sub.rewound(history);
        if (this._subs.get(sub.topic) === sub) {
          for (const event of earlier) this._run(handler, event);
          sub.handlers.add(handler);
        }
        this._handOn(sub, sub.release());
        const recovered = history?.recovered === true;
        return { topic: sub.topic, subscribed: true, ...sub.position, recovered, publications: earlier };
      },
      (error) => {
        this._handOn(sub, sub.release());
        throw error;
      },
    );
  }

  /** Renew every subscription on a new connection, a chunk at a time; then emit "resubscribed". */
  async _resubscribe() {
    const ws = this._ws;
    const topics = [...this._subs.keys()];
    if (!topics.length) return;
    const size = Math.max(1, this.options.subscribeChunk || topics.length);
    for (let i = 0; i < topics.length && ws === this._ws; i += size) {
      await this._subscribeRemote(topics.slice(i, i + size).filter((t) => this._subs.has(t)));
    }
    if (ws === this._ws) this._emit("resubscribed", { topics: topics.filter((t) => this._subs.has(t)) });
  }

  _event(params) {
    if (!params || typeof params !== "object") return;
    const sub = this._subs.get(params.subscription ?? params.topic);
    if (!sub) return this._emit("event", params);
    this._handOn(sub, sub.event(params));
  }

  _gapNotice(params) {
    if (!params || typeof params !== "object") return;
    const sub = this._subs.get(params.subscription ?? params.topic);
    if (sub) this._handOn(sub, sub.gap(params));
  }

  /** Events to the subscription's handlers (after "event"), gaps as "gap" events, in order. */
  _handOn(sub, outcomes) {
    for (const { event, gap: missed } of outcomes) {
      if (missed) {
        this._emit("gap", missed);
        continue;
      }
      this._emit("event", event);
      for (const handler of [...sub.handlers]) this._run(handler, event);
    }
  }

  _run(handler, event) {
    try {
      const returned = handler(event.data, event);
      if (returned && typeof returned.then === "function") returned.then(undefined, report);
    } catch (error) {
      report(error);
    }
  }

  _revoked(params) {
    const topic = params?.topic;
    const sub = this._subs.get(topic);
    if (sub) {
      this._subs.delete(topic);
      sub.reject(new RpcError(String(params.reason ?? "unsubscribed"), { code: ErrorCode.PERMISSION_DENIED }));
    }
    this._emit("unsubscribed", { topic, reason: params?.reason });
  }

  // Calls from the server -----------------------------------------------------

  /**
   * Let the server call `name`: array params are spread as arguments, object params passed
   * as one. The returned value (or awaited promise) is the result; a thrown RpcError answers
   * with its code, message and data, any other error with -32000 and its message.
   */
  expose(name, fn) {
    if (typeof name !== "string" || name.startsWith("rpc.")) throw new TypeError(`cannot expose ${name}`);
    if (typeof fn !== "function") throw new TypeError("the exposed handler must be a function");
    this._exposed.set(name, fn);
    return () => this._exposed.get(name) === fn && this._exposed.delete(name);
  }

  /** Stop exposing `name`. */
  unexpose(name) {
    this._exposed.delete(name);
  }

  async _answer(message) {
    const { method, params } = message;
    const isCall = "id" in message;
    const id = validId(message.id) ? message.id : null;
    if (message.jsonrpc !== "2.0" || typeof method !== "string" || (params !== undefined && typeof params !== "object")
        || params === null || (isCall && !validId(message.id))) {
      return isCall ? errorReply(id, ErrorCode.INVALID_REQUEST, "Invalid Request") : undefined;
    }
    if (method === "rpc.event" && !isCall) return this._event(params);
    if (method === "rpc.gap" && !isCall) return this._gapNotice(params);
    if (method === "rpc.unsubscribed" && !isCall) return this._revoked(params);
    if ((method === "rpc.join" || method === "rpc.leave") && !isCall) return this._emit(method.slice(4), params);
    if (method === "rpc.subscribed" && !isCall) return this._emit("subscribed", params);
    if (method === "rpc.cancel" && !isCall) return this._cancelRunning(params);
    if (method === "rpc.progress" && !isCall) return this._progress(params);
    if (method === "rpc.ping") return isCall ? { jsonrpc: "2.0", result: "pong", id } : undefined;
    const fn = this._exposed.get(method);
    if (!fn) return isCall ? errorReply(id, ErrorCode.METHOD_NOT_FOUND, "Method not found", { method }) : undefined;
    const running = new Running(this, id, isCall);
    if (isCall) this._track(running);
    try {
      const args = params === undefined ? [] : Array.isArray(params) ? params : [params];
      const outcome = await Promise.race([Promise.resolve(fn.apply(running.context, args)), running.cancelled]);
      if (outcome === CANCELLED) return errorReply(id, ErrorCode.REQUEST_CANCELLED, "Request cancelled", { id });
      running.end(true);
      return isCall ? { jsonrpc: "2.0", result: outcome === undefined ? null : outcome, id } : undefined;
    } catch (error) {
      running.end(true);
      if (!isCall) return report(error);
      if (error instanceof RpcError) return { jsonrpc: "2.0", error: error.toJSON(), id };
      const text = error instanceof Error ? error.message : String(error);
      return errorReply(id, ErrorCode.APPLICATION_ERROR, text || "Application error");
    } finally {
      if (isCall) this._untrack(running);
    }
  }

  _track(running) {
    const all = this._running.get(running.id) ?? new Set();
    all.add(running);
    this._running.set(running.id, all);
  }

  _untrack(running) {
    const all = this._running.get(running.id);
    if (!all) return;
    all.delete(running);
    if (!all.size) this._running.delete(running.id);
  }

  /** The server's rpc.cancel: its call `params.id` to an exposed handler is answered -32800 now. */
  _cancelRunning(params) {
    if (!params || typeof params !== "object" || !validId(params.id)) return;
    for (const running of this._running.get(params.id) ?? []) running.cancel("cancelled by the server");
  }

  // Incoming frames -----------------------------------------------------------

  _receive(text) {
    if (typeof text !== "string") return; // the server sends text frames only
    let payload;
    try {
      payload = JSON.parse(text);
    } catch {
      return this._reply([errorReply(null, ErrorCode.PARSE_ERROR, "Parse error")], false);
    }
    if (!Array.isArray(payload)) return Promise.resolve(this._handle(payload)).then((r) => r && this._reply([r], false));
    if (!payload.length) return this._reply([errorReply(null, ErrorCode.INVALID_REQUEST, "Invalid Request")], false);
    return Promise.all(payload.map((m) => this._handle(m))).then((all) => this._reply(all.filter(Boolean), true));
  }

  _handle(message) {
    if (!message || typeof message !== "object" || Array.isArray(message)) {
      return errorReply(null, ErrorCode.INVALID_REQUEST, "Invalid Request");
    }
    if ("method" in message) return this._answer(message);
    if ("error" in message) this._settle(message.id, RpcError.from(message.error));
    else if ("result" in message) this._settle(message.id, null, message.result);
    // Anything else is a malformed reply: never answered, or two peers could trade errors forever.
    return undefined;
  }

  _reply(replies, batch) {
    if (!replies.length || !this._ws || this._ws.readyState !== OPEN) return;
    // Encoded one by one, so a result with no JSON form spoils only its own reply.
    const parts = replies.map((reply) => {
      try {
        return JSON.stringify(reply);
      } catch (error) {
        report(error);
        return JSON.stringify(errorReply(reply.id ?? null, ErrorCode.INTERNAL_ERROR, "Internal error"));
      }
    });
    this._ws.send(batch ? `[${parts.join(",")}]` : parts[0]);
  }

  // Connection ----------------------------------------------------------------

  _connect() {
    this._retryTimer = null;
    let ws;
    try {
      ws = new (this.options.WebSocket ?? globalThis.WebSocket)(this._handshakeUrl(), this.options.protocols);
    } catch (error) {
      report(error);
      this._ws = null;
      return this._lost(null, 1006, String(error));
    }
    this._ws = ws;
    if (this.options.connectTimeout) {
      this._connectTimer = setTimeout(() => this._abandon(ws, "connect timeout"), this.options.connectTimeout);
    }
    ws.onopen = () => this._opened(ws);
    ws.onmessage = (event) => this._receive(event.data);
    ws.onclose = (event) => this._lost(ws, event.code, event.reason);
    ws.onerror = () => {}; // a close event follows
  }

  /** The URL with the declared client info in its query string. */
  _handshakeUrl() {
    if (this.options.info == null) return this.url;
    const url = new URL(this.url);
    url.searchParams.set("info", JSON.stringify(this.options.info));
    return url.href;
  }

  _opened(ws) {
    if (ws !== this._ws) return;
    clearTimeout(this._connectTimer);
    const previous = this._state;
    this._state = "open";
    this._attempt = 0;
    this._startHeartbeat();
    this._resubscribe();
    for (const { text, ids } of this._queue.splice(0)) {
      if (!ids.length || ids.some((id) => this._pending.has(id))) this._transmit(text, ids);
    }
    this._emitState("open", previous, {});
    for (const waiter of this._waiters.splice(0)) waiter.resolve(this);
  }

  /** A socket ended (or never opened): fail its calls and reconnect, unless closed. */
  _lost(ws, code, reason) {
    if (ws !== this._ws) return;
    detach(ws);
    this._ws = null;
    clearTimeout(this._connectTimer);
    this._stopHeartbeat();
    // The server's calls to exposed handlers cannot be answered any more: their handlers are aborted.
    for (const all of this._running.values()) for (const running of all) running.cancel("connection lost");
    this._running.clear();
    for (const [id, entry] of this._pending) {
      if (!entry.sent) continue;
      this._settle(id, new RpcError(`The connection closed before the reply to ${entry.method}`, {
        code: ErrorCode.DISCONNECTED, data: { method: entry.method, closeCode: code, closeReason: reason },
      }));
    }
    if (this._state === "closed") return;
    if (!this.options.reconnect) return this._shutdown(code, reason);
    const { minDelay, maxDelay, factor, jitter } = this.options;
    const delay = Math.round(Math.min(maxDelay, minDelay * factor ** this._attempt) * (1 - jitter * Math.random()));
    this._attempt += 1;
    this._retryTimer = setTimeout(() => this._connect(), delay);
    this._setState("reconnecting", { code, reason, delay, attempt: this._attempt });
  }

  /** Give up on a socket that stays silent: the browser could take minutes to notice. */
  _abandon(ws, reason) {
    if (ws !== this._ws) return;
    detach(ws, TIMEOUT_CLOSE, reason);
    this._lost(ws, TIMEOUT_CLOSE, reason);
  }

  /** Close the connection for good: no reconnection; pending and queued calls are rejected. */
  close(code = 1000, reason = "") {
    if (this._state === "closed") return;
    detach(this._ws, code, reason);
    this._ws = null;
    this._shutdown(code, reason);
  }

  _shutdown(code, reason) {
    clearTimeout(this._retryTimer);
    clearTimeout(this._connectTimer);
    globalThis.removeEventListener?.("online", this._online);
    this._stopHeartbeat();
    this._setState("closed", { code, reason });
    const error = this._closedError();
    this._queue = [];
    for (const id of [...this._pending.keys()]) this._settle(id, error);
    for (const sub of this._subs.values()) if (!sub.confirmed) sub.reject(error);
    for (const waiter of this._waiters.splice(0)) waiter.reject(error);
  }

  _startHeartbeat() {
    const every = this.options.heartbeatInterval;
    if (!every) return;
    this._heartbeatTimer = setInterval(() => this._heartbeat(), every);
  }

  _stopHeartbeat() {
    clearInterval(this._heartbeatTimer);
    this._heartbeatTimer = null;
    this._pinging = false;
  }

  _heartbeat() {
    if (this._pinging || this._state !== "open") return;
    const ws = this._ws;
    this._pinging = true;
    const timeout = this.options.heartbeatTimeout || this.options.heartbeatInterval;
    this.call("rpc.ping", undefined, { timeout }).then(
      () => {},
      (error) => {
        // No pong in time: the socket may be half-open. Drop it now rather than wait for a
        // close handshake that will not come.
        if (error.code === ErrorCode.TIMED_OUT) this._abandon(ws, "heartbeat timeout");
      },
    ).finally(() => {
      if (ws === this._ws) this._pinging = false;
    });
  }

  _setState(state, extra) {
    const previous = this._state;
    this._state = state;
    this._emitState(state, previous, extra);
  }

  _emitState(state, previous, extra) {
    this._emit("state", { state, previous, ...extra });
    this._emit(state, { state, previous, ...extra });
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

export default WsRpcClient;
