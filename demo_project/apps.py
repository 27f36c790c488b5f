from __future__ import annotations

from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo project is also an app, so ``migrate`` creates its demo data."""

    name = "demo_project"
    verbose_name = "wsrpc demo"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import observers  # noqa: F401  publishes the to-do list's changes
