"""HTTP endpoints; the demo includes them under ``wsrpc/``."""

from __future__ import annotations

from django.urls import path

from .views import RpcView

__all__ = ["urlpatterns"]

app_name = "wsrpc"

urlpatterns = [
    path("rpc/", RpcView.as_view(), name="rpc"),
]
