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

    return document(connection.registry)


def builtin_registry() -> Registry:
    return Registry(methods_of(sys.modules[__name__]), allow_reserved=True)
