"""ASGI entry point of the demo: HTTP through Django, WebSockets through wsrpc."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_project.settings")
django_asgi_app = get_asgi_application()  # before importing anything that touches models

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from wsrpc_app.auth import AuthMiddlewareStack  # noqa: E402
from wsrpc_app.origins import OriginValidator  # noqa: E402
from wsrpc_app.routing import websocket_urlpatterns  # noqa: E402

# The demo serves its own static files (the JS client, the page's CSS and JS) under
# any ASGI server, as `runserver` does. A real deployment runs `collectstatic` and
# lets the web server, a CDN or WhiteNoise serve them instead.
application = ProtocolTypeRouter(
    {
        "http": ASGIStaticFilesHandler(django_asgi_app),
        "websocket": OriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
