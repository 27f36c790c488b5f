from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

__all__ = ["WsRpcConfig"]


class WsRpcConfig(AppConfig):
    name = "wsrpc_app"
    verbose_name = _("WebSocket RPC")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  registers the system checks
        from .acl.invalidation import connect_signals
        from .observers import checks as observer_checks  # noqa: F401  registers wsrpc_app.E014
        from .observers.signals import connect_all as connect_observers
        from .pubsub import publishing  # noqa: F401  tells every process when topic permissions change
        from .server.log_context import install as install_log_context
        from .server.revocation import connect_signals as connect_revocations

        install_log_context()
        connect_signals()
        connect_revocations()
        connect_observers()
