"""The protocol core wired to Django: the registry and dispatcher that settings, debug mode and the thread pool make."""

from __future__ import annotations

import functools

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from ..conf import wsrpc_settings
from ..core.dispatch import Dispatcher, Middleware
from ..core.registry import Registry, methods_of, resolve
from ..metrics.recorder import recorder
from ..pubsub import methods as pubsub_methods
from . import methods
from .connection import HttpConnection, HttpRequest
from .threads import run_sync

__all__ = ["get_registry", "builtin_registry", "server_dispatcher", "http_connection", "middlewares"]


@functools.cache
def get_registry() -> Registry:
    """The methods the project exposes, with the reserved ``rpc.*`` ones."""
    return Registry.from_entries(wsrpc_settings.METHODS).merged(builtin_registry())


def builtin_registry() -> Registry:
    """The reserved ``rpc.*`` methods every connection may call."""
    return Registry([*methods_of(methods), *methods_of(pubsub_methods)], allow_reserved=True)


@receiver(setting_changed)
def _forget_registry(*, setting: str, **kwargs: object) -> None:
    if setting == "WSRPC":
        get_registry.cache_clear()


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
        observe=recorder().call_observer(registry),
    )


def http_connection(request: HttpRequest) -> HttpConnection:
    """The connection of an HTTP request: its caller, with the project's methods."""
    registry = get_registry()
    return HttpConnection(request, registry, server_dispatcher(registry))
