"""wsrpc: JSON-RPC 2.0 and pub/sub over WebSockets for Django, on Channels.

The names that need Django (``Connection``, ``publish`` and the rest) load
on first use, so ``from wsrpc_app.client import WsRpcClient`` works in a
process with no Django project at all.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .core.errors import RpcError
from .core.progress import Progress
from .core.registry import RpcMethods, rpc_method

if TYPE_CHECKING:
    from .pubsub.control import (
        acall_connection,
        acall_user,
        adisconnect_connection,
        adisconnect_user,
        arefresh_permissions,
        asubscribe_user,
        aunsubscribe_user,
        call_connection,
        call_user,
        disconnect_connection,
        disconnect_user,
        refresh_permissions,
        subscribe_user,
        unsubscribe_user,
    )
    from .pubsub.history import ahistory, history
    from .pubsub.presence import apresence, apresence_stats, presence, presence_stats
    from .pubsub.publishing import anotify_user, apublish, notify_user, publish
    from .server.connection import Connection

__all__ = [
    "Connection",
    "RpcError",
    "RpcMethods",
    "rpc_method",
    "Progress",
    "publish",
    "apublish",
    "notify_user",
    "anotify_user",
    "history",
    "ahistory",
    "presence",
    "apresence",
    "presence_stats",
    "apresence_stats",
    "subscribe_user",
    "asubscribe_user",
    "unsubscribe_user",
    "aunsubscribe_user",
    "disconnect_user",
    "adisconnect_user",
    "disconnect_connection",
    "adisconnect_connection",
    "call_user",
    "acall_user",
    "call_connection",
    "acall_connection",
    "refresh_permissions",
    "arefresh_permissions",
    "__version__",
]

__version__ = "0.1.0"

#: Root names defined in modules that import Django, loaded when first used.
_LAZY = {
    "Connection": "wsrpc_app.server.connection",
    "publish": "wsrpc_app.pubsub.publishing",
    "apublish": "wsrpc_app.pubsub.publishing",
    "notify_user": "wsrpc_app.pubsub.publishing",
    "anotify_user": "wsrpc_app.pubsub.publishing",
    "history": "wsrpc_app.pubsub.history",
    "ahistory": "wsrpc_app.pubsub.history",
    "presence": "wsrpc_app.pubsub.presence",
    "apresence": "wsrpc_app.pubsub.presence",
    "presence_stats": "wsrpc_app.pubsub.presence",
    "apresence_stats": "wsrpc_app.pubsub.presence",
    "subscribe_user": "wsrpc_app.pubsub.control",
    "asubscribe_user": "wsrpc_app.pubsub.control",
    "unsubscribe_user": "wsrpc_app.pubsub.control",
    "aunsubscribe_user": "wsrpc_app.pubsub.control",
    "disconnect_user": "wsrpc_app.pubsub.control",
    "adisconnect_user": "wsrpc_app.pubsub.control",
    "disconnect_connection": "wsrpc_app.pubsub.control",
    "adisconnect_connection": "wsrpc_app.pubsub.control",
    "call_user": "wsrpc_app.pubsub.control",
    "acall_user": "wsrpc_app.pubsub.control",
    "call_connection": "wsrpc_app.pubsub.control",
    "acall_connection": "wsrpc_app.pubsub.control",
    "refresh_permissions": "wsrpc_app.pubsub.control",
    "arefresh_permissions": "wsrpc_app.pubsub.control",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'wsrpc_app' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
