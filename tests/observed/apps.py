from __future__ import annotations

from django.apps import AppConfig


class ObservedConfig(AppConfig):
    """Models the observer tests change, and their observers (``tests.observed.observers``)."""

    name = "tests.observed"
    label = "observed"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import observers  # noqa: F401
