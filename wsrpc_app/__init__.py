"""wsrpc: JSON-RPC 2.0 and pub/sub over WebSockets for Django, on Channels."""

from __future__ import annotations

from .connection import Connection
from .errors import RpcError
from .publishing import anotify_user, apublish, notify_user, publish
from .registry import RpcMethods, rpc_method

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
