"""What pub/sub sends through the channel layer: the group names and the three kinds of message.

Group membership belongs to the process, not to the connection: one channel
per process (per event loop), joined to a group for each topic that has local
subscribers (see :mod:`wsrpc_app.pubsub.hub`). Groups:

- ``wsrpc.t.<topic>``: subscribers of that exact topic;
- ``wsrpc.p.<segment>``: patterns whose first segment is that literal
  (``sensors.*.temp`` joins ``wsrpc.p.sensors``);
- ``wsrpc.any``: patterns that start with a wildcard (``#``, ``*.error``);
- ``wsrpc.u.<user key>``: connections of one user;
- ``wsrpc.control``: every process, for permission changes;
- ``wsrpc.hub.<marker>``: one process's hub alone: it pings itself through
  it to know the layer still delivers, and receives there the orders for
  its connections and the replies to the calls it made.

A publish to ``a.b`` is therefore three group sends (``wsrpc.t.a.b``,
``wsrpc.p.a``, ``wsrpc.any``), whatever the number of subscribers. Each
message names the group it was sent to, so a process in several of them
still delivers each event once per matching subscription.

Besides events, user notifications, control and pings, three kinds serve
server-side control (:mod:`wsrpc_app.pubsub.control`) and presence:
``wsrpc.command`` (an order for connections: close, subscribe, unsubscribe,
call), ``wsrpc.reply`` (what a call's connections answered, back to the
caller's hub) and ``wsrpc.presence`` (an ``rpc.join`` or ``rpc.leave`` frame
for the exact subscribers of a topic).

A ``wsrpc.batch`` holds several of these messages for one group or one
channel: the wires (:mod:`wsrpc_app.pubsub.wire`) join what one batch of
publishes sends there, which a process then reads once, not once per
message.

Messages are built and read only here, as TypedDicts.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Literal, NotRequired, TypeAlias, TypedDict

from ..core.topics import is_pattern

__all__ = [
    "CONTROL_GROUP",
    "ANY_GROUP",
    "EventMessage",
    "UserMessage",
    "ControlMessage",
    "PingMessage",
    "CommandMessage",
    "ReplyMessage",
    "PresenceMessage",
    "LayerMessage",
    "subscription_group",
    "publish_groups",
    "user_group",
    "event_messages",
    "BATCH",
    "batch_message",
    "unbatched",
    "user_message",
    "control_message",
    "ping_group",
    "ping_message",
    "process_group",
    "command_message",
    "reply_message",
    "presence_message",
    "parse",
]

logger = logging.getLogger("wsrpc")

CONTROL_GROUP = "wsrpc.control"
ANY_GROUP = "wsrpc.any"
# Channels refuses group names of 100 characters or more.
_MAX_GROUP = 99


class EventMessage(TypedDict):
    """An event published to ``topic``; ``data`` is its JSON, encoded once by the publisher.

    An event of a topic with history also has its ``epoch`` and ``offset``.
    """

    type: Literal["wsrpc.event"]
    group: str
    topic: str
    data: bytes | str
    epoch: NotRequired[str]
    offset: NotRequired[int]


class UserMessage(TypedDict):
    """A notification frame for every connection of the user whose group this is."""

    type: Literal["wsrpc.user"]
    group: str
    frame: str


class ControlMessage(TypedDict):
    """Something changed that every process must act on (``what``: ``"permissions"``)."""

    type: Literal["wsrpc.control"]
    what: str


class PingMessage(TypedDict):
    """A hub's message to itself: the layer still delivers."""

    type: Literal["wsrpc.ping"]


class CommandMessage(TypedDict):
    """An order for connections, from server code on any process.

    Sent to a user's group (every connection of ``user`` on the processes
    that have one) or to one process's group, where ``connection`` names one
    of its connections or ``user`` all of that user's there. ``action`` is
    ``"close"``, ``"subscribe"``, ``"unsubscribe"`` or ``"call"``; ``args``
    are its arguments (checked by :mod:`wsrpc_app.pubsub.control`). A call
    names the caller's process group (``reply_to``) and its id there (``call``).
    """

    type: Literal["wsrpc.command"]
    group: str
    action: str
    args: dict[str, object]
    user: NotRequired[str]
    connection: NotRequired[str]
    reply_to: NotRequired[str]
    call: NotRequired[str]


class ReplyMessage(TypedDict):
    """To the hub that made call ``call``: which connections of ``process`` will answer, or one answer.

    An answer names its ``connection`` and holds one of ``result`` (JSON
    text), ``error`` (an error object as JSON text) or ``outcome``
    (``"timeout"``: the client did not answer in time; ``"gone"``: there is
    no such connection, or it closed before answering).
    """

    type: Literal["wsrpc.reply"]
    group: str
    call: str
    connections: NotRequired[list[str]]
    process: NotRequired[str]
    connection: NotRequired[str]
    result: NotRequired[str]
    error: NotRequired[str]
    outcome: NotRequired[str]


class PresenceMessage(TypedDict):
    """An ``rpc.join`` or ``rpc.leave`` ``frame`` for the exact subscribers of ``topic`` but ``connection`` itself."""

    type: Literal["wsrpc.presence"]
    group: str
    topic: str
    connection: str
    frame: str


LayerMessage: TypeAlias = (
    EventMessage | UserMessage | ControlMessage | PingMessage | CommandMessage | ReplyMessage | PresenceMessage
)


def _group(prefix: str, key: str) -> str:
    name = f"{prefix}{key}"
    if len(name) <= _MAX_GROUP:
        return name
    return f"wsrpc.h.{hashlib.sha256(name.encode()).hexdigest()}"


def subscription_group(name: str) -> str:
    """The group a subscription to ``name`` (a topic or a pattern) listens on."""
    if not is_pattern(name):
        return _group("wsrpc.t.", name)
    first = name.split(".", 1)[0]
    return ANY_GROUP if first in ("*", "#") else _group("wsrpc.p.", first)


def publish_groups(topic: str) -> tuple[str, str, str]:
    """The groups a publish to the concrete ``topic`` goes to."""
    return _group("wsrpc.t.", topic), _group("wsrpc.p.", topic.split(".", 1)[0]), ANY_GROUP


def user_group(user_key: str) -> str:
    return _group("wsrpc.u.", user_key)


def event_messages(topic: str, data: bytes, epoch: str | None = None, offset: int | None = None) -> list[EventMessage]:
    """The messages of one publish to the concrete ``topic``, one per group it goes to (``group`` says which)."""
    if epoch is None or offset is None:
        return [
            {"type": "wsrpc.event", "group": group, "topic": topic, "data": data} for group in publish_groups(topic)
        ]
    return [
        {"type": "wsrpc.event", "group": group, "topic": topic, "data": data, "epoch": epoch, "offset": offset}
        for group in publish_groups(topic)
    ]


#: The type of a message that carries several others, in order.
BATCH = "wsrpc.batch"


def batch_message(parts: list[Mapping[str, object]]) -> Mapping[str, object]:
    """One message carrying ``parts`` for one destination, read once, handled as if each had come alone.

    A single part is sent as it is.
    """
    if len(parts) == 1:
        return parts[0]
    return {"type": BATCH, "messages": parts}


def unbatched(message: Mapping[str, object]) -> list[Mapping[str, object]]:
    """The messages ``message`` carries: its parts for a batch, else itself. A malformed batch carries nothing."""
    if message.get("type") != BATCH:
        return [message]
    parts = message.get("messages")
    if isinstance(parts, list) and all(isinstance(part, Mapping) for part in parts):
        return parts
    logger.warning("ignored a malformed channel layer batch")
    return []


def user_message(group: str, frame: str) -> UserMessage:
    return {"type": "wsrpc.user", "group": group, "frame": frame}


def control_message(what: str) -> ControlMessage:
    return {"type": "wsrpc.control", "what": what}


def ping_group(marker: str) -> str:
    return _group("wsrpc.hub.", marker)


def ping_message() -> PingMessage:
    return {"type": "wsrpc.ping"}


def process_group(marker: str) -> str:
    """The group of one process's hub: its pings, the orders for its connections, the replies to its calls."""
    return ping_group(marker)


def command_message(
    group: str,
    action: str,
    args: dict[str, object],
    *,
    user: str | None = None,
    connection: str | None = None,
    reply_to: str | None = None,
    call: str | None = None,
) -> CommandMessage:
    message: CommandMessage = {"type": "wsrpc.command", "group": group, "action": action, "args": args}
    if user is not None:
        message["user"] = user
    if connection is not None:
        message["connection"] = connection
    if reply_to is not None and call is not None:
        message["reply_to"], message["call"] = reply_to, call
    return message


def reply_message(
    group: str,
    call: str,
    *,
    connections: list[str] | None = None,
    process: str | None = None,
    connection: str | None = None,
    result: str | None = None,
    error: str | None = None,
    outcome: str | None = None,
) -> ReplyMessage:
    """A reply to call ``call``: the ``connections`` of ``process`` that will answer, or one ``connection``'s answer."""
    message: ReplyMessage = {"type": "wsrpc.reply", "group": group, "call": call}
    if connections is not None:
        message["connections"] = connections
    if process is not None:
        message["process"] = process
    if connection is not None:
        message["connection"] = connection
    if result is not None:
        message["result"] = result
    if error is not None:
        message["error"] = error
    if outcome is not None:
        message["outcome"] = outcome
    return message


def presence_message(topic: str, connection: str, frame: str) -> PresenceMessage:
    return {
        "type": "wsrpc.presence",
        "group": subscription_group(topic),
        "topic": topic,
        "connection": connection,
        "frame": frame,
    }


def parse(message: Mapping[str, object]) -> LayerMessage | None:
    """The message received from the layer, checked: None (logged) for a type this app does not send.

    Raises ValueError for a message of a known type that lacks what it needs.
    """
    kind = message.get("type")
    group = message.get("group")
    if kind == "wsrpc.event":
        topic, data = message.get("topic"), message.get("data")
        epoch, offset = message.get("epoch"), message.get("offset")
        if isinstance(group, str) and isinstance(topic, str) and isinstance(data, bytes | str):
            if epoch is None and offset is None:
                return {"type": kind, "group": group, "topic": topic, "data": data}
            if isinstance(epoch, str) and type(offset) is int and offset > 0:
                return {"type": kind, "group": group, "topic": topic, "data": data, "epoch": epoch, "offset": offset}
    elif kind == "wsrpc.user":
        frame = message.get("frame")
        if isinstance(group, str) and isinstance(frame, str):
            return {"type": kind, "group": group, "frame": frame}
    elif kind == "wsrpc.ping":
        return {"type": kind}
    elif kind == "wsrpc.command":
        return _command(message)
    elif kind == "wsrpc.reply":
        return _reply(message)
    elif kind == "wsrpc.presence":
        topic, connection, frame = message.get("topic"), message.get("connection"), message.get("frame")
        if isinstance(group, str) and isinstance(topic, str) and isinstance(connection, str) and isinstance(frame, str):
            return {"type": kind, "group": group, "topic": topic, "connection": connection, "frame": frame}
    elif kind == "wsrpc.control":
        what = message.get("what")
        if isinstance(what, str):
            return {"type": kind, "what": what}
    else:
        logger.warning("ignored a channel layer message of unknown type %r", kind)
        return None
    raise ValueError(f"a malformed channel layer message of type {kind!r}")


def _optional_strings(message: Mapping[str, object], *keys: str) -> dict[str, str] | None:
    """The keys of ``message`` that hold a string; None when one of them holds something else."""
    found: dict[str, str] = {}
    for key in keys:
        value = message.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            return None
        found[key] = value
    return found


def _command(message: Mapping[str, object]) -> CommandMessage:
    group, action, args = message.get("group"), message.get("action"), message.get("args")
    optional = _optional_strings(message, "user", "connection", "reply_to", "call")
    if isinstance(group, str) and isinstance(action, str) and isinstance(args, dict) and optional is not None:
        return command_message(
            group,
            action,
            {str(key): value for key, value in args.items()},
            user=optional.get("user"),
            connection=optional.get("connection"),
            reply_to=optional.get("reply_to"),
            call=optional.get("call"),
        )
    raise ValueError("a malformed channel layer message of type 'wsrpc.command'")


def _reply(message: Mapping[str, object]) -> ReplyMessage:
    group, call, connections = message.get("group"), message.get("call"), message.get("connections")
    optional = _optional_strings(message, "process", "connection", "result", "error", "outcome")
    listed = None
    if isinstance(connections, list) and all(isinstance(c, str) for c in connections):
        listed = [str(c) for c in connections]
    well_formed = connections is None or listed is not None
    if isinstance(group, str) and isinstance(call, str) and optional is not None and well_formed:
        return reply_message(
            group,
            call,
            connections=listed,
            process=optional.get("process"),
            connection=optional.get("connection"),
            result=optional.get("result"),
            error=optional.get("error"),
            outcome=optional.get("outcome"),
        )
    raise ValueError("a malformed channel layer message of type 'wsrpc.reply'")
