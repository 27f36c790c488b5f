"""Middlewares the tests put in ``WSRPC["MIDDLEWARES"]``, each doing one thing.

``TRACE`` and ``SEEN`` record what they saw, in this process; tests clear them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from wsrpc_app import RpcError
from wsrpc_app.core.dispatch import Handler, RpcRequest

#: ("outer" | "inner", "in" | "out", method), in the order they happened.
TRACE: list[tuple[str, str, str]] = []
#: Every request the ``record`` middleware saw.
SEEN: list[RpcRequest] = []


async def outer(request: RpcRequest, handler: Handler) -> Any:
    TRACE.append(("outer", "in", request.method))
    try:
        return await handler(request)
    finally:
        TRACE.append(("outer", "out", request.method))


async def inner(request: RpcRequest, handler: Handler) -> Any:
    TRACE.append(("inner", "in", request.method))
    try:
        return await handler(request)
    finally:
        TRACE.append(("inner", "out", request.method))


async def record(request: RpcRequest, handler: Handler) -> Any:
    SEEN.append(request)
    return await handler(request)


async def shortcut(request: RpcRequest, handler: Handler) -> Any:
    """Answers ``cached.*`` itself: those names are in no registry."""
    if request.method.startswith("cached."):
        return {"from": "middleware", "method": request.method, "params": request.params}
    return await handler(request)


async def doubling(request: RpcRequest, handler: Handler) -> Any:
    """Rewrites the params of ``add`` and doubles its result."""
    if request.method == "add" and isinstance(request.params, list):
        request.params = [value * 10 for value in request.params]
        return 2 * await handler(request)
    return await handler(request)


async def maintenance(request: RpcRequest, handler: Handler) -> Any:
    """Refuses everything but the reserved ``rpc.*`` methods."""
    if request.method.startswith("rpc."):
        return await handler(request)
    raise RpcError("Down for maintenance", code=-32042, data={"retry_after": 60})


async def crash(request: RpcRequest, handler: Handler) -> Any:
    if request.method == "rpc.ping":
        return await handler(request)
    raise ValueError("secret middleware internals")


async def crash_after(request: RpcRequest, handler: Handler) -> Any:
    """Runs the method, then fails."""
    result = await handler(request)
    if request.method == "rpc.ping":
        return result
    raise KeyError("secret middleware internals")


async def staff_gate(request: RpcRequest, handler: Handler) -> Any:
    """Looks at the calling connection's user."""
    user = request.connection.user
    if request.method == "subtract" and not (user is not None and user.is_staff):
        raise RpcError("Staff only", code=-32003, data={"method": request.method})
    return await handler(request)


async def stall(request: RpcRequest, handler: Handler) -> Any:
    """Holds calls to ``add`` for an hour: METHOD_TIME_LIMIT covers middlewares too."""
    if request.method == "add":
        await asyncio.sleep(3600)
    return await handler(request)
