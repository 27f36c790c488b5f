"""Who may subscribe or publish to which topic, from the ``Topic`` rows.

A user may act on a topic when any ``Topic`` whose name equals or matches it
grants it: to anyone, to any logged-in user, or through a ``TopicPermission``
for the user or one of their groups. Superusers may do anything. Subscribing
to a pattern needs a grant on a name that covers the whole pattern. Where no
``Topic`` row touches a name at all, ``TOPIC_DEFAULT_POLICY`` decides
(``"deny"`` unless set to ``"allow"``).

The rows are loaded once per process into memory and every decision is
cached, so deciding costs no query after the first; a change to a topic, a
grant, or a user's groups or status clears the caches on every process
(:mod:`wsrpc_app.acl.invalidation`), and every process's hub ends the live
subscriptions no longer covered (:mod:`wsrpc_app.pubsub.process`).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any, Literal

from channels.db import database_sync_to_async
from django.core.signals import setting_changed
from django.dispatch import receiver

from ..conf import wsrpc_settings
from ..core.topics import covers, overlaps

__all__ = [
    "Action",
    "Principal",
    "Rules",
    "principal_for",
    "allowed",
    "aallowed",
    "invalidate",
]


Action = Literal["subscribe", "publish"]


@dataclasses.dataclass(frozen=True, slots=True)
class Principal:
    """The caller as permissions see it."""

    key: str
    user_id: object = None
    authenticated: bool = False
    superuser: bool = False
    groups: frozenset[int] = frozenset()


ANONYMOUS = Principal("anon")


@dataclasses.dataclass(frozen=True, slots=True)
class Rule:
    name: str
    anonymous: tuple[bool, bool]
    authenticated: tuple[bool, bool]
    users: dict[object, tuple[bool, bool]]
    groups: dict[int, tuple[bool, bool]]

    def grants(self, principal: Principal, action: Action) -> bool:
        i = 0 if action == "subscribe" else 1
        if self.anonymous[i] or (principal.authenticated and self.authenticated[i]):
            return True
        if principal.user_id is not None and self.users.get(principal.user_id, (False, False))[i]:
            return True
        return any(self.groups.get(group, (False, False))[i] for group in principal.groups)


@dataclasses.dataclass(frozen=True, slots=True)
class Rules:
    """Every ``Topic`` row with its grants, in memory."""

    rules: tuple[Rule, ...]

    @classmethod
    def load(cls) -> Rules:
        from ..models import Topic, TopicPermission

        users: dict[int, dict[object, tuple[bool, bool]]] = {}
        groups: dict[int, dict[int, tuple[bool, bool]]] = {}
        for grant in TopicPermission.objects.all():
            both = (grant.can_subscribe, grant.can_publish)
            if grant.user_id is not None:
                users.setdefault(grant.topic_id, {})[grant.user_id] = _either(
                    users.get(grant.topic_id, {}).get(grant.user_id), both
                )
            elif grant.group_id is not None:
                groups.setdefault(grant.topic_id, {})[grant.group_id] = _either(
                    groups.get(grant.topic_id, {}).get(grant.group_id), both
                )
        return cls(
            tuple(
                Rule(
                    topic.name,
                    (topic.anonymous_subscribe, topic.anonymous_publish),
                    (topic.authenticated_subscribe, topic.authenticated_publish),
                    users.get(topic.pk, {}),
                    groups.get(topic.pk, {}),
                )
                for topic in Topic.objects.all()
            )
        )

    def decide(self, principal: Principal, action: Action, name: str, default_policy: str) -> bool:
        if principal.superuser:
            return True
        if any(covers(rule.name, name) and rule.grants(principal, action) for rule in self.rules):
            return True
        return default_policy == "allow" and not any(overlaps(rule.name, name) for rule in self.rules)


def _either(old: tuple[bool, bool] | None, new: tuple[bool, bool]) -> tuple[bool, bool]:
    return new if old is None else (old[0] or new[0], old[1] or new[1])


class _Cache:
    """The process's rules, principals and decisions; cleared on any change."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        self.rules: Rules | None = None
        self.principals: dict[object, Principal] = {}
        self.decisions: dict[tuple[str, str, str], bool] = {}
        self.generation = getattr(self, "generation", 0) + 1


_cache = _Cache()


def invalidate() -> None:
    """Forget everything cached in this process."""
    with _cache.lock:
        _cache.clear()


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: object) -> None:
    # Decisions depend on TOPIC_DEFAULT_POLICY: override_settings must not meet stale ones.
    if setting == "WSRPC":
        invalidate()


def _user_pk(user: object) -> object:
    """The primary key of a logged-in user; None for None or an anonymous user."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return getattr(user, "pk", None)


def principal_for(user: object) -> Principal:
    """The principal of ``user`` (None or anonymous included), loaded once per user. Sync."""
    pk = _user_pk(user)
    if pk is None:
        return ANONYMOUS
    principal = _cache.principals.get(pk)
    if principal is None:
        generation = _cache.generation
        principal = _load_principal(pk)
        _store(generation, lambda: _cache.principals.__setitem__(pk, principal))
    return principal


def _load_principal(pk: Any) -> Principal:  # Any: whatever the user model's primary key is
    from django.contrib.auth import get_user_model

    user = get_user_model()._default_manager.filter(pk=pk).first()
    if user is None or not user.is_active:
        return ANONYMOUS
    return Principal(
        key=f"u{user.pk}",
        user_id=user.pk,
        authenticated=True,
        superuser=user.is_superuser,
        groups=frozenset(user.groups.values_list("pk", flat=True)),
    )


def _store(generation: int, store: Callable[[], None]) -> None:
    # What was loaded before a change must not land in the cache after it.
    with _cache.lock:
        if _cache.generation == generation:
            store()


def allowed(user: object, action: Action, name: str) -> bool:
    """Whether ``user`` may ``action`` on ``name`` (a topic or a pattern). Sync: may query the database."""
    # Taken before the principal is loaded too: a decision made on a principal
    # read before a change must not be cached after it.
    generation = _cache.generation
    principal = principal_for(user)
    key = (principal.key, action, name)
    decision = _cache.decisions.get(key)
    if decision is None:
        rules = _cache.rules
        if rules is None:
            rules = Rules.load()
            _store(generation, lambda: setattr(_cache, "rules", rules))
        decision = rules.decide(principal, action, name, wsrpc_settings.TOPIC_DEFAULT_POLICY)
        _store(generation, lambda: _cache.decisions.__setitem__(key, decision))
    return decision


async def aallowed(user: object, action: Action, name: str) -> bool:
    """:func:`allowed` from async code: answered from the cache without a thread hop when it can."""
    pk = _user_pk(user)
    if pk is None:
        decision = _cache.decisions.get((ANONYMOUS.key, action, name))
    else:
        principal = _cache.principals.get(pk)
        decision = _cache.decisions.get((principal.key, action, name)) if principal else None
    if decision is not None:
        return decision
    result: bool = await database_sync_to_async(allowed)(user, action, name)
    return result
