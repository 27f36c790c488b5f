"""HTTP endpoints; the demo includes them under ``wsrpc/``."""

from __future__ import annotations

from django.urls import path, re_path

from .http.errors import not_found
from .http.health import health
from .http.views import AsyncApiView, DocsView, OpenRpcView, PublishView, RpcView, TopicsView
from .metrics.view import MetricsView

__all__ = ["urlpatterns"]

app_name = "wsrpc"

urlpatterns = [
    path("rpc/", RpcView.as_view(), name="rpc"),
    path("publish/", PublishView.as_view(), name="publish"),
    path("topics/", TopicsView.as_view(), name="topics"),
    path("openrpc.json", OpenRpcView.as_view(), name="openrpc"),
    path("asyncapi.json", AsyncApiView.as_view(), name="asyncapi"),
    path("docs/", DocsView.as_view(), name="docs"),
    path("health/", health, name="health"),
    path("metrics/", MetricsView.as_view(), name="metrics"),
    # Last: any other path under wsrpc/ is a JSON 404, not the project's HTML page.
    re_path(r"^(?P<path>.*)$", not_found, name="not-found"),
]
