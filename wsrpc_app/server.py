"""The protocol core wired to Django: settings, debug mode and the thread pool."""

from __future__ import annotations

import functools

from django.conf import settings

from .conf import wsrpc_settings
from .dispatch import Dispatcher, Middleware
from .registry import Registry, resolve
from .threads import run_sync

__all__ = ["server_dispatcher", "middlewares"]


@functools.cache
def _middlewares(paths: tuple[str, ...]) -> tuple[Middleware, ...]:
    return tuple(resolve(path) for path in paths)


def middlewares() -> tuple[Middleware, ...]:
    """The ``MIDDLEWARES`` setting, imported (once per distinct list)."""
    return _middlewares(tuple(wsrpc_settings.MIDDLEWARES))


def server_dispatcher(registry: Registry) -> Dispatcher:
    """A dispatcher for one connection or HTTP request, configured from settings."""
    return Dispatcher(
        registry,
        run_sync=run_sync,
        time_limit=wsrpc_settings.METHOD_TIME_LIMIT,
        debug=settings.DEBUG,
        middlewares=middlewares(),
    )
