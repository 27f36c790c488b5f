"""wsrpc: JSON-RPC 2.0 and pub/sub over WebSockets for Django, on Channels."""

from __future__ import annotations

from .core.errors import RpcError
from .core.registry import RpcMethods, rpc_method
from .pubsub.publishing import anotify_user, apublish, notify_user, publish
from .server.connection import Connection

__all__ = [
    "Connection",
    "RpcError",
    "RpcMethods",
    "rpc_method",
    "publish",
    "apublish",
    "notify_user",
    "anotify_user",
    "__version__",
]

__version__ = "0.1.0"
