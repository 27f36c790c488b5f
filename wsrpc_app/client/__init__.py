"""The Python client: ``from wsrpc_app.client import WsRpcClient``.

It needs no Django project: importing it loads neither Django nor Channels
(``pip install "wsrpc[client]"``).
"""

from __future__ import annotations

from .proxies import ProxyError, ProxyRefused, ProxyUnreachable
from .reconnecting import EventCallback, GapCallback, HandshakeRefused, PeerDisconnected, RpcError, WsRpcClient
from .recovery import Gap, Position

__all__ = [
    "WsRpcClient",
    "RpcError",
    "PeerDisconnected",
    "HandshakeRefused",
    "ProxyError",
    "ProxyRefused",
    "ProxyUnreachable",
    "EventCallback",
    "GapCallback",
    "Gap",
    "Position",
]
