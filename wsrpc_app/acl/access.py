"""Whether a user may subscribe or publish to a topic: :mod:`.code_rules`, then :mod:`.rules` decide, from caches.

The rows are loaded once per process into memory and every decision is
cached, so deciding costs no query after the first; a change to a topic, a
grant, or a user's groups or status clears the caches on every process
(:mod:`wsrpc_app.acl.invalidation`), and every process's hub ends the live
subscriptions no longer covered (:mod:`wsrpc_app.pubsub.process`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from channels.db import database_sync_to_async
from django.core.signals import setting_changed
from django.dispatch import receiver

from ..conf import wsrpc_settings
from ..core.topics import is_pattern
from ..core.types import JSONObject
from . import code_rules, queries
from .rules import ANONYMOUS, Action, PresenceMode, Principal, Retention, Rules

__all__ = [
    "principal_for",
    "allowed",
    "aallowed",
    "invalidate",
    "caller_topics",
    "retention_of",
    "aretention_of",
    "presence_of",
    "apresence_of",
]


T = TypeVar("T")


class _Cache:
    """The process's rules, principals and decisions; cleared on any change."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        self.rules: Rules | None = None
        self.principals: dict[object, Principal] = {}
        self.decisions: dict[tuple[str, str, str], bool] = {}
        self.retentions: dict[str, Retention | None] = {}
        self.presences: dict[str, PresenceMode | None] = {}
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
        principal = queries.load_principal(pk)
        _store(generation, lambda: _cache.principals.__setitem__(pk, principal))
    return principal


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
        decision = None if principal.superuser else code_rules.decide(_rule_user(user, principal), action, name)
        if decision is None:
            decision = _rules(generation).decide(principal, action, name, wsrpc_settings.TOPIC_DEFAULT_POLICY)
        _store(generation, lambda: _cache.decisions.__setitem__(key, decision))
    return decision


def _rule_user(user: object, principal: Principal) -> object:
    """The user a code rule sees: anonymous whenever the principal is (None, logged out, inactive)."""
    if principal.authenticated:
        return user
    from django.contrib.auth.models import AnonymousUser  # models: not at import time

    return AnonymousUser()


def _rules(generation: int) -> Rules:
    rules = _cache.rules
    if rules is None:
        rules = queries.load_rules()
        _store(generation, lambda: setattr(_cache, "rules", rules))
    return rules


def _per_topic(kind: str, topic: str, decide: Callable[[Rules, str], T]) -> T:
    """What the rules say of the concrete ``topic`` (``kind``: the cache it is kept in). Sync."""
    cached: dict[str, T] = getattr(_cache, kind)
    try:
        return cached[topic]
    except KeyError:
        pass
    generation = _cache.generation
    value = decide(_rules(generation), topic)
    _store(generation, lambda: cached.__setitem__(topic, value))
    return value


async def _aper_topic(kind: str, topic: str, sync: Callable[[str], T]) -> T:
    """:func:`_per_topic` from async code, without a thread hop once cached."""
    cached: dict[str, T] = getattr(_cache, kind)
    try:
        return cached[topic]
    except KeyError:
        pass
    value: T = await database_sync_to_async(sync)(topic)
    return value


def retention_of(topic: str) -> Retention | None:
    """The history the concrete ``topic`` keeps (None: none), as its most specific row says. Sync."""
    return _per_topic("retentions", topic, Rules.retention)


async def aretention_of(topic: str) -> Retention | None:
    """:func:`retention_of` from async code, without a thread hop once cached."""
    return await _aper_topic("retentions", topic, retention_of)


def presence_of(topic: str) -> PresenceMode | None:
    """The presence the concrete ``topic`` keeps (None: none), as its most specific row says. Sync."""
    return _per_topic("presences", topic, Rules.presence)


async def apresence_of(topic: str) -> PresenceMode | None:
    """:func:`presence_of` from async code, without a thread hop once cached."""
    return await _aper_topic("presences", topic, presence_of)


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


def caller_topics(user: object) -> list[JSONObject]:
    """The ``Topic`` rows ``user`` may subscribe or publish to, and what they may do there. Sync."""
    from ..models import Topic

    topics: list[JSONObject] = []
    for topic in Topic.objects.all():
        can_subscribe = allowed(user, "subscribe", topic.name)
        can_publish = not is_pattern(topic.name) and allowed(user, "publish", topic.name)
        if can_subscribe or can_publish:
            topics.append(
                {
                    "name": topic.name,
                    "description": topic.description,
                    "pattern": is_pattern(topic.name),
                    "subscribe": can_subscribe,
                    "publish": can_publish,
                    "history": (
                        {"size": topic.history_size, "ttl": topic.history_ttl} if topic.history_size > 0 else None
                    ),
                    "presence": (
                        {"listed": topic.presence, "join_leave": topic.join_leave}
                        if topic.presence or topic.join_leave
                        else None
                    ),
                }
            )
    return topics
