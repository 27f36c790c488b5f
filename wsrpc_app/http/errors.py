"""Errors under ``wsrpc/`` as JSON, whatever ``DEBUG`` is: no Django HTML page answers an API client.

DRF's shape, ``{"detail": "..."}``, plus the limit that was hit under the
name the socket's ``data`` gives it (``max_message_bytes``,
``publish_rate``). ``rpc/`` answers its own limits and failures with
JSON-RPC error objects instead (``views.RpcView``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.settings import api_settings

from ..core.types import JSONObject

__all__ = ["PayloadTooLarge", "PublishThrottled", "as_api_exception", "exception_handler", "not_found", "retry_after"]

logger = logging.getLogger("wsrpc")


class PayloadTooLarge(exceptions.APIException):
    """413: the body is over ``MAX_MESSAGE_BYTES`` (or Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE``)."""

    status_code = 413
    default_detail = "The request body is too large."
    default_code = "payload_too_large"

    def __init__(self, limit: int | None = None) -> None:
        super().__init__(f"The request body exceeds {limit} bytes." if limit is not None else None)
        self.extra: JSONObject = {"max_message_bytes": limit}


class PublishThrottled(exceptions.Throttled):
    """429 with ``Retry-After``: the caller is over ``PUBLISH_RATE``."""

    def __init__(self, wait: float | None, publish_rate: float | None) -> None:
        super().__init__(wait, f"Publishing too fast: at most {publish_rate:g} publishes a second.")
        self.extra: JSONObject = {"publish_rate": publish_rate}


def as_api_exception(exc: Exception) -> Exception:
    """Django's refusals of a request as the DRF exceptions that answer them."""
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    if isinstance(exc, SuspiciousOperation):
        return exceptions.ParseError("The request was refused as malformed.")
    return exc


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """The project's DRF exception handler, then JSON for what it leaves to Django (a 500)."""
    exc = as_api_exception(exc)
    handler: Callable[[Exception, dict[str, Any]], Response | None] = api_settings.EXCEPTION_HANDLER  # type: ignore[assignment]  # imported by DRF
    response = handler(exc, context)  # read now, as DRF does
    if response is None:
        logger.error("%s failed", context.get("view"), exc_info=exc)
        body: JSONObject = {"detail": "A server error occurred."}
        if settings.DEBUG:
            body["exception"] = f"{type(exc).__name__}: {exc}"
        return Response(body, status=500)
    extra = getattr(exc, "extra", None)
    if isinstance(extra, dict) and isinstance(response.data, dict):
        response.data.update(extra)
    return response


@csrf_exempt
def not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    """404 as JSON for any path under ``wsrpc/`` that names no endpoint.

    A ``GET`` of an endpoint's path without its trailing slash is redirected,
    as ``APPEND_SLASH`` would (this catch-all path hides the endpoint from it).
    """
    if request.method in ("GET", "HEAD") and not request.path_info.endswith("/"):
        try:
            match = resolve(request.path_info + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not not_found:
            query = request.META.get("QUERY_STRING", "")
            return HttpResponsePermanentRedirect(request.path + "/" + (f"?{query}" if query else ""))
    return JsonResponse({"detail": "Not found."}, status=404)


def retry_after(wait: float | None) -> dict[str, str]:
    """The ``Retry-After`` header for a wait in seconds, as DRF writes it."""
    return {"Retry-After": str(math.ceil(wait))} if wait else {}
