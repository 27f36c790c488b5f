"""The protocol core wired to Django: settings, debug mode and the thread pool."""

from __future__ import annotations

from django.conf import settings

from .conf import wsrpc_settings
from .dispatch import Dispatcher
from .registry import Registry
from .threads import run_sync

__all__ = ["server_dispatcher"]


def server_dispatcher(registry: Registry) -> Dispatcher:
    """A dispatcher for one connection or HTTP request, configured from settings."""
    return Dispatcher(
        registry,
        run_sync=run_sync,
        time_limit=wsrpc_settings.METHOD_TIME_LIMIT,
        debug=settings.DEBUG,
    )
