"""Publishing the changes that send no signals: ``bulk_create``, ``bulk_update``, ``QuerySet.update``.

Django sends no ``post_save`` for them, so no observer sees them by
itself. :func:`publish_changes` tells the observers, with the same rules as
a signal: after the commit, once per row, its last state.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import router
from django.db.models import Model, QuerySet

from .changes import Change, deleted_change, record
from .observer import ACTIONS, Action
from .registry import observers_for

__all__ = ["publish_changes"]


def publish_changes(
    rows: QuerySet[Model] | Iterable[Model], action: Action = "updated", *, using: str | None = None
) -> int:
    """Publish ``action`` for each of ``rows`` (model instances, or a queryset read now); how many changes.

    ``"updated"`` and ``"created"`` are serialized after the commit;
    ``"deleted"`` now, so call it before deleting rows by a means that sends
    no signal (raw SQL): ``QuerySet.delete()`` sends them. ``using`` is the
    database whose transaction decides (by default the queryset's, or the
    router's for writing each row).
    """
    if action not in ACTIONS:
        raise ValueError(f"action is one of {', '.join(ACTIONS)}, not {action!r}")
    if isinstance(rows, QuerySet):
        using = using or rows.db
        rows = rows.all()  # a fresh read: a queryset evaluated before an update() caches the old rows
    count = 0
    for row in rows:
        alias = using or router.db_for_write(type(row), instance=row)
        for observer in observers_for(type(row)):
            change = deleted_change(observer, row) if action == "deleted" else Change(observer, action, row.pk)
            if change is not None:
                record(change, alias)
                count += 1
    return count
