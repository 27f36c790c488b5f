"""``GET wsrpc/health/``: for load balancers, whether this process can serve.

200 when the channel layer answers a round trip within ``HEALTH_TIMEOUT``,
503 when it does not; the body says which, and how many WebSocket
connections this process holds. No authentication and no throttle: a load
balancer polls it; it tells nothing about who is connected.
"""

from __future__ import annotations

import logging
import time

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse

from ..conf import wsrpc_settings
from ..core.types import JSONObject
from ..pubsub.process import current_hub
from ..pubsub.reachability import check_layer

__all__ = ["health"]

logger = logging.getLogger("wsrpc")


# It touches no database: projects with ATOMIC_REQUESTS (which Django refuses for async views) serve it too.
@transaction.non_atomic_requests
async def health(request: HttpRequest) -> HttpResponse:
    """The channel layer's reachability and this process's connection count, as JSON (503 when unreachable)."""
    if request.method not in ("GET", "HEAD"):
        return JsonResponse(
            {"detail": f'Method "{request.method}" not allowed.'}, status=405, headers={"Allow": "GET, HEAD"}
        )
    layer: JSONObject = {"alias": wsrpc_settings.CHANNEL_LAYER}
    started = time.perf_counter()
    try:
        await check_layer(wsrpc_settings.HEALTH_TIMEOUT)
    except Exception as exc:
        logger.warning("health check: the channel layer cannot be reached: %r", exc)
        layer |= {"reachable": False, "error": type(exc).__name__}
    else:
        layer |= {"reachable": True}
    layer["seconds"] = round(time.perf_counter() - started, 6)
    hub = current_hub()
    body: JSONObject = {
        "status": "ok" if layer["reachable"] else "unavailable",
        "channel_layer": layer,
        "connections": len(hub.connections) if hub is not None else 0,
    }
    return JsonResponse(body, status=200 if layer["reachable"] else 503, headers={"Cache-Control": "no-store"})


# It reads nothing from the request: other methods get a JSON 405, not the CSRF page
# (csrf_exempt() would wrap this coroutine in a sync function on Django 4.2).
vars(health)["csrf_exempt"] = True
