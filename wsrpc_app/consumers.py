"""The WebSocket consumer, at the import path the README documents (it lives in :mod:`wsrpc_app.server.consumer`)."""

from __future__ import annotations

from .core.errors import CloseCode
from .server.consumer import RpcConsumer

__all__ = ["RpcConsumer", "CloseCode"]
