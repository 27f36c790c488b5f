"""The AsyncAPI 3.0 document of the WebSocket channel (https://www.asyncapi.com/docs/reference/specification/v3.0.0).

It describes the server: ``receive`` operations are frames the client
sends, ``send`` operations frames the server sends. One channel, the
WebSocket at ``/ws/rpc/``, carries JSON-RPC 2.0 both ways: calls with their
replies, notifications, batches, and the ``rpc.*`` methods of pub/sub. Each
topic the caller may use (a ``Topic`` row) gets a channel of its own whose
address is the topic name: a virtual channel, multiplexed over the socket,
whose events are ``rpc.event`` notifications.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypeAlias

from .. import conf
from ..core.errors import CloseCode, ErrorCode
from ..core.topics import MAX_LENGTH, PATTERN_REGEX, TOPIC_REGEX
from ..core.types import JSON, JSONObject

__all__ = ["ASYNCAPI_VERSION", "ERROR_CODES", "CLOSE_CODES", "WEBSOCKET_PATH", "document", "topic_channel_id"]

ASYNCAPI_VERSION = "3.0.0"
#: Where ``wsrpc_app.routing.websocket_urlpatterns`` serves the consumer, from the site root.
WEBSOCKET_PATH = "/" + conf.WEBSOCKET_PATH
CONTENT_TYPE = "application/json"

#: A JSON Schema, as the payloads of messages are described.
Schema: TypeAlias = JSONObject

#: The error codes of the wire protocol and what each means.
ERROR_CODES: tuple[tuple[ErrorCode, str], ...] = (
    (ErrorCode.PARSE_ERROR, "Parse error: invalid JSON, or NaN/Infinity (id null; the connection stays open)"),
    (ErrorCode.INVALID_REQUEST, "Invalid request: bad shape, [], a batch too long, a binary frame"),
    (ErrorCode.METHOD_NOT_FOUND, "Method not found"),
    (ErrorCode.INVALID_PARAMS, "Invalid params (data says which)"),
    (ErrorCode.INTERNAL_ERROR, "Internal error (no exception text unless DEBUG)"),
    (ErrorCode.APPLICATION_ERROR, "Application error raised by a method (it may use a code of its own)"),
    (ErrorCode.NOT_AUTHENTICATED, "Not authenticated: the method needs a logged-in user"),
    (ErrorCode.PERMISSION_DENIED, "Permission denied (method or topic)"),
    (ErrorCode.NO_SUCH_TOPIC, "No such topic, or an invalid topic name (data.reason says why)"),
    (ErrorCode.TIMED_OUT, "Timed out: a call to the client, or a method over its time limit"),
    (ErrorCode.TOO_MANY_REQUESTS, "Too many requests: in-flight calls, subscriptions or publish rate"),
    (ErrorCode.UNAVAILABLE, "Unavailable: the channel layer or the history store cannot be reached; retry later"),
    (ErrorCode.REQUEST_CANCELLED, "Request cancelled: rpc.cancel stopped it, or its caller gave up waiting"),
)

#: The WebSocket close codes the server uses and what each means.
CLOSE_CODES: tuple[tuple[CloseCode, str], ...] = (
    (CloseCode.NORMAL, "Normal closure"),
    (
        CloseCode.DISCONNECTED,
        "The server ended the connection: its user logged out, was deactivated, lost its token or changed its "
        "password, or server code disconnected it (disconnect_user, disconnect_connection)",
    ),
    (
        CloseCode.MESSAGE_TOO_BIG,
        f"A frame over MAX_MESSAGE_BYTES ({CloseCode.MESSAGE_TOO_BIG_PRIVATE} under daphne, "
        f"which refuses {CloseCode.MESSAGE_TOO_BIG} from an application)",
    ),
    (CloseCode.SLOW_CONSUMER, "The client did not read: its outbound queue reached MAX_OUTBOUND_QUEUE"),
    (CloseCode.IDLE_TIMEOUT, "Nothing received for IDLE_TIMEOUT seconds (clients send rpc.ping heartbeats)"),
    (CloseCode.LIFESPAN_REACHED, "The connection reached MAX_LIFESPAN: reconnect"),
)

_RPC = "rpc"
_SERVER = "wsrpc"


def _ref(*path: str) -> dict[str, str]:
    return {"$ref": "#/" + "/".join(part.replace("~", "~0").replace("/", "~1") for part in path)}


def _schema(name: str) -> dict[str, str]:
    return _ref("components", "schemas", name)


def topic_channel_id(name: str) -> str:
    """The key of a topic's channel: its name, wildcards spelled out so references stay plain."""
    return "topic." + name.replace("*", "_star_").replace("#", "_hash_")


def document(
    topics: Iterable[Mapping[str, JSON]] = (),
    *,
    host: str = "localhost:8000",
    protocol: str = "ws",
    path: str = WEBSOCKET_PATH,
    title: str = "wsrpc",
    version: str | None = None,
    session_cookie: str = "sessionid",
) -> JSONObject:
    """The AsyncAPI document of the WebSocket at ``protocol://host`` + ``path``.

    ``topics`` are the topics the caller may use, each a mapping with
    ``name``, ``description``, ``pattern``, ``subscribe`` and ``publish``
    (what ``GET topics/`` answers).
    """
    from .. import __version__

    channels: dict[str, JSONObject] = {_RPC: _rpc_channel(path)}
    operations = _rpc_operations()
    for topic in topics:
        key = topic_channel_id(topic["name"])
        channels[key] = _topic_channel(topic)
        operations.update(_topic_operations(key, topic))
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": title,
            "version": version or __version__,
            "description": _DESCRIPTION,
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            _SERVER: {
                "host": host,
                "protocol": protocol,
                "title": "wsrpc WebSocket",
                "description": (
                    "Authenticated by the Django session cookie or by `Authorization: Token <key>` on the "
                    "handshake, or anonymous. An invalid token, a foreign `Origin` or a refusal in `on_connect` "
                    "refuses the handshake (HTTP 403)."
                ),
                "security": [
                    _ref("components", "securitySchemes", "token"),
                    _ref("components", "securitySchemes", "session"),
                ],
            }
        },
        "channels": channels,
        "operations": operations,
        "components": _components(session_cookie),
    }


_DESCRIPTION = "\n".join(
    [
        "JSON-RPC 2.0 over one WebSocket, both ways: text frames, each one JSON-RPC message or batch. Both sides "
        "send requests and number their own ids; a frame with `method` is a request (a notification without "
        "`id`), one with `result` or `error` answers a request the receiving side sent. Requests run "
        "concurrently; a batch is answered as one array once all of its requests are done.",
        "",
        "Operations are described from the server's side: `receive` for what the client sends, `send` for what "
        "the server sends. Each topic the caller may use is a channel of its own, multiplexed over the socket: "
        "subscribe with `rpc.subscribe`, publish with `rpc.publish`, receive `rpc.event` notifications.",
        "",
        "| error code | meaning |",
        "| --- | --- |",
        *(f"| {code} | {meaning} |" for code, meaning in ERROR_CODES),
        "",
        "| close code | meaning |",
        "| --- | --- |",
        *(f"| {code} | {meaning} |" for code, meaning in CLOSE_CODES),
    ]
)


# Channels ------------------------------------------------------------------------


def _rpc_channel(path: str) -> JSONObject:
    return {
        "address": path,
        "title": "JSON-RPC",
        "summary": "The WebSocket: every frame of both sides.",
        "servers": [_ref("servers", _SERVER)],
        "messages": {name: _ref("components", "messages", message) for name, message in _RPC_MESSAGES.items()},
        "bindings": {
            "ws": {
                "method": "GET",
                "headers": {
                    "type": "object",
                    "properties": {
                        "Authorization": {
                            "type": "string",
                            "pattern": "^Token ",
                            "description": "A DRF token: `Token <key>`. Invalid tokens are refused, not anonymous.",
                        },
                        "Origin": {
                            "type": "string",
                            "description": "Browsers send it; it must be an allowed origin (ALLOWED_ORIGINS).",
                        },
                    },
                },
                "bindingVersion": "0.1.0",
            }
        },
    }


#: The messages of the WebSocket channel (its keys) and their components.
_RPC_MESSAGES = {
    "request": "Request",
    "notification": "Notification",
    "result": "Result",
    "error": "Error",
    "batch": "Batch",
    "batchReply": "BatchReply",
    "subscribe": "Subscribe",
    "unsubscribe": "Unsubscribe",
    "publish": "Publish",
    "ping": "Ping",
    "discover": "Discover",
    "history": "History",
    "event": "Event",
    "unsubscribed": "Unsubscribed",
    "gap": "Gap",
    "cancel": "Cancel",
    "progress": "Progress",
    "info": "Info",
    "presence": "Presence",
    "presenceStats": "PresenceStats",
    "join": "Join",
    "leave": "Leave",
    "subscribed": "Subscribed",
}


def _operation(
    action: str, channel: str, messages: Iterable[str], summary: str, reply: Iterable[str] = ()
) -> JSONObject:
    operation: JSONObject = {
        "action": action,
        "channel": _ref("channels", channel),
        "summary": summary,
        "messages": [_ref("channels", channel, "messages", name) for name in messages],
    }
    replies = list(reply)
    if replies:
        operation["reply"] = {
            "channel": _ref("channels", _RPC),
            "messages": [_ref("channels", _RPC, "messages", name) for name in replies],
        }
    return operation


def _rpc_operations() -> dict[str, JSONObject]:
    answer = ("result", "error")
    return {
        "receiveCall": _operation(
            "receive", _RPC, ["request"], "The client calls a method; the server answers.", answer
        ),
        "receiveNotification": _operation(
            "receive", _RPC, ["notification"], "The client calls a method without waiting: never answered."
        ),
        "receiveBatch": _operation(
            "receive", _RPC, ["batch"], "Several calls in one frame, answered in one array.", ["batchReply", "error"]
        ),
        "receiveSubscribe": _operation(
            "receive", _RPC, ["subscribe"], "Subscribe to a topic or pattern: rpc.event notifications follow.", answer
        ),
        "receiveUnsubscribe": _operation("receive", _RPC, ["unsubscribe"], "End a subscription.", answer),
        "receivePublish": _operation("receive", _RPC, ["publish"], "Publish to a concrete topic.", answer),
        "receiveHistory": _operation(
            "receive", _RPC, ["history"], "Read the stored events of a topic that keeps history.", answer
        ),
        "receivePing": _operation("receive", _RPC, ["ping"], 'A heartbeat: answered "pong".', answer),
        "receiveInfo": _operation(
            "receive", _RPC, ["info"], "Who this connection is: its id (unique across processes), its user.", answer
        ),
        "receivePresence": _operation(
            "receive", _RPC, ["presence"], "The connections subscribed to a topic that keeps presence.", answer
        ),
        "receivePresenceStats": _operation(
            "receive", _RPC, ["presenceStats"], "How many connections and users are subscribed to it.", answer
        ),
        "sendJoin": _operation(
            "send", _RPC, ["join"], "Another connection subscribed to a topic with join/leave events."
        ),
        "sendLeave": _operation(
            "send", _RPC, ["leave"], "Another connection left such a topic (unsubscribed or closed)."
        ),
        "sendSubscribed": _operation(
            "send", _RPC, ["subscribed"], "Server code subscribed this connection to a topic (subscribe_user)."
        ),
        "receiveDiscover": _operation(
            "receive", _RPC, ["discover"], "Ask for the OpenRPC document of the methods the caller may call.", answer
        ),
        "sendCall": _operation(
            "send",
            _RPC,
            ["request"],
            "A method calls the client back (connection.call): the client answers, within CALL_TIMEOUT.",
            answer,
        ),
        "sendNotification": _operation(
            "send", _RPC, ["notification"], "A method notifies the client (connection.notify, notify_user)."
        ),
        "sendEvent": _operation(
            "send", _RPC, ["event"], "Something was published to a topic this connection subscribed to."
        ),
        "sendUnsubscribed": _operation(
            "send", _RPC, ["unsubscribed"], "The server ended a subscription (a permission was revoked)."
        ),
        "sendGap": _operation(
            "send", _RPC, ["gap"], "A subscriber missed events of a topic with history that it can never get."
        ),
        "receiveCancel": _operation(
            "receive", _RPC, ["cancel"], "The client gave up a call: the method is cancelled and answered -32800."
        ),
        "sendCancel": _operation(
            "send",
            _RPC,
            ["cancel"],
            "A call to the client was given up (CALL_TIMEOUT, METHOD_TIME_LIMIT, or its method was cancelled).",
        ),
        "receiveProgress": _operation(
            "receive", _RPC, ["progress"], "A method of the client reports progress on the server's call to it."
        ),
        "sendProgress": _operation(
            "send",
            _RPC,
            ["progress"],
            "A method with a `progress` parameter reports progress before its result, at most PROGRESS_RATE a second.",
        ),
    }


def _topic_channel(topic: Mapping[str, JSON]) -> JSONObject:
    name: str = topic["name"]
    pattern = bool(topic.get("pattern"))
    description = str(topic.get("description") or "").strip()
    can = [action for action in ("subscribe", "publish") if topic.get(action)]
    notes = (
        f"A pattern: its events carry the concrete topic in `topic` and `{name}` in `subscription`."
        if pattern
        else "A topic."
    )
    history = topic.get("history")
    presence = topic.get("presence")
    if isinstance(history, dict):
        notes += (
            f" Keeps history: events carry `offset` and `epoch`, and subscribers recover up to"
            f" {history.get('size')} events, {history.get('ttl')} s old at most."
        )
    channel: JSONObject = {
        "address": name,
        "title": name,
        "description": "\n\n".join(filter(None, [description, notes, f"You may {' and '.join(can) or 'not use it'}."])),
        "servers": [_ref("servers", _SERVER)],
        "messages": {"event": _topic_event(name, pattern)},
        "x-wsrpc-pattern": pattern,
        "x-wsrpc-subscribe": bool(topic.get("subscribe")),
        "x-wsrpc-publish": bool(topic.get("publish")),
        "x-wsrpc-history": history if isinstance(history, dict) else None,
        "x-wsrpc-presence": presence if isinstance(presence, dict) else None,
    }
    if topic.get("publish") and not pattern:
        channel["messages"]["publish"] = _topic_publish(name)
    return channel


def _topic_event(name: str, pattern: bool) -> JSONObject:
    if pattern:
        params: Schema = {
            "allOf": [
                _schema("EventParams"),
                {"required": ["subscription"], "properties": {"subscription": {"const": name}}},
            ]
        }
    else:
        params = {"allOf": [_schema("EventParams"), {"properties": {"topic": {"const": name}}}]}
    return {
        "name": "rpc.event",
        "title": f"Event on {name}",
        "payload": {"allOf": [_schema("Event"), {"properties": {"params": params}}]},
    }


def _topic_publish(name: str) -> JSONObject:
    return {
        "name": "rpc.publish",
        "title": f"Publish to {name}",
        "payload": {
            "allOf": [
                _schema("Publish"),
                {"properties": {"params": {"properties": {"topic": {"const": name}}, "items": [{"const": name}]}}},
            ]
        },
    }


def _topic_operations(key: str, topic: Mapping[str, JSON]) -> dict[str, JSONObject]:
    operations: dict[str, JSONObject] = {}
    if topic.get("subscribe"):
        operations[f"{key}.events"] = _operation(
            "send", key, ["event"], f"Events published to {topic['name']}, to its subscribers."
        )
    if topic.get("publish") and not topic.get("pattern"):
        operations[f"{key}.publish"] = _operation(
            "receive", key, ["publish"], f"The client publishes to {topic['name']}.", ("result", "error")
        )
    return operations


# Components ---------------------------------------------------------------------


def _components(session_cookie: str) -> JSONObject:
    return {
        "schemas": _SCHEMAS,
        "messages": _MESSAGES,
        "securitySchemes": {
            "token": {
                "type": "httpApiKey",
                "name": "Authorization",
                "in": "header",
                "description": "`Authorization: Token <key>` on the handshake (DRF's authtoken).",
            },
            "session": {
                "type": "httpApiKey",
                "name": session_cookie,
                "in": "cookie",
                "description": "The Django session cookie of a logged-in browser.",
            },
        },
    }


_TOPIC: Schema = {"type": "string", "minLength": 1, "maxLength": MAX_LENGTH, "pattern": TOPIC_REGEX}
_PATTERN: Schema = {"type": "string", "minLength": 1, "maxLength": MAX_LENGTH, "pattern": PATTERN_REGEX}
_VERSION: Schema = {"const": "2.0"}
#: rpc.* names are the app's own (JSON-RPC reserves them): each has a message of its own.
_NOT_RESERVED: Schema = {"type": "string", "not": {"pattern": "^rpc\\."}}


def _envelope(method: Schema, params: Schema, *, request: bool = True, required_params: bool = True) -> Schema:
    properties: dict[str, Schema] = {"jsonrpc": _VERSION, "method": method, "params": params}
    required = ["jsonrpc", "method"] + (["params"] if required_params else [])
    if request:
        properties["id"] = _schema("Id")
        required.append("id")
    return {"type": "object", "required": required, "properties": properties, "additionalProperties": False}


def _by_name_or_position(properties: dict[str, Schema], required: list[str]) -> Schema:
    return {
        "oneOf": [
            {"type": "object", "required": required, "properties": properties, "additionalProperties": False},
            {
                "type": "array",
                "items": list(properties.values()),
                "minItems": len(required),
                "maxItems": len(properties),
            },
        ]
    }


_SCHEMAS: dict[str, Schema] = {
    "Id": {
        "type": ["string", "number", "null"],
        "description": "Chosen by the side that sends the request; the reply carries it back.",
    },
    "Params": {"type": ["array", "object"], "description": "By position (an array) or by name (an object)."},
    "Request": {
        **_envelope(_NOT_RESERVED, _schema("Params"), required_params=False),
        "description": "A call that is answered: a result or an error with the same id.",
    },
    "Notification": {
        **_envelope(_NOT_RESERVED, _schema("Params"), request=False, required_params=False),
        "description": "A call that is never answered (no id).",
    },
    "Result": {
        "type": "object",
        "required": ["jsonrpc", "result", "id"],
        "properties": {"jsonrpc": _VERSION, "result": {}, "id": _schema("Id")},
        "additionalProperties": False,
    },
    "Error": {
        "type": "object",
        "required": ["jsonrpc", "error", "id"],
        "properties": {"jsonrpc": _VERSION, "error": _schema("ErrorObject"), "id": _schema("Id")},
        "additionalProperties": False,
        "description": "An error reply; id is null when the request could not be read (-32700, -32600).",
    },
    "ErrorObject": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {
                "type": "integer",
                "description": "; ".join(f"{code}: {meaning}" for code, meaning in ERROR_CODES),
                "examples": [int(code) for code, _ in ERROR_CODES],
            },
            "message": {"type": "string"},
            "data": {"description": "More about the error: the reason, the invalid params, the method or topic."},
        },
        "additionalProperties": False,
    },
    "Batch": {
        "type": "array",
        "minItems": 1,
        "items": {"type": "object", "required": ["jsonrpc", "method"]},
        "description": "Requests and notifications run concurrently; at most MAX_BATCH_LENGTH of them.",
    },
    "BatchReply": {
        "type": "array",
        "minItems": 1,
        "items": {"oneOf": [_schema("Result"), _schema("Error")]},
        "description": "One reply per request of the batch (none for notifications), in any order.",
    },
    "Topic": {
        **_TOPIC,
        "description": "Dot-separated segments of letters, digits, - and _.",
        "examples": ["chat.lobby"],
    },
    "TopicOrPattern": {
        **_PATTERN,
        "description": "A topic, or a pattern: * stands for exactly one segment, # for any number.",
        "examples": ["chat.lobby", "sensors.*.temp", "chat.#"],
    },
    "Position": {
        "type": "object",
        "required": ["offset", "epoch"],
        "properties": {
            "offset": {"type": "integer", "minimum": 0, "description": "The offset of the last event the client has."},
            "epoch": {"type": "string", "minLength": 1, "maxLength": 64, "description": "The epoch of that offset."},
        },
        "description": "A position in a topic's history.",
    },
    "Subscribe": _envelope(
        {"const": "rpc.subscribe"},
        _by_name_or_position(
            {
                "topic": _schema("TopicOrPattern"),
                "since": {**_schema("Position"), "description": "Recover the events after this position."},
                "rewind": {"type": "integer", "minimum": 1, "description": "Recover the last events, this many."},
            },
            ["topic"],
        ),
    ),
    "History": _envelope(
        {"const": "rpc.history"},
        _by_name_or_position(
            {
                "topic": _schema("Topic"),
                "since": {**_schema("Position"), "description": "The events after this position."},
                "limit": {"type": "integer", "minimum": 1, "description": "At most this many of the last events."},
            },
            ["topic"],
        ),
    ),
    "Unsubscribe": _envelope(
        {"const": "rpc.unsubscribe"}, _by_name_or_position({"topic": _schema("TopicOrPattern")}, ["topic"])
    ),
    "Publish": _envelope(
        {"const": "rpc.publish"}, _by_name_or_position({"topic": _schema("Topic"), "data": {}}, ["topic"])
    ),
    "Ping": _envelope(
        {"const": "rpc.ping"}, {"type": ["array", "object"], "maxItems": 0, "maxProperties": 0}, required_params=False
    ),
    "Discover": _envelope(
        {"const": "rpc.discover"},
        {"type": ["array", "object"], "maxItems": 0, "maxProperties": 0},
        required_params=False,
    ),
    "EventParams": {
        "type": "object",
        "required": ["topic", "data"],
        "properties": {
            "topic": {**_TOPIC, "description": "The concrete topic published to."},
            "data": {"description": "What was published."},
            "subscription": {**_PATTERN, "description": "The pattern subscribed to, when the subscription was one."},
            "offset": {
                "type": "integer",
                "minimum": 1,
                "description": "For a topic with history: the event's offset, one more than the one before.",
            },
            "epoch": {
                "type": "string",
                "description": "For a topic with history: changes whenever the topic's history was lost.",
            },
        },
        "description": "More fields may be added.",
    },
    "Event": _envelope({"const": "rpc.event"}, _schema("EventParams"), request=False),
    "UnsubscribedParams": {
        "type": "object",
        "required": ["topic", "reason"],
        "properties": {
            "topic": {**_PATTERN, "description": "The topic or pattern the subscription was to."},
            "reason": {"type": "string", "description": "Why it ended, e.g. a revoked permission."},
        },
    },
    "Unsubscribed": _envelope({"const": "rpc.unsubscribed"}, _schema("UnsubscribedParams"), request=False),
    "GapParams": {
        "type": "object",
        "required": ["topic", "epoch", "offset"],
        "properties": {
            "topic": {**_TOPIC, "description": "The topic whose events were missed."},
            "epoch": {"type": "string", "description": "The topic's current epoch."},
            "offset": {
                "type": "integer",
                "minimum": 0,
                "description": "Where the subscriber now is: the next event has the offset after this one.",
            },
            "missed": {
                "type": "array",
                "items": {"type": "integer"},
                "minItems": 2,
                "maxItems": 2,
                "description": "The first and last offsets missed, when known (not when the epoch changed).",
            },
            "subscription": {**_PATTERN, "description": "The pattern subscribed to, when the subscription was one."},
        },
    },
    "Gap": _envelope({"const": "rpc.gap"}, _schema("GapParams"), request=False),
    "CancelParams": {
        "type": "object",
        "required": ["id"],
        "properties": {"id": {**_schema("Id"), "description": "The id of the receiver's request to stop."}},
    },
    "Cancel": _envelope({"const": "rpc.cancel"}, _schema("CancelParams"), request=False),
    "ProgressParams": {
        "type": "object",
        "required": ["id"],
        "properties": {
            "id": {**_schema("Id"), "description": "The id of the sender's request that reports."},
            "value": {"description": "Whatever the method reports (null when it reports none)."},
        },
    },
    "Progress": _envelope({"const": "rpc.progress"}, _schema("ProgressParams"), request=False),
    "Info": _envelope(
        {"const": "rpc.info"},
        {"type": ["array", "object"], "maxItems": 0, "maxProperties": 0},
        required_params=False,
    ),
    "Presence": _envelope({"const": "rpc.presence"}, _by_name_or_position({"topic": _schema("Topic")}, ["topic"])),
    "PresenceStats": _envelope(
        {"const": "rpc.presence_stats"}, _by_name_or_position({"topic": _schema("Topic")}, ["topic"])
    ),
    "Client": {
        "type": "object",
        "required": ["connection", "user", "user_id"],
        "properties": {
            "connection": {"type": "string", "description": "The connection's id, unique across server processes."},
            "user": {"type": ["string", "null"], "description": "The username; null when anonymous."},
            "user_id": {"description": "The user's primary key; null when anonymous."},
            "info": {"type": "object", "description": "What the client declared on connecting (?info=)."},
        },
        "description": "A connection, as rpc.presence lists it.",
    },
    "PresenceParams": {
        "type": "object",
        "required": ["topic", "client"],
        "properties": {"topic": _schema("Topic"), "client": _schema("Client")},
    },
    "Join": _envelope({"const": "rpc.join"}, _schema("PresenceParams"), request=False),
    "Leave": _envelope({"const": "rpc.leave"}, _schema("PresenceParams"), request=False),
    "Subscribed": _envelope(
        {"const": "rpc.subscribed"},
        {
            "type": "object",
            "required": ["topic", "subscribed"],
            "properties": {"topic": _schema("TopicOrPattern"), "subscribed": {"const": True}},
        },
        request=False,
    ),
}

_CORRELATION = {"description": "JSON-RPC matches a reply to its request by id.", "location": "$message.payload#/id"}


def _message(name: str, title: str, schema: str, summary: str, example: JSON, correlated: bool = False) -> JSONObject:
    message: JSONObject = {
        "name": name,
        "title": title,
        "summary": summary,
        "contentType": CONTENT_TYPE,
        "payload": _schema(schema),
        "examples": [{"payload": example}],
    }
    if correlated:
        message["correlationId"] = _CORRELATION
    return message


_MESSAGES: dict[str, JSONObject] = {
    "Request": _message(
        "request",
        "Request",
        "Request",
        "A call expecting a reply (from either side).",
        {"jsonrpc": "2.0", "method": "add", "params": [1, 2], "id": 1},
        correlated=True,
    ),
    "Notification": _message(
        "notification",
        "Notification",
        "Notification",
        "A call without a reply (from either side).",
        {"jsonrpc": "2.0", "method": "log", "params": ["hello"]},
    ),
    "Result": _message(
        "result",
        "Result",
        "Result",
        "The reply to a request that succeeded.",
        {"jsonrpc": "2.0", "result": 3, "id": 1},
        correlated=True,
    ),
    "Error": _message(
        "error",
        "Error",
        "Error",
        "The reply to a request that failed.",
        {
            "jsonrpc": "2.0",
            "error": {"code": -32601, "message": "Method not found", "data": {"method": "nope"}},
            "id": 1,
        },
        correlated=True,
    ),
    "Batch": _message(
        "batch",
        "Batch",
        "Batch",
        "Several requests in one frame.",
        [
            {"jsonrpc": "2.0", "method": "add", "params": [1, 2], "id": 1},
            {"jsonrpc": "2.0", "method": "log", "params": ["x"]},
        ],
    ),
    "BatchReply": _message(
        "batchReply",
        "Batch reply",
        "BatchReply",
        "The replies to a batch, in one frame.",
        [{"jsonrpc": "2.0", "result": 3, "id": 1}],
    ),
    "Subscribe": _message(
        "rpc.subscribe",
        "Subscribe",
        "Subscribe",
        "Receive the events of a topic or pattern.",
        {"jsonrpc": "2.0", "method": "rpc.subscribe", "params": {"topic": "chat.lobby"}, "id": 1},
        correlated=True,
    ),
    "Unsubscribe": _message(
        "rpc.unsubscribe",
        "Unsubscribe",
        "Unsubscribe",
        "Stop receiving the events of a topic or pattern.",
        {"jsonrpc": "2.0", "method": "rpc.unsubscribe", "params": ["chat.lobby"], "id": 2},
        correlated=True,
    ),
    "Publish": _message(
        "rpc.publish",
        "Publish",
        "Publish",
        "Send data to the subscribers of a topic, on every server process.",
        {"jsonrpc": "2.0", "method": "rpc.publish", "params": {"topic": "chat.lobby", "data": {"text": "hi"}}, "id": 3},
        correlated=True,
    ),
    "Ping": _message(
        "rpc.ping",
        "Ping",
        "Ping",
        'A heartbeat; the result is "pong".',
        {"jsonrpc": "2.0", "method": "rpc.ping", "id": 4},
        correlated=True,
    ),
    "Discover": _message(
        "rpc.discover",
        "Discover",
        "Discover",
        "The result is the OpenRPC document of what the caller may call.",
        {"jsonrpc": "2.0", "method": "rpc.discover", "id": 5},
        correlated=True,
    ),
    "Event": _message(
        "rpc.event",
        "Event",
        "Event",
        "Something was published to a subscribed topic.",
        {
            "jsonrpc": "2.0",
            "method": "rpc.event",
            "params": {"topic": "sensors.kitchen.temp", "data": 21.5, "subscription": "sensors.*.temp"},
        },
    ),
    "History": _message(
        "rpc.history",
        "History",
        "History",
        "Read a topic's stored events: after a position, or the last ones.",
        {"jsonrpc": "2.0", "method": "rpc.history", "params": {"topic": "chat.lobby", "limit": 10}, "id": 6},
        correlated=True,
    ),
    "Gap": _message(
        "rpc.gap",
        "Gap",
        "Gap",
        "The subscriber missed events it can never get (trimmed, or the history was lost): refetch its state.",
        {
            "jsonrpc": "2.0",
            "method": "rpc.gap",
            "params": {"topic": "chat.lobby", "epoch": "5f1c2a9e07b3", "offset": 41, "missed": [38, 41]},
        },
    ),
    "Info": _message(
        "rpc.info",
        "Info",
        "Info",
        'Who this connection is: {"connection", "user", "user_id", "info"?, "since"}.',
        {"jsonrpc": "2.0", "method": "rpc.info", "id": 7},
        correlated=True,
    ),
    "Presence": _message(
        "rpc.presence",
        "Presence",
        "Presence",
        'The connections subscribed to a topic on every process: {"topic", "clients": [...]}.',
        {"jsonrpc": "2.0", "method": "rpc.presence", "params": {"topic": "room.1"}, "id": 8},
        correlated=True,
    ),
    "PresenceStats": _message(
        "rpc.presence_stats",
        "PresenceStats",
        "PresenceStats",
        'How many connections and distinct users are subscribed: {"topic", "connections", "users"}.',
        {"jsonrpc": "2.0", "method": "rpc.presence_stats", "params": ["room.1"], "id": 9},
        correlated=True,
    ),
    "Join": _message(
        "rpc.join",
        "Join",
        "Join",
        "Another connection subscribed to a topic with join/leave events (a connection gets no join of its own).",
        {
            "jsonrpc": "2.0",
            "method": "rpc.join",
            "params": {"topic": "room.1", "client": {"connection": "5f1c2a9e07b3.12", "user": "ada", "user_id": 7}},
        },
    ),
    "Leave": _message(
        "rpc.leave",
        "Leave",
        "Leave",
        "Another connection left a topic with join/leave events: it unsubscribed or closed.",
        {
            "jsonrpc": "2.0",
            "method": "rpc.leave",
            "params": {"topic": "room.1", "client": {"connection": "5f1c2a9e07b3.12", "user": "ada", "user_id": 7}},
        },
    ),
    "Subscribed": _message(
        "rpc.subscribed",
        "Subscribed",
        "Subscribed",
        "Server code subscribed this connection (subscribe_user): rpc.event notifications follow.",
        {"jsonrpc": "2.0", "method": "rpc.subscribed", "params": {"topic": "news", "subscribed": True}},
    ),
    "Unsubscribed": _message(
        "rpc.unsubscribed",
        "Unsubscribed",
        "Unsubscribed",
        "The server ended a subscription.",
        {"jsonrpc": "2.0", "method": "rpc.unsubscribed", "params": {"topic": "news", "reason": "permission revoked"}},
    ),
    "Cancel": _message(
        "rpc.cancel",
        "Cancel",
        "Cancel",
        "Either side stops the other's running request id of this connection; it is answered -32800 unless it"
        " had finished. Unknown or finished ids are ignored.",
        {"jsonrpc": "2.0", "method": "rpc.cancel", "params": {"id": 7}},
    ),
    "Progress": _message(
        "rpc.progress",
        "Progress",
        "Progress",
        "Progress of the sender's running request id, before its reply; at least 10 a second get through,"
        " faster ones may be coalesced (the latest kept).",
        {"jsonrpc": "2.0", "method": "rpc.progress", "params": {"id": 7, "value": {"done": 40, "total": 100}}},
    ),
}
