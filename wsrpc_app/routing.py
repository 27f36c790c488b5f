"""WebSocket URL patterns to include in a project's ``URLRouter``."""

from __future__ import annotations

from django.urls import path

from .conf import WEBSOCKET_PATH
from .server.consumer import RpcConsumer

__all__ = ["websocket_urlpatterns"]

websocket_urlpatterns = [
    path(WEBSOCKET_PATH, RpcConsumer.as_asgi()),
]
