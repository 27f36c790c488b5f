"""The reserved ``rpc.*`` methods every connection may call."""

from __future__ import annotations

import sys
from typing import Any

from .registry import Registry, methods_of, rpc_method

__all__ = ["builtin_registry"]


@rpc_method(name="rpc.ping")
async def ping() -> str:
    """Answer "pong": a cheap liveness check."""
    return "pong"


@rpc_method(name="rpc.discover")
async def discover(connection: Any) -> dict[str, Any]:
    """The OpenRPC document of the methods this connection may call."""
    from .openrpc import document

    return document(await connection.callable_registry())


@rpc_method(name="rpc.subscribe")
async def subscribe(topic: str, connection: Any) -> dict[str, Any]:
    """Receive ``rpc.event`` notifications for a topic or pattern (``*`` one segment, ``#`` any number)."""
    return await connection.subscribe(topic)  # type: ignore[no-any-return]


@rpc_method(name="rpc.unsubscribe")
async def unsubscribe(topic: str, connection: Any) -> dict[str, Any]:
    """Stop receiving events for a topic or pattern this connection subscribed to."""
    return await connection.unsubscribe(topic)  # type: ignore[no-any-return]


@rpc_method(name="rpc.publish")
async def publish(topic: str, connection: Any, data: Any = None) -> dict[str, Any]:
    """Send ``data`` to the subscribers of a concrete topic, on every server process."""
    return await connection.publish(topic, data)  # type: ignore[no-any-return]


def builtin_registry() -> Registry:
    return Registry(methods_of(sys.modules[__name__]), allow_reserved=True)
