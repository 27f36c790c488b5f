"""The Prometheus instruments, made in ``prometheus_client``'s default registry.

Importing this module raises :class:`ImportError` without
``prometheus_client`` (the ``wsrpc[metrics]`` extra): :mod:`.recorder` then
records nothing. Under ``PROMETHEUS_MULTIPROC_DIR`` the values live in that
directory's files, one per process, and :mod:`.view` sums them.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "CALL_DURATION",
    "CALLS",
    "CHANNEL_LAYER_ERRORS",
    "CHANNEL_LAYER_RECONNECTS",
    "CLIENT_CALL_DURATION",
    "CLIENT_CALLS",
    "CONNECTIONS_CLOSED",
    "CONNECTIONS_OPEN",
    "CONNECTIONS_OPENED",
    "EVENTS_DELIVERED",
    "EVENTS_DROPPED",
    "EVENTS_PUBLISHED",
    "EVENTS_RECOVERED",
    "FRAMES_RECEIVED",
    "FRAMES_SENT",
    "HISTORY_OPERATIONS",
    "PRESENCE_OPERATIONS",
    "RATE_LIMITED",
    "RECEIVED_BYTES",
    "SENT_BYTES",
    "SLOW_CONSUMER_CLOSES",
]

#: Seconds: from a fast in-process method to the default METHOD_TIME_LIMIT (60 s).
DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

# Connections
CONNECTIONS_OPEN = Gauge("wsrpc_connections_open", "WebSocket connections open now.", multiprocess_mode="livesum")
CONNECTIONS_OPENED = Counter("wsrpc_connections_opened", "WebSocket connections accepted.")
CONNECTIONS_CLOSED = Counter("wsrpc_connections_closed", "WebSocket connections closed, by close code.", ["code"])
SLOW_CONSUMER_CLOSES = Counter(
    "wsrpc_slow_consumer_closes", "Connections closed with 4008 because their outbound queue was full."
)

# Calls
CALLS = Counter(
    "wsrpc_calls",
    "Requests answered by the server, by method and outcome (ok, or the error code).",
    ["method", "outcome"],
)
CALL_DURATION = Histogram(
    "wsrpc_call_duration_seconds",
    "How long the server took to answer a request, by method.",
    ["method"],
    buckets=DURATION_BUCKETS,
)
CLIENT_CALLS = Counter(
    "wsrpc_client_calls",
    "Calls from the server to a client, by method and outcome (ok, timeout, disconnected, or the error code).",
    ["method", "outcome"],
)
CLIENT_CALL_DURATION = Histogram(
    "wsrpc_client_call_duration_seconds",
    "How long a client took to answer a call from the server, by method.",
    ["method"],
    buckets=DURATION_BUCKETS,
)
RATE_LIMITED = Counter("wsrpc_rate_limited", "Requests refused -32029 for a limit, by limit.", ["limit"])

# Frames
FRAMES_RECEIVED = Counter("wsrpc_frames_received", "WebSocket frames received.")
FRAMES_SENT = Counter("wsrpc_frames_sent", "WebSocket frames sent.")
RECEIVED_BYTES = Counter("wsrpc_received_bytes", "Bytes of the WebSocket frames received (UTF-8).")
SENT_BYTES = Counter("wsrpc_sent_bytes", "Bytes of the WebSocket frames sent (UTF-8).")

# Pub/sub
EVENTS_PUBLISHED = Counter("wsrpc_events_published", "Events this process put on the channel layer.")
EVENTS_DELIVERED = Counter("wsrpc_events_delivered", "rpc.event frames queued to subscribers of this process.")
EVENTS_RECOVERED = Counter("wsrpc_events_recovered", "Events sent from history to subscribers recovering.")
EVENTS_DROPPED = Counter(
    "wsrpc_events_dropped",
    "Frames subscribers never got, by reason: slow_consumer (the full queue of a connection closed 4008), "
    "gap (lost events).",
    ["reason"],
)
CHANNEL_LAYER_ERRORS = Counter(
    "wsrpc_channel_layer_errors", "Channel-layer operations that failed, by operation.", ["operation"]
)
CHANNEL_LAYER_RECONNECTS = Counter(
    "wsrpc_channel_layer_reconnects", "Times the hub subscribed anew after the layer's Redis blinked or lost data."
)
HISTORY_OPERATIONS = Counter("wsrpc_history_operations", "History store operations, by operation.", ["operation"])
PRESENCE_OPERATIONS = Counter("wsrpc_presence_operations", "Presence store operations, by operation.", ["operation"])
