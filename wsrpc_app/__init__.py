"""wsrpc: JSON-RPC 2.0 and pub/sub over WebSockets for Django, on Channels."""

from __future__ import annotations

from .connection import Connection
from .errors import RpcError
from .registry import RpcMethods, rpc_method

__all__ = ["Connection", "RpcError", "RpcMethods", "rpc_method", "__version__"]

__version__ = "0.1.0"
