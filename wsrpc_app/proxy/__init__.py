"""A WebSocket proxy for API gateways: ``WebSocketProxy.as_asgi(target=...)`` in Channels routing.

::

    from wsrpc_app.proxy import WebSocketProxy

    websocket_urlpatterns = [
        path("ws/chat/<room>/", WebSocketProxy.as_asgi(target="ws://chat:8000/ws/chat/{room}/")),
    ]

Modules, one idea each: :mod:`.target` (the target URL from the route's
kwargs), :mod:`.headers` (what the target's handshake carries), :mod:`.frames`
(one message across, the size limit) and :mod:`.closing` (close codes both
ways, refused handshakes) decide without I/O; :mod:`.gateway` (connecting,
then accepting) and :mod:`.tunnel` (frames both ways, then closing) do the I/O,
on the ``websockets`` library. The package imports nothing of Django.
"""

from __future__ import annotations

from .gateway import ProxyOptions, WebSocketProxy
from .headers import DEFAULT_FORWARDED_HEADERS

__all__ = ["WebSocketProxy", "ProxyOptions", "DEFAULT_FORWARDED_HEADERS"]
