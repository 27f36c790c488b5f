"""Which web pages may open a WebSocket to this server.

A browser sends the page's ``Origin`` with every WebSocket handshake and,
unlike for ``fetch``, enforces nothing itself: without a check, any site a
logged-in user visits could open a socket that carries their session cookie
and act as them (cross-site WebSocket hijacking). ``OriginValidator``
refuses such handshakes (HTTP 403).

A handshake with no ``Origin`` at all does not come from a browser page:
browsers always send it. It comes from a service, a script, the Python
client; it carries no one's cookies by accident, so hijacking is not
possible through it, and it is let through by default
(``ALLOW_NO_ORIGIN``). It still has to authenticate like any other.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import ParseResult

from channels.security.websocket import OriginValidator as ChannelsOriginValidator
from django.conf import settings

from .conf import wsrpc_settings

__all__ = ["OriginValidator", "allowed_origins"]


def allowed_origins() -> list[str]:
    """``WSRPC["ALLOWED_ORIGINS"]``, or by default the hosts of ``ALLOWED_HOSTS``."""
    configured = wsrpc_settings.ALLOWED_ORIGINS
    if configured is not None:
        return list(configured)
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not hosts:
        hosts = ["localhost", "127.0.0.1", "[::1]"]  # as Django's own DEBUG default
    return hosts


class OriginValidator(ChannelsOriginValidator):  # type: ignore[misc]  # channels has no type hints
    """Refuses WebSocket handshakes from pages whose origin is not allowed.

    Patterns are Channels': ``https://example.com``, ``example.com`` (any
    scheme and port), ``.example.com`` (and its subdomains), ``*``. Settings
    are read at each handshake.
    """

    def __init__(self, application: Any) -> None:
        self.application = application

    @property
    def allowed_origins(self) -> list[str]:
        return allowed_origins()

    def valid_origin(self, parsed_origin: ParseResult | None) -> bool:
        if parsed_origin is None:
            return bool(wsrpc_settings.ALLOW_NO_ORIGIN)
        return bool(self.validate_origin(parsed_origin))
