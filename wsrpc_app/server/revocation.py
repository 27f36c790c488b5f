"""Closing the connections whose credentials no longer hold, on every process (close code 4003).

Wired in by default, each one turned off by leaving it out of
``DISCONNECT_ON``:

- ``"logout"``: ``user_logged_out`` closes the connections of that session;
- ``"deactivate"``: a user saved with ``is_active`` false, or deleted,
  loses every connection;
- ``"token_deleted"``: a deleted DRF token closes the connections it
  authenticated;
- ``"password_change"``: a user saved with a new password closes the
  connections of sessions whose auth hash no longer matches (the session
  that changed it too: Django keeps that session valid, and its client
  reconnects with it).

Orders go out once the change commits. A layer out of reach is logged,
never raised: logging out must not fail because Redis is down.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from ..conf import wsrpc_settings
from ..pubsub.control import disconnect_user
from ..pubsub.targets import Narrowing, token_digest

__all__ = ["connect_signals"]

logger = logging.getLogger("wsrpc")


def _enabled(event: str) -> bool:
    return event in (wsrpc_settings.DISCONNECT_ON or ())


def _disconnect(user: object, reason: str, narrowing: Narrowing | None = None) -> None:
    def send() -> None:
        try:
            disconnect_user(user, reason=reason, narrowing=narrowing)
        except Exception:
            logger.exception("could not close the connections of user %r (%s)", getattr(user, "pk", user), reason)

    transaction.on_commit(send)


def _logged_out(sender: object, request: object = None, user: object = None, **kwargs: object) -> None:
    if user is None or not _enabled("logout"):
        return
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if isinstance(session_key, str):
        _disconnect(user, "logged out", Narrowing(session=session_key))


def _user_saved(
    sender: type, instance: object, created: bool = False, update_fields: Iterable[str] | None = None, **kwargs: object
) -> None:
    if created:
        return
    fields = set(update_fields) if update_fields is not None else None
    if (
        _enabled("deactivate")
        and not getattr(instance, "is_active", True)
        and (fields is None or "is_active" in fields)
    ):
        _disconnect(instance, "deactivated")
        return
    get_hash = getattr(instance, "get_session_auth_hash", None)
    if _enabled("password_change") and callable(get_hash) and (fields is None or "password" in fields):
        _disconnect(instance, "password changed", Narrowing(session_hash=str(get_hash())))


def _user_deleted(sender: type, instance: object, **kwargs: object) -> None:
    if _enabled("deactivate"):
        _disconnect(getattr(instance, "pk", None), "deleted")


def _token_deleted(sender: type, instance: object, **kwargs: object) -> None:
    key, user_id = getattr(instance, "key", None), getattr(instance, "user_id", None)
    if _enabled("token_deleted") and isinstance(key, str) and user_id is not None:
        _disconnect(user_id, "token deleted", Narrowing(token=token_digest(key)))


def connect_signals() -> None:
    from django.apps import apps

    user_model = get_user_model()
    user_logged_out.connect(_logged_out, dispatch_uid="wsrpc-disconnect-logout")
    post_save.connect(_user_saved, sender=user_model, dispatch_uid="wsrpc-disconnect-user-saved")
    post_delete.connect(_user_deleted, sender=user_model, dispatch_uid="wsrpc-disconnect-user-deleted")
    if apps.is_installed("rest_framework.authtoken"):
        from rest_framework.authtoken.models import Token

        post_delete.connect(_token_deleted, sender=Token, dispatch_uid="wsrpc-disconnect-token-deleted")
