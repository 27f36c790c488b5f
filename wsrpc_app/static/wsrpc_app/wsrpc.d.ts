/**
 * Types of wsrpc.js, the browser client of wsrpc_app: JSON-RPC 2.0 and pub/sub over one WebSocket.
 *
 * When the connection is lost (a deliberate choice):
 * - a call already sent is rejected at once with code -32099 (`ErrorCode.DISCONNECTED`):
 *   the server may or may not have run it, so it is never re-sent;
 * - a call made while connecting or reconnecting waits in a bounded offline queue
 *   (`offlineQueue` frames, 100 by default; 0 rejects at once with -32099) and is sent when
 *   the connection opens; its timeout counts from the moment of the call;
 * - once closed (`close()`, or a drop with `reconnect: false`) every call is rejected with -32099.
 * Subscriptions survive reconnects: they are renewed on each new connection ("resubscribed" is
 * emitted once the server answered). A topic with history is renewed `since` the last event handed
 * on: missed events reach the same handlers first, in order, each once; "gap" is emitted when they
 * cannot. Patterns and topics without history are renewed plainly (events in between are missed).
 */

/** JSON as it travels on the wire. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** JSON-RPC params: positional or named. */
export type Params = readonly unknown[] | Record<string, unknown>;

export declare const ErrorCode: Readonly<{
  PARSE_ERROR: -32700;
  INVALID_REQUEST: -32600;
  METHOD_NOT_FOUND: -32601;
  INVALID_PARAMS: -32602;
  INTERNAL_ERROR: -32603;
  APPLICATION_ERROR: -32000;
  NOT_AUTHENTICATED: -32001;
  PERMISSION_DENIED: -32003;
  NO_SUCH_TOPIC: -32004;
  TIMED_OUT: -32008;
  TOO_MANY_REQUESTS: -32029;
  /** The call was cancelled: by its AbortSignal here, or by `rpc.cancel` at the other side. */
  REQUEST_CANCELLED: -32800;
  /** Client-side only: the connection closed before the reply, or there is none to send on. */
  DISCONNECTED: -32099;
}>;

/** The JSON-RPC error object. */
export interface ErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

/** A JSON-RPC error: from the server's error reply, or thrown by an exposed handler to answer with. */
export declare class RpcError extends Error {
  constructor(message: string, options?: { code?: number; data?: unknown });
  readonly name: "RpcError";
  code: number;
  data: unknown;
  /** The RpcError for a JSON-RPC error object (-32603 when it is not a valid one). */
  static from(error: unknown): RpcError;
  toJSON(): ErrorObject;
}

export type State = "connecting" | "open" | "reconnecting" | "closed";

export interface WsRpcOptions {
  // Reconnection
  /** Reconnect after the connection drops (default true). `close()` always stops it. */
  reconnect?: boolean;
  /** ms before the first retry (default 500). */
  minDelay?: number;
  /** ms, the longest wait between retries (default 30000). */
  maxDelay?: number;
  /** Each failed attempt multiplies the delay by this (default 2). */
  factor?: number;
  /** Each delay is shortened by a random fraction up to this, 0..1 (default 0.5). */
  jitter?: number;
  // Timeouts, in ms; 0 or null disables
  /** A handshake not done by then is abandoned and retried (default 10000). */
  connectTimeout?: number | null;
  /** Default per-call timeout; past it the call rejects with -32008 (default 30000). */
  callTimeout?: number | null;
  /** Send `rpc.ping` this often while open (default 25000). */
  heartbeatInterval?: number | null;
  /** No pong within this: the socket is dead (half-open), closed and reconnected (default 10000). */
  heartbeatTimeout?: number | null;
  // Limits
  /** Frames kept while not connected (default 100); 0 rejects calls made offline at once. */
  offlineQueue?: number;
  /** Topics per batch when subscriptions are renewed after a reconnect (default 8). */
  subscribeChunk?: number;
  /** `rpc.progress` reports of one exposed call per second (default 20; 0 or null: no bound). */
  progressRate?: number | null;
  // Presence
  /** What the client declares about itself on every connection (`?info=`, at most 1 KB of JSON). */
  info?: { [key: string]: Json };
  // Transport
  /** WebSocket subprotocols. */
  protocols?: string | string[];
  /** A WebSocket implementation (default: the global one). */
  WebSocket?: typeof WebSocket;
}

export declare const DEFAULTS: Readonly<Required<Omit<WsRpcOptions, "protocols" | "WebSocket" | "info">>> & {
  readonly protocols: undefined;
  readonly WebSocket: undefined;
  readonly info: undefined;
};

/** A connection as `rpc.presence` lists it and `rpc.join` / `rpc.leave` name it. */
export interface PresenceClient {
  /** Its id, unique across server processes. */
  connection: string;
  /** The username; null when anonymous. */
  user: string | null;
  /** The user's primary key; null when anonymous. */
  user_id: Json;
  /** What the client declared on connecting (the `info` option), when it did. */
  info?: { [key: string]: Json };
}

/** Who this connection is (`rpc.info`). */
export interface ConnectionInfo extends PresenceClient {
  /** When it opened (ISO 8601, UTC). */
  since: string;
}

export interface PresenceStats {
  topic: string;
  /** Connections subscribed to the exact topic. */
  connections: number;
  /** Distinct logged-in users among them. */
  users: number;
}

/** Another connection joined or left a topic with join/leave events. */
export interface PresenceDetail {
  topic: string;
  client: PresenceClient;
}

/** The params of an `rpc.event` notification. */
export interface RpcEvent<T = unknown> {
  /** The concrete topic published to. */
  topic: string;
  data: T;
  /** The pattern subscribed to, when the subscription was a pattern. */
  subscription?: string;
  /** For a topic with history: its place in the topic's stream (consecutive within an epoch). */
  offset?: number;
  /** For a topic with history: changes whenever the topic's history was lost. */
  epoch?: string;
  [field: string]: unknown;
}

/** Where a topic's stream is: the last offset handed on, in an epoch. */
export interface Position {
  epoch: string;
  offset: number;
}

export interface SubscribeOptions {
  /** Hand the handler the topic's last K events first (1: the last value). Needs a topic with history. */
  rewind?: number;
  /** Hand the handler the events after this position first (e.g. `position(topic)` kept across a page load). */
  since?: Position;
}

export interface HistoryResult<T = unknown> {
  topic: string;
  /** The topic's current position. */
  offset: number;
  epoch: string;
  /** The events asked for, in offset order. */
  publications: RpcEvent<T>[];
  /** False when `since` is too old (trimmed, another epoch): refetch instead. */
  recovered: boolean;
}

export interface GapDetail {
  /** The topic whose events were missed. */
  topic: string;
  /** "not_recovered": a renewal `since` the last event answered `recovered: false`; "gap": `rpc.gap` (or skipped offsets). */
  reason: "not_recovered" | "gap";
  /** Where the stream goes on from: the next event has offset `offset + 1` (null without history). */
  epoch: string | null;
  offset: number | null;
  /** The missing offsets, inclusive, when known. */
  missed: [number, number] | null;
  /** The pattern, for a gap seen through a pattern subscription. */
  subscription?: string;
}

export type EventHandler<T = unknown> = (data: T, event: RpcEvent<T>) => void | Promise<void>;

export interface SubscribeResult {
  topic: string;
  subscribed: boolean;
  /** For a topic with history: its current position. */
  offset?: number;
  epoch?: string;
  /** With `rewind` or `since`: whether the events asked for could be given. */
  recovered?: boolean;
  /** With `rewind` or `since`: the events handed to the handler first. */
  publications?: RpcEvent[];
  [field: string]: unknown;
}

export interface PublishResult {
  topic: string;
  [field: string]: unknown;
}

/** One call of a batch: `[method, params]` or an object; notifications get no reply. */
export type BatchEntry =
  | readonly [method: string, params?: Params]
  | { method: string; params?: Params; notification?: boolean };

/** The outcome of one batch entry: a result or an error (neither for a notification). */
export interface BatchOutcome<T = unknown> {
  result?: T;
  error?: RpcError;
}

export interface StateDetail {
  state: State;
  previous: State;
  /** The close code of the connection that ended (reconnecting, closed). */
  code?: number;
  reason?: string;
  /** ms until the next attempt (reconnecting). */
  delay?: number;
  /** Attempts since the connection was last open (reconnecting). */
  attempt?: number;
}

export interface UnsubscribedDetail {
  topic: string;
  /** Why: e.g. "permission revoked", or the refusal of a renewed subscription. */
  reason?: string;
  error?: RpcError;
}

export interface WsRpcEventMap {
  state: StateDetail;
  connecting: StateDetail;
  open: StateDetail;
  reconnecting: StateDetail;
  closed: StateDetail;
  /** A subscription ended on the server's side (`rpc.unsubscribed`, or refused on renewal). */
  unsubscribed: UnsubscribedDetail;
  /** Every event handed to handlers (recovered ones too, duplicates never), just before them. */
  event: RpcEvent;
  /** Events of a topic were missed for good: refetch what the page shows of it. */
  gap: GapDetail;
  /** The subscriptions were renewed on a new connection (the server answered every one). */
  resubscribed: { topics: string[] };
  /** `rpc.join`: another connection subscribed to a topic with join/leave events. */
  join: PresenceDetail;
  /** `rpc.leave`: another connection left such a topic (unsubscribed or closed). */
  leave: PresenceDetail;
  /** Server code subscribed this connection (`subscribe_user`): its events come as "event". */
  subscribed: { topic: string; subscribed: boolean };
}

/** What an exposed handler gets as `this` (use a `function`, not an arrow, to read it). */
export interface CallContext {
  /** The id of the server's request. */
  readonly id: string | number | null;
  /** Aborts when the server cancels the call (`rpc.cancel`) or the connection is lost. */
  readonly signal: AbortSignal;
  /** Report progress to the server (`rpc.progress`): at most `progressRate` a second, the latest kept. */
  progress(value: unknown): void;
}

/**
 * A server method handler: array params spread as arguments, object params passed as one;
 * `this` is the call's {@link CallContext}.
 */
export type ExposedHandler = (this: CallContext, ...args: any[]) => unknown;

/** Options of one call. */
export interface CallOptions {
  /** ms before the call rejects with -32008 and is cancelled at the server (default `callTimeout`; 0 or null: none). */
  timeout?: number | null;
  /** Aborting it rejects the call with -32800 and cancels it at the server (`rpc.cancel`). */
  signal?: AbortSignal;
  /** Hears the method's progress reports (`rpc.progress`), in order, before the result. */
  onProgress?: (value: any) => void | Promise<void>;
}

export declare class WsRpcClient extends EventTarget {
  /**
   * Connects at once. `url` is resolved against the page ("/ws/rpc/" by default; http→ws, https→wss).
   */
  constructor(url?: string | URL, options?: WsRpcOptions);

  /** The resolved ws:// or wss:// URL. */
  readonly url: string;
  readonly options: Readonly<Required<Omit<WsRpcOptions, "protocols" | "WebSocket">>> & WsRpcOptions;
  readonly state: State;
  /** Resolves when the connection first opens; rejects if the client is closed before. */
  readonly ready: Promise<WsRpcClient>;
  /** The topics and patterns subscribed to. */
  readonly subscriptions: string[];
  /** `client.methods.add(1, 2)` is `client.call("add", [1, 2])`. */
  readonly methods: Record<string, (...args: unknown[]) => Promise<any>>;

  /** Resolves when the connection is open, now or at the next (re)connection; rejects once closed. */
  connected(): Promise<WsRpcClient>;

  /**
   * Call a server method. Resolves to its result; rejects with an RpcError: the server's error,
   * -32008 past `timeout` ms (default `callTimeout`; 0 or null: none), -32800 when `signal` aborts
   * (both cancel the method at the server), -32099 when disconnected.
   */
  call<T = any>(method: string, params?: Params | null, options?: CallOptions): Promise<T>;
  /** Send a notification; resolves once sent or queued, rejects with -32099 when it cannot be. */
  notify(method: string, params?: Params | null): Promise<void>;
  /** Several calls in one JSON-RPC batch frame; one outcome per entry, in order. */
  batch(entries: readonly BatchEntry[], options?: { timeout?: number | null }): Promise<BatchOutcome[]>;

  /**
   * Receive the events of a topic or pattern; several handlers per topic. Resolves to the server's
   * answer to the first subscription; rejects (and forgets the topic) when the server refuses it.
   * With `rewind` or `since`, the handler gets those past events first.
   */
  subscribe<T = unknown>(topic: string, handler?: EventHandler<T>, options?: SubscribeOptions): Promise<SubscribeResult>;
  /** The position of the last event of `topic` handed on; null for a pattern or a topic without history. */
  position(topic: string): Position | null;
  /** A topic's kept events (`rpc.history`): after `since`, or the last `limit`; -32004 without history. */
  history<T = unknown>(
    topic: string,
    options?: { since?: Position; limit?: number; timeout?: number | null },
  ): Promise<HistoryResult<T>>;
  /** Remove one handler, or all of them; the server forgets the topic when none is left. */
  unsubscribe(topic: string, handler?: EventHandler<any>): Promise<SubscribeResult>;
  /** Publish to a concrete topic. */
  publish(topic: string, data?: unknown): Promise<PublishResult>;
  /** Who this connection is: its id, its user, what it declared. */
  info(): Promise<ConnectionInfo>;
  /** The connections subscribed to `topic` on every server process (-32003 when not allowed, -32004 without presence). */
  presence(topic: string): Promise<PresenceClient[]>;
  /** How many connections and distinct users are subscribed to `topic`. */
  presenceStats(topic: string): Promise<PresenceStats>;
  /** `listener({topic, client})` on `rpc.join`; returns a function that stops it. */
  onJoin(listener: (detail: PresenceDetail) => void): () => void;
  /** `listener({topic, client})` on `rpc.leave`; returns a function that stops it. */
  onLeave(listener: (detail: PresenceDetail) => void): () => void;

  /**
   * Let the server call `name` (not `rpc.*`). The return value (or awaited promise) is the result;
   * a thrown RpcError answers with its code, message and data, any other error with -32000 and its
   * message. `this` is the call's {@link CallContext}: its `signal` aborts when the server cancels
   * the call, which is then answered -32800 without waiting for the handler. Returns a function
   * that stops exposing it.
   */
  expose(name: string, fn: ExposedHandler): () => boolean;
  /** Stop exposing `name`. */
  unexpose(name: string): void;

  /** Close for good: no reconnection; pending and queued calls reject with -32099. */
  close(code?: number, reason?: string): void;

  /** Listen to an event; returns a function that removes the listener. */
  on<K extends keyof WsRpcEventMap>(type: K, listener: (detail: WsRpcEventMap[K], event: CustomEvent<WsRpcEventMap[K]>) => void): () => void;
  addEventListener<K extends keyof WsRpcEventMap>(
    type: K,
    listener: (event: CustomEvent<WsRpcEventMap[K]>) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof WsRpcEventMap>(
    type: K,
    listener: (event: CustomEvent<WsRpcEventMap[K]>) => void,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}

/** The ws:// or wss:// URL of `url`, resolved against the page's address. */
export declare function resolveUrl(url: string | URL): string;

export default WsRpcClient;

declare global {
  interface Window {
    /** Set by the `{% wsrpc_client %}` template tag. */
    WsRpcClient?: typeof WsRpcClient;
    /** Set by the `{% wsrpc_client %}` template tag. */
    RpcError?: typeof RpcError;
    /** The page's connected client, set by the `{% wsrpc_client %}` template tag. */
    wsrpc?: WsRpcClient;
  }
  interface WindowEventMap {
    /** Dispatched by the `{% wsrpc_client %}` template tag once `window.wsrpc` exists. */
    "wsrpc:ready": CustomEvent<{ client: WsRpcClient }>;
  }
}
