"""The Python client: ``from wsrpc_app.client import WsRpcClient``.

It needs no Django project: importing it loads neither Django nor Channels
(``pip install "wsrpc[client]"``).
"""

from __future__ import annotations

from .reconnecting import EventCallback, HandshakeRefused, PeerDisconnected, RpcError, WsRpcClient

__all__ = ["WsRpcClient", "RpcError", "PeerDisconnected", "HandshakeRefused", "EventCallback"]
