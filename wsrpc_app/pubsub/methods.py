"""The pub/sub methods: ``rpc.subscribe``, ``rpc.unsubscribe``, ``rpc.publish``, ``rpc.history`` and presence.

Their annotations describe them in the OpenRPC document; a topic's schema
there states the naming rules, while the check itself stays with
:mod:`wsrpc_app.core.topics` so a bad name answers -32004, not -32602.
"""

from __future__ import annotations

from typing import Annotated, Protocol

from pydantic import Field, WithJsonSchema

from ..acl.access import aallowed
from ..core.errors import NeedsWebSocket, PermissionDenied
from ..core.registry import rpc_method
from ..core.topics import MAX_LENGTH, PATTERN_REGEX, TOPIC_REGEX, validate_topic
from ..core.types import JSON
from .history import ahistory
from .member import Member
from .presence import apresence, apresence_stats
from .publisher import Publisher
from .results import History, Presence, PresenceStats, Publication, Since, Subscription
from .stream import Position

__all__ = ["PubSubCaller", "subscribe", "unsubscribe", "publish", "history", "presence", "presence_stats"]


class PubSubCaller(Protocol):
    """The caller of a pub/sub method: a server connection (``wsrpc_app.Connection``)."""

    @property
    def member(self) -> Member | None:
        """Its subscriptions; None where there can be none (over HTTP)."""

    def publisher(self) -> Publisher:
        """Publishes on its behalf."""

    @property
    def user(self) -> object:
        """The Django user (or None)."""


#: A topic or a pattern, as subscriptions take them.
TopicOrPattern = Annotated[
    str,
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_LENGTH,
            "pattern": PATTERN_REGEX,
            "description": "A topic (chat.lobby) or a pattern: * stands for one segment, # for any number.",
            "examples": ["chat.lobby", "sensors.*.temp", "chat.#"],
        }
    ),
]
#: A concrete topic, as publishing takes it.
ConcreteTopic = Annotated[
    str,
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_LENGTH,
            "pattern": TOPIC_REGEX,
            "description": "A concrete topic: dot-separated segments of letters, digits, - and _.",
            "examples": ["chat.lobby", "sensors.kitchen.temp"],
        }
    ),
]


#: How many of the latest events to get (1: the last value).
Count = Annotated[int, Field(ge=1)]


def _member(connection: PubSubCaller, topic: str) -> Member:
    if connection.member is None:
        raise NeedsWebSocket(data={"topic": topic})
    return connection.member


@rpc_method(name="rpc.subscribe")
async def subscribe(
    topic: TopicOrPattern,
    connection: PubSubCaller,
    since: Since | None = None,
    rewind: Count | None = None,
) -> Subscription:
    """Receive rpc.event notifications for a topic or pattern (* one segment, # any number).

    Events arrive as {"jsonrpc": "2.0", "method": "rpc.event", "params": {"topic", "data", "subscription"}},
    "subscription" naming the pattern when the subscription was one. Subscribing twice is harmless.
    When a permission is revoked the server ends the subscription with an rpc.unsubscribed
    notification ({"topic", "reason"}).

    For a topic that keeps history, events also carry "offset" and "epoch", and the answer gives the
    topic's current "offset" and "epoch". "since" (the offset and epoch of the last event the client
    has) recovers what it missed, "rewind" the last events: the answer then has "publications" (the
    events, in order) and "recovered" (false when not all of them could be given: the client should
    then fetch its state anew). Live events follow the answer, none repeated or skipped. Patterns do
    not recover. A subscriber that missed events it can never get receives rpc.gap
    ({"topic", "epoch", "offset", "missed"}).
    """
    after = Position(since["epoch"], since["offset"]) if since is not None else None
    return await _member(connection, topic).subscribe(topic, since=after, rewind=rewind)


@rpc_method(name="rpc.unsubscribe")
async def unsubscribe(topic: TopicOrPattern, connection: PubSubCaller) -> Subscription:
    """Stop receiving events for a topic or pattern this connection subscribed to.

    "subscribed" is false in the answer, whether or not the connection was subscribed.
    """
    return await _member(connection, topic).unsubscribe(topic)


@rpc_method(name="rpc.publish")
async def publish(topic: ConcreteTopic, connection: PubSubCaller, data: JSON = None) -> Publication:
    """Send data to the subscribers of a concrete topic, on every server process.

    Subscribers receive it in an rpc.event notification; the publisher too when subscribed.
    """
    return await connection.publisher().publish(topic, data)


@rpc_method(name="rpc.history")
async def history(
    topic: ConcreteTopic, connection: PubSubCaller, since: Since | None = None, limit: Count | None = None
) -> History:
    """The stored events of a topic the caller may subscribe to: those after "since", or the last "limit".

    "recovered" is false when some events after "since" are no longer kept. A topic that keeps no
    history answers -32004 with data.history false.
    """
    await _may_subscribe(connection, topic)
    return await ahistory(topic, since=since, limit=limit)


async def _may_subscribe(connection: PubSubCaller, topic: str) -> None:
    """A concrete topic the caller may subscribe to, or the error that says why not."""
    validate_topic(topic)
    if not await aallowed(connection.user, "subscribe", topic):
        raise PermissionDenied(data={"topic": topic, "action": "subscribe"})


@rpc_method(name="rpc.presence")
async def presence(topic: ConcreteTopic, connection: PubSubCaller) -> Presence:
    """The connections subscribed to a topic, on every server process, for whoever may subscribe to it.

    Each client is {"connection", "user", "user_id"} (null when anonymous) with "info" when the client
    declared some on connecting. Subscriptions to patterns are not listed. A topic whose Topic row keeps
    no presence answers -32004 with data.presence false. With join_leave, subscribers receive
    rpc.join and rpc.leave ({"topic", "client"}) as others subscribe and leave.
    """
    await _may_subscribe(connection, topic)
    return await apresence(topic)


@rpc_method(name="rpc.presence_stats")
async def presence_stats(topic: ConcreteTopic, connection: PubSubCaller) -> PresenceStats:
    """How many connections are subscribed to a topic, and how many distinct logged-in users they are.

    Anonymous connections count in "connections" only. Same permission and errors as rpc.presence.
    """
    await _may_subscribe(connection, topic)
    return await apresence_stats(topic)
