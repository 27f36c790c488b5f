"""The reserved ``rpc.*`` methods every connection may call.

Their annotations describe them in the OpenRPC document; a topic's schema
there states the naming rules, while the check itself stays with
:mod:`wsrpc_app.core.topics` so a bad name answers -32004, not -32602.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any, Literal

from pydantic import WithJsonSchema

if sys.version_info >= (3, 12):
    from typing import TypedDict
else:  # pydantic reads typing.TypedDict only from Python 3.12
    from typing_extensions import TypedDict

from ..core.registry import Registry, methods_of, rpc_method
from ..core.topics import MAX_LENGTH, PATTERN_REGEX, TOPIC_REGEX

__all__ = ["builtin_registry", "Subscription", "Publication"]

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
#: What rpc.discover answers.
OpenRpcDocument = Annotated[
    dict[str, Any],
    WithJsonSchema(
        {
            "type": "object",
            "description": "An OpenRPC 1.3 document of the methods the caller may call.",
            "required": ["openrpc", "info", "methods"],
            "properties": {
                "openrpc": {"type": "string"},
                "info": {"type": "object"},
                "methods": {"type": "array", "items": {"type": "object"}},
                "components": {"type": "object"},
            },
        }
    ),
]


class Subscription(TypedDict):
    """Whether this connection now receives the topic's events."""

    topic: str
    subscribed: bool


class Publication(TypedDict):
    """The topic the data was published to."""

    topic: str


@rpc_method(name="rpc.ping")
async def ping() -> Literal["pong"]:
    """Answer "pong": a cheap liveness check.

    Clients send it as a heartbeat: a connection that sends nothing for
    IDLE_TIMEOUT seconds is closed (4010).
    """
    return "pong"


@rpc_method(name="rpc.discover")
async def discover(connection: Any) -> OpenRpcDocument:
    """The OpenRPC document of the methods this connection may call."""
    from ..docs.openrpc import document, servers_of_scope

    dispatcher = connection.dispatcher
    return document(
        await connection.callable_registry(),
        servers=servers_of_scope(connection.scope),
        time_limit=getattr(dispatcher, "time_limit", None),
    )


@rpc_method(name="rpc.subscribe")
async def subscribe(topic: TopicOrPattern, connection: Any) -> Subscription:
    """Receive rpc.event notifications for a topic or pattern (* one segment, # any number).

    Events arrive as {"jsonrpc": "2.0", "method": "rpc.event", "params": {"topic", "data", "subscription"}},
    "subscription" naming the pattern when the subscription was one. Subscribing twice is harmless.
    When a permission is revoked the server ends the subscription with an rpc.unsubscribed
    notification ({"topic", "reason"}).
    """
    return await connection.subscribe(topic)  # type: ignore[no-any-return]


@rpc_method(name="rpc.unsubscribe")
async def unsubscribe(topic: TopicOrPattern, connection: Any) -> Subscription:
    """Stop receiving events for a topic or pattern this connection subscribed to.

    "subscribed" is false in the answer, whether or not the connection was subscribed.
    """
    return await connection.unsubscribe(topic)  # type: ignore[no-any-return]


@rpc_method(name="rpc.publish")
async def publish(topic: ConcreteTopic, connection: Any, data: Any = None) -> Publication:
    """Send data to the subscribers of a concrete topic, on every server process.

    Subscribers receive it in an rpc.event notification; the publisher too when subscribed.
    """
    return await connection.publish(topic, data)  # type: ignore[no-any-return]


def builtin_registry() -> Registry:
    return Registry(methods_of(sys.modules[__name__]), allow_reserved=True)
