"""The model signals observers listen to, connected for the observed models only.

Listening to every model would cost every save a call, and every delete
its fast path: Django's deletion collector must send signals for a model
with a listener, so it loads the rows it deletes. Only observed models pay.

- ``post_save``: ``created`` or ``updated`` (``save(update_fields=...)``
  publishes only when it touches the observer's ``fields``);
- ``post_init``, for observers whose topics read the row's fields: the
  topics a row had when loaded, so that an update can say where it moved;
- ``pre_delete``: ``deleted``, serialized while the row and its relations
  still exist (``QuerySet.delete()`` sends it for each row too);
- ``m2m_changed`` of the observed many-to-many fields, from either side:
  ``updated``.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.signals import setting_changed
from django.db.models import Model
from django.db.models.signals import m2m_changed, post_init, post_save, pre_delete
from django.dispatch import receiver

from .changes import Change, deleted_change, record
from .moves import remember, remembered
from .observer import ModelObserver
from .registry import observers, observers_for

__all__ = ["connect", "connect_all"]


def connect(observer: ModelObserver) -> None:
    """Listen to the signals ``observer`` needs (once per model and field, however many observers)."""
    model = observer.model
    label = observer.label
    post_save.connect(_saved, sender=model, dispatch_uid=f"wsrpc-observe-save-{label}")
    if observer.topic_fields:
        post_init.connect(_loaded, sender=model, dispatch_uid=f"wsrpc-observe-init-{label}")
    pre_delete.connect(_deleting, sender=model, dispatch_uid=f"wsrpc-observe-delete-{label}")
    for through, name in observer.m2m_fields.items():
        m2m_changed.connect(_m2m_changed, sender=through, dispatch_uid=f"wsrpc-observe-m2m-{label}-{name}")


def connect_all() -> None:
    """Connect every observer in force (at start-up, and after the settings change)."""
    for observer in observers():
        connect(observer)


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: object) -> None:
    if setting == "WSRPC":
        connect_all()


def _saved(
    sender: type[Model],
    instance: Model,
    created: bool,
    update_fields: Iterable[str] | None,
    raw: bool,
    using: str,
    **kwargs: object,
) -> None:
    if raw:  # loaddata: the fixture's rows, not changes anyone made
        return
    for observer in observers_for(sender):
        if created or observer.publishes_update(update_fields):
            before = None if created else remembered(observer, instance)
            record(Change(observer, "created" if created else "updated", instance.pk, before=before), using)
        remember(observer, instance)


def _loaded(sender: type[Model], instance: Model, **kwargs: object) -> None:
    for observer in observers_for(sender):
        remember(observer, instance)


def _deleting(sender: type[Model], instance: Model, using: str, **kwargs: object) -> None:
    for observer in observers_for(sender):
        if "deleted" in observer.actions:
            change = deleted_change(observer, instance)
            if change is not None:
                record(change, using)


def _m2m_changed(
    sender: type[Model],
    instance: Model,
    action: str,
    reverse: bool,
    model: type[Model],
    pk_set: set[object] | None,
    using: str,
    **kwargs: object,
) -> None:
    if action not in ("post_add", "post_remove", "post_clear", "pre_clear"):
        return
    if not reverse:
        # instance.tags.add(...): the observed row is the instance.
        if action == "pre_clear":
            return
        for observer in _observing(type(instance), sender):
            record(Change(observer, "updated", instance.pk), using)
        return
    # tag.article_set.add(...): the observed rows are the ones named, or for a
    # clear the ones related before it.
    if action == "post_clear":
        return
    for observer in _observing(model, sender):
        pks: Iterable[object] = pk_set if pk_set is not None else _related_pks(observer, sender, instance, using)
        for pk in pks:
            record(Change(observer, "updated", pk), using)


def _related_pks(observer: ModelObserver, through: type[Model], instance: Model, using: str) -> list[object]:
    related = observer.model._base_manager.using(using).filter(**{observer.m2m_fields[through]: instance})
    return list(related.values_list("pk", flat=True))


def _observing(model: type[Model], through: type[Model]) -> list[ModelObserver]:
    return [observer for observer in observers_for(model) if through in observer.m2m_fields]
