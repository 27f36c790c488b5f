"""``GET wsrpc/metrics/``: the Prometheus exposition, for staff users and for a scraper holding ``METRICS_TOKEN``.

The default registry, so the project's own metrics come along; under
``prometheus_client``'s multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``
set, as with ``uvicorn --workers``), the sum over every process's files.
404 when metrics are off or ``prometheus_client`` is not installed.
"""

from __future__ import annotations

import hmac
import os
from typing import Any

from django.http import Http404, HttpResponse
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from ..conf import wsrpc_settings
from .recorder import recorder

__all__ = ["MetricsView", "StaffOrMetricsToken"]


class StaffOrMetricsToken(BasePermission):
    """A staff user (session or DRF token), or ``Authorization: Bearer <METRICS_TOKEN>``."""

    message = "Staff users, or Authorization: Bearer with WSRPC['METRICS_TOKEN'], may read the metrics."

    def has_permission(self, request: Request, view: object) -> bool:
        if getattr(request.user, "is_staff", False) and getattr(request.user, "is_active", False):
            return True
        token = wsrpc_settings.METRICS_TOKEN
        scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), str(token))


class _JsonErrors(BaseContentNegotiation):
    # Scrapers ask for text; refusals are JSON like every other endpoint's, and success is the exposition.
    def select_parser(self, request: Request, parsers: Any) -> Any:
        return None

    def select_renderer(self, request: Request, renderers: Any, format_suffix: str | None = None) -> Any:
        renderer: BaseRenderer = JSONRenderer()
        return renderer, renderer.media_type


class MetricsView(APIView):
    """``GET``: the metrics in Prometheus' text format (OpenMetrics when the scraper asks for it)."""

    permission_classes = [StaffOrMetricsToken]
    content_negotiation_class = _JsonErrors

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if not recorder().enabled:
            raise Http404("metrics are off")
        super().initial(request, *args, **kwargs)

    def get(self, request: Request, *args: object, **kwargs: object) -> HttpResponse:
        from prometheus_client import REGISTRY, CollectorRegistry
        from prometheus_client.exposition import choose_encoder
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = REGISTRY
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # prometheus_client leaves it unannotated
        encoder, content_type = choose_encoder(request.META.get("HTTP_ACCEPT", ""))
        return HttpResponse(encoder(registry), content_type=content_type, headers={"Cache-Control": "no-store"})
