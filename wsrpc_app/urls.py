"""HTTP endpoints; the demo includes them under ``wsrpc/``."""

from __future__ import annotations

from django.urls import path

from .http.views import AsyncApiView, DocsView, OpenRpcView, PublishView, RpcView, TopicsView

__all__ = ["urlpatterns"]

app_name = "wsrpc"

urlpatterns = [
    path("rpc/", RpcView.as_view(), name="rpc"),
    path("publish/", PublishView.as_view(), name="publish"),
    path("topics/", TopicsView.as_view(), name="topics"),
    path("openrpc.json", OpenRpcView.as_view(), name="openrpc"),
    path("asyncapi.json", AsyncApiView.as_view(), name="asyncapi"),
    path("docs/", DocsView.as_view(), name="docs"),
]
