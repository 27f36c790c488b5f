"""Driving RpcConsumer in process with Channels' WebsocketCommunicator."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from channels.testing import WebsocketCommunicator

from wsrpc_app.consumers import RpcConsumer

PATH = "/ws/rpc/"


@contextlib.asynccontextmanager
async def connected(application: Any = None) -> AsyncIterator[WebsocketCommunicator]:
    """An accepted connection to ``application`` (by default a bare RpcConsumer), closed afterwards."""
    communicator = WebsocketCommunicator(application or RpcConsumer.as_asgi(), PATH)
    accepted, _ = await communicator.connect()
    assert accepted
    try:
        yield communicator
    finally:
        await communicator.disconnect()


def request(method: str, params: Any = None, id_: Any = 1) -> dict[str, Any]:
    """A JSON-RPC request object."""
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": id_}
    if params is not None:
        message["params"] = params
    return message
