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
- ``wsrpc.hub.<marker>``: one process's hub alone, which pings itself
  through it to know the layer still delivers.

A publish to ``a.b`` is therefore three group sends (``wsrpc.t.a.b``,
``wsrpc.p.a``, ``wsrpc.any``), whatever the number of subscribers. Each
message names the group it was sent to, so a process in several of them
still delivers each event once per matching subscription.

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
    "LayerMessage",
    "subscription_group",
    "publish_groups",
    "user_group",
    "event_messages",
    "user_message",
    "control_message",
    "ping_group",
    "ping_message",
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


LayerMessage: TypeAlias = EventMessage | UserMessage | ControlMessage | PingMessage


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


def user_message(group: str, frame: str) -> UserMessage:
    return {"type": "wsrpc.user", "group": group, "frame": frame}


def control_message(what: str) -> ControlMessage:
    return {"type": "wsrpc.control", "what": what}


def ping_group(marker: str) -> str:
    return _group("wsrpc.hub.", marker)


def ping_message() -> PingMessage:
    return {"type": "wsrpc.ping"}


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
    elif kind == "wsrpc.control":
        what = message.get("what")
        if isinstance(what, str):
            return {"type": kind, "what": what}
    else:
        logger.warning("ignored a channel layer message of unknown type %r", kind)
        return None
    raise ValueError(f"a malformed channel layer message of type {kind!r}")
