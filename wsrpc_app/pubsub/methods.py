"""The pub/sub methods: ``rpc.subscribe``, ``rpc.unsubscribe`` and ``rpc.publish``.

Their annotations describe them in the OpenRPC document; a topic's schema
there states the naming rules, while the check itself stays with
:mod:`wsrpc_app.core.topics` so a bad name answers -32004, not -32602.
"""

from __future__ import annotations

from typing import Annotated, Protocol

from pydantic import WithJsonSchema

from ..core.errors import NeedsWebSocket
from ..core.registry import rpc_method
from ..core.topics import MAX_LENGTH, PATTERN_REGEX, TOPIC_REGEX
from ..core.types import JSON
from .member import Member
from .publisher import Publisher
from .results import Publication, Subscription

__all__ = ["PubSubCaller", "subscribe", "unsubscribe", "publish"]


class PubSubCaller(Protocol):
    """The caller of a pub/sub method: a server connection (``wsrpc_app.Connection``)."""

    @property
    def member(self) -> Member | None:
        """Its subscriptions; None where there can be none (over HTTP)."""

    def publisher(self) -> Publisher:
        """Publishes on its behalf."""


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

def _member(connection: PubSubCaller, topic: str) -> Member:
    if connection.member is None:
        raise NeedsWebSocket(data={"topic": topic})
    return connection.member


@rpc_method(name="rpc.subscribe")
async def subscribe(topic: TopicOrPattern, connection: PubSubCaller) -> Subscription:
    """Receive rpc.event notifications for a topic or pattern (* one segment, # any number).

    Events arrive as {"jsonrpc": "2.0", "method": "rpc.event", "params": {"topic", "data", "subscription"}},
    "subscription" naming the pattern when the subscription was one. Subscribing twice is harmless.
    When a permission is revoked the server ends the subscription with an rpc.unsubscribed
    notification ({"topic", "reason"}).
    """
    return await _member(connection, topic).subscribe(topic)


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
