"""The API gateway the proxy tests serve with daphne and uvicorn: ``WebSocketProxy`` routes behind
wsrpc's origin check and auth stack, as a deployment would wire them.

Targets come from the environment (see :class:`tests.support.gateway.Gateway`):
``WSRPC_GATEWAY_RPC`` (a wsrpc server), ``WSRPC_GATEWAY_ECHO`` (the echo
target), ``WSRPC_GATEWAY_SILENT`` (a port that accepts TCP and never
answers), ``WSRPC_GATEWAY_DOWN`` (a port nothing listens on),
``WSRPC_GATEWAY_TLS_ECHO`` and ``WSRPC_GATEWAY_CA`` (the echo target over
TLS, and the CA that signed its certificate).

HTTP: ``/gateway-stats/`` answers what the process holds (asyncio tasks,
open file descriptors, resident memory); everything else goes to Django
(the demo page, whose client connects to ``/ws/rpc/`` through the gateway).
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402
from django.urls import path  # noqa: E402

from wsrpc_app.auth import AuthMiddlewareStack  # noqa: E402
from wsrpc_app.origins import OriginValidator  # noqa: E402
from wsrpc_app.proxy import DEFAULT_FORWARDED_HEADERS, WebSocketProxy  # noqa: E402

__all__ = ["application", "SMALL_LIMIT", "CONNECT_TIMEOUT"]

#: The frame limit of the ``ws/small/`` route, both ways.
SMALL_LIMIT = 64 * 1024
#: The connect timeout of the routes to targets that cannot answer.
CONNECT_TIMEOUT = 1.0

RPC = os.environ.get("WSRPC_GATEWAY_RPC", "ws://127.0.0.1:9")
ECHO = os.environ.get("WSRPC_GATEWAY_ECHO", "ws://127.0.0.1:9")
SILENT = os.environ.get("WSRPC_GATEWAY_SILENT", "9")
DOWN = os.environ.get("WSRPC_GATEWAY_DOWN", "9")
TLS_ECHO = os.environ.get("WSRPC_GATEWAY_TLS_ECHO", "wss://127.0.0.1:9")
CA = os.environ.get("WSRPC_GATEWAY_CA")


def proxy(target: str, **options: Any) -> WebSocketProxy:
    """A route's application, as a project writes it."""
    return WebSocketProxy.as_asgi(target=target, **options)


WITH_COOKIES = [*DEFAULT_FORWARDED_HEADERS, "Cookie"]

routes = [
    path("ws/rpc/", proxy(RPC + "/ws/rpc/")),
    path("ws/echo/<str:room>/", proxy(ECHO + "/echo/{room}")),
    path("ws/small/<str:room>/", proxy(ECHO + "/echo/{room}", max_message_bytes=SMALL_LIMIT, max_queue=4)),
    path("ws/cookies/<str:room>/", proxy(ECHO + "/echo/{room}", forward_headers=WITH_COOKIES)),
    path("ws/refused/", proxy(ECHO + "/refuse")),
    path("ws/down/", proxy(f"ws://127.0.0.1:{DOWN}/", connect_timeout=CONNECT_TIMEOUT)),
    path("ws/silent/", proxy(f"ws://127.0.0.1:{SILENT}/", connect_timeout=CONNECT_TIMEOUT)),
    path("ws/tls/<str:room>/", proxy(TLS_ECHO + "/echo/{room}", ssl=ssl.create_default_context(cafile=CA))),
    path("ws/tls-default/<str:room>/", proxy(TLS_ECHO + "/echo/{room}", connect_timeout=CONNECT_TIMEOUT)),
]


def _rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


async def stats(scope: Any, receive: Any, send: Any) -> None:
    body = json.dumps(
        {"tasks": len(asyncio.all_tasks()), "fds": len(os.listdir("/proc/self/fd")), "rss": _rss()}
    ).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


http_app = ASGIStaticFilesHandler(django_asgi_app)


async def http(scope: Any, receive: Any, send: Any) -> None:
    if scope["path"] == "/gateway-stats/":
        await stats(scope, receive, send)
    else:
        await http_app(scope, receive, send)


application = ProtocolTypeRouter({"http": http, "websocket": OriginValidator(AuthMiddlewareStack(URLRouter(routes)))})
