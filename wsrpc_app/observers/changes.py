"""Changes held until their transaction commits, one publish per row, its last state.

Each database connection (so each thread) collects the changes of its
current transaction in a :class:`Batch`. The batch publishes when the
transaction commits and is dropped with it when it rolls back. A row changed
several times publishes once: ``created`` then ``updated`` is ``created``,
``updated`` then ``deleted`` is ``deleted``, ``created`` then ``deleted`` is
nothing. A created or updated row is read again after the commit (one query
per model and transaction) and serialized as it was committed, whatever
became of the Python objects saved; a deleted row was serialized just before
its deletion.

A change made inside a savepoint that rolls back is not published: it
publishes only if its own ``transaction.on_commit`` marker survives. The
batch's publishing callback runs after every marker, and no savepoint
rollback removes it (see :func:`_run_last`). Outside a transaction
(autocommit) a change is published at once, being committed already. The
changes of an observer with ``background=True`` are handed to the thread
of :mod:`.background` instead, and the commit returns at once.
"""

from __future__ import annotations

import functools
import logging
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import orjson
from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

from ..pubsub.publishing import apublish, run_on_loop
from . import background
from .moves import placements, remembered
from .observer import Action, ModelObserver

__all__ = ["Change", "Batch", "fold", "record", "publish_committed", "publish_now", "deleted_change"]

logger = logging.getLogger("wsrpc")


@dataclass(slots=True)
class Change:
    """One signal's worth: ``observer`` saw ``action`` on the row ``pk``.

    A deletion carries its data and topics, taken while the row still existed;
    an update, when known, the topics the row had before (:mod:`.moves`).
    """

    observer: ModelObserver
    action: Action
    pk: object
    data: bytes | None = None
    topics: list[str] | None = None
    before: list[str] | None = None
    committed: bool = True

    def mark_committed(self) -> None:
        self.committed = True


#: The result of two actions on one row in one transaction; None: nothing to publish.
_FOLDED: dict[tuple[Action | None, Action], Action | None] = {
    (None, "created"): "created",
    (None, "updated"): "updated",
    (None, "deleted"): "deleted",
    ("created", "created"): "created",
    ("created", "updated"): "created",
    ("created", "deleted"): None,
    ("updated", "created"): "updated",
    ("updated", "updated"): "updated",
    ("updated", "deleted"): "deleted",
    ("deleted", "created"): "updated",
    ("deleted", "updated"): "updated",
    ("deleted", "deleted"): "deleted",
}


def fold(changes: Iterable[Change]) -> list[tuple[Action, Change, list[str] | None]]:
    """One (action, last change, topics before the first) per row, in the order each row last changed."""
    rows: dict[tuple[int, object], tuple[Action | None, Change, list[str] | None]] = {}
    for change in changes:
        key = (id(change.observer), change.pk)
        previous = rows.pop(key, None)
        if previous is None:
            rows[key] = (_FOLDED[(None, change.action)], change, change.before)
        else:
            rows[key] = (_FOLDED[(previous[0], change.action)], change, previous[2])
    return [(action, change, before) for action, change, before in rows.values() if action is not None]


class Batch:
    """The changes of one transaction on one connection."""

    def __init__(self, using: str) -> None:
        self.using = using
        self.changes: list[Change] = []
        self.publish = self._publish  # one bound method: found again in the connection's hooks by identity

    def _publish(self) -> None:
        changes, self.changes = self.changes, []
        publish_committed([change for change in changes if change.committed], self.using)


_batches: weakref.WeakKeyDictionary[BaseDatabaseWrapper, Batch] = weakref.WeakKeyDictionary()


def record(change: Change, using: str) -> None:
    """Publish ``change`` once the current transaction on ``using`` commits (at once outside one)."""
    connection = connections[using]
    if not connection.in_atomic_block:
        publish_committed([change], using)
        return
    batch = _batches.get(connection)
    if batch is None or _hook_index(connection, batch.publish) is None:
        # None yet, or its transaction rolled back (which dropped its hook).
        batch = _batches[connection] = Batch(using)
    if connection.savepoint_ids:
        change.committed = False
        transaction.on_commit(change.mark_committed, using=using)
    batch.changes.append(change)
    _run_last(connection, batch.publish)


def _hooks(connection: BaseDatabaseWrapper) -> list[tuple[set[str], Callable[[], None], bool]]:
    # django-stubs still declares the pairs of Django before 4.2; they are triples since.
    hooks: list[tuple[set[str], Callable[[], None], bool]] = getattr(connection, "run_on_commit")  # noqa: B009
    return hooks


def _hook_index(connection: BaseDatabaseWrapper, hook: object) -> int | None:
    hooks = _hooks(connection)
    for index in range(len(hooks) - 1, -1, -1):  # it is last, or nearly
        if hooks[index][1] is hook:
            return index
    return None


def _run_last(connection: BaseDatabaseWrapper, hook: Callable[[], None]) -> None:
    """Run ``hook`` after the commit, after every hook registered so far, whatever savepoint rolls back.

    Django has no such hook: ``transaction.on_commit`` ties a hook to the
    savepoints open when it is registered, and runs hooks in registration
    order. This keeps the batch's hook at the end of the connection's list
    (Django's ``(savepoint ids, hook, robust)`` entries, stable since 4.2),
    tied to no savepoint: only the whole transaction's rollback drops it.
    """
    hooks = _hooks(connection)
    index = _hook_index(connection, hook)
    if index == len(hooks) - 1:
        return
    if index is not None:
        del hooks[index]
    hooks.append((set(), hook, False))


def publish_committed(changes: list[Change], using: str) -> None:
    """Publish ``changes`` now, and those of ``background`` observers on the background thread."""
    now = [change for change in changes if not change.observer.background]
    later = [change for change in changes if change.observer.background]
    if now:
        publish_now(now, using)
    if later:
        background.submit(functools.partial(publish_now, later, using))


def publish_now(changes: Iterable[Change], using: str) -> None:
    """Serialize and publish committed ``changes``, folded to one per row; errors are logged, never raised.

    The data changed already: a serializer, the database or the channel
    layer failing must not turn the request that committed it into an error.
    """
    folded = [row for row in fold(changes) if row[0] in row[1].observer.actions]
    try:
        rows = _read_again([change for action, change, _before in folded if action != "deleted"], using)
    except Exception:
        logger.exception("could not read the changed rows again to publish them")
        return
    events: list[tuple[str, orjson.Fragment]] = []
    for action, change, before in folded:
        observer = change.observer
        try:
            if change.data is not None and change.topics is not None:
                topics, data = change.topics, change.data
            else:
                row = rows.get((observer.model, change.pk))
                if row is None:  # deleted since, by a means that sends no signal
                    continue
                topics, data = observer.topics_for(row), observer.encode_data(row)
            encoded: dict[Action, orjson.Fragment] = {}
            for topic, action_there in placements(action, topics, before):
                if action_there not in encoded:
                    encoded[action_there] = observer.encode_event(action_there, change.pk, data)
                events.append((topic, encoded[action_there]))
        except Exception:
            logger.exception("%r could not serialize the %s row %r", observer, action, change.pk)
            continue
    if events:
        run_on_loop(_send, events)


def _read_again(changes: list[Change], using: str) -> dict[tuple[type[Model], object], Model]:
    """The committed rows of ``changes``, by model and primary key: one query per model."""
    pks: dict[type[Model], set[object]] = {}
    for change in changes:
        pks.setdefault(change.observer.model, set()).add(change.pk)
    rows: dict[tuple[type[Model], object], Model] = {}
    for model, keys in pks.items():
        # The base manager: a default manager's filter (soft deletion, say) must not hide a change.
        for pk, row in model._base_manager.using(using).in_bulk(list(keys)).items():
            rows[(model, pk)] = row
    return rows


async def _send(events: list[tuple[str, orjson.Fragment]]) -> None:
    # One after another, so each topic receives a transaction's changes in order.
    for topic, event in events:
        try:
            await apublish(topic, event)
        except Exception:
            logger.exception("could not publish a model change to %r", topic)


def deleted_change(observer: ModelObserver, instance: Model) -> Change | None:
    """A deletion of ``instance``, its data and topics taken now, while its row and relations still exist.

    None, and the error logged, when they cannot be: the deletion goes on.
    """
    try:
        data = observer.encode_data(instance)
        # The row's topics as its subscribers know them: as loaded or last saved, when kept.
        topics = remembered(observer, instance) or observer.topics_for(instance)
    except Exception:
        logger.exception("%r could not serialize the deleted row %r", observer, instance.pk)
        return None
    return Change(observer, "deleted", instance.pk, data=data, topics=topics)
