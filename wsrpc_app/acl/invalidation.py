"""Clear permission caches when a grant could have changed, and say so to every process.

After the change commits, :data:`topic_permissions_changed` is sent; pub/sub
receives it and tells every process's hub, which clears its caches and ends
the subscriptions no longer granted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import Signal

from ..models import Topic, TopicPermission
from .access import invalidate

__all__ = ["connect_signals", "topic_permissions_changed"]

logger = logging.getLogger("wsrpc")

#: Sent after a change to topics, grants, or a user's groups or status has committed.
topic_permissions_changed = Signal()


def permissions_changed(**kwargs: object) -> None:
    # This process forgets at once; every process (this one included) then
    # rechecks its live subscriptions when the broadcast arrives, after commit.
    invalidate()
    transaction.on_commit(_broadcast)


def _broadcast() -> None:
    # Forget again now that the change is visible: another thread may have
    # loaded the old rows between the save and the commit. Every process with
    # a hub does so on the broadcast, but this one may have none (a WSGI worker).
    invalidate()
    for _receiver, outcome in topic_permissions_changed.send_robust(sender=Topic):
        if isinstance(outcome, Exception):
            logger.error("could not tell other processes that topic permissions changed", exc_info=outcome)


def _user_saved(
    sender: type, instance: object, created: bool = False, update_fields: Iterable[str] | None = None, **kwargs: object
) -> None:
    # A new user has no grants yet; a login saves only last_login.
    if not created and (update_fields is None or {"is_superuser", "is_active"} & set(update_fields)):
        permissions_changed()


def connect_signals() -> None:
    user_model = get_user_model()
    for model in (Topic, TopicPermission):
        post_save.connect(permissions_changed, sender=model, dispatch_uid=f"wsrpc-save-{model.__name__}")
        post_delete.connect(permissions_changed, sender=model, dispatch_uid=f"wsrpc-delete-{model.__name__}")
    post_save.connect(_user_saved, sender=user_model, dispatch_uid="wsrpc-user-saved")
    post_delete.connect(permissions_changed, sender=user_model, dispatch_uid="wsrpc-user-deleted")
    groups = getattr(user_model, "groups", None)
    if groups is not None:
        m2m_changed.connect(permissions_changed, sender=groups.through, dispatch_uid="wsrpc-user-groups")
