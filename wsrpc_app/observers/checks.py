"""The system check of ``WSRPC["OBSERVERS"]``: ``wsrpc_app.E014``."""

from __future__ import annotations

from collections.abc import Sequence

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register

from .registry import from_setting

__all__ = ["check_observers"]

HINT = (
    'Each entry is a dict of observe()\'s arguments: {"model": "app.Model", "topic": "orders.{pk}", '
    '"serializer": "app.serializers.OrderSerializer", ...}; see "Model observers" in the README.'
)


@register(Tags.compatibility)
def check_observers(app_configs: Sequence[AppConfig] | None = None, **kwargs: object) -> list[CheckMessage]:
    user = getattr(settings, "WSRPC", {})
    entries = user.get("OBSERVERS", []) if isinstance(user, dict) else []
    if not isinstance(entries, list):
        return [Error("WSRPC['OBSERVERS'] must be a list.", hint=HINT, id="wsrpc_app.E014")]
    messages: list[CheckMessage] = []
    for index, entry in enumerate(entries):
        try:
            from_setting(entry)
        except ValueError as exc:
            messages.append(Error(f"WSRPC['OBSERVERS'][{index}]: {exc}.", hint=HINT, id="wsrpc_app.E014"))
    return messages
