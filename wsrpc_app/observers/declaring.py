"""``observe()``: declare in code which model changes to publish, and ``forget()`` to stop."""

from __future__ import annotations

from typing import Unpack

from django.db.models import Model

from . import registry
from .observer import ModelObserver
from .signals import connect

__all__ = ["observe", "forget"]


def observe(model: type[Model] | str, **options: Unpack[registry.ObserverOptions]) -> ModelObserver:
    """Publish ``model``'s changes after each commit as ``{"action", "pk", "data"}`` to ``topic`` and ``also``.

    ``model`` is a model class or ``"app_label.Model"``.

    ``topic`` and ``also`` are topic templates (``"orders.{pk}"``, fields are
    the instance's attributes) or, for ``topic``, a function of the instance
    returning its topics. ``serializer`` is a DRF serializer class or a
    function of the instance (by default a ``ModelSerializer`` of every
    field); ``context`` its serializer context (a dict, or a function of the
    instance). ``fields`` limits which ``save(update_fields=...)`` publish;
    ``m2m`` (True, or field names) publishes many-to-many changes as
    ``updated``; ``actions`` limits which actions publish. With
    ``background=True`` the committing thread hands its changes to one thread
    of the process that reads, serializes and publishes them, and goes on.

    Returns the :class:`ModelObserver`; used as a decorator, it takes the
    decorated serializer class or function. Raises ValueError for a bad
    argument. Call it once, at start-up (an ``AppConfig.ready()``).
    """
    observer = registry.build(model, **options)
    registry.add(observer)
    connect(observer)
    return observer


def forget(observer: ModelObserver) -> None:
    """Stop ``observer`` (declared with :func:`observe`) from publishing."""
    registry.remove(observer)
