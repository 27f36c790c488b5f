"""Topic rules in code: ``WSRPC["TOPIC_RULES"]``, asked before the ``Topic`` rows.

Each entry is a dotted path to ``rule(user, action, topic) -> bool | None``,
sync or async: ``action`` is ``"subscribe"`` or ``"publish"``, ``topic`` the
topic or pattern asked for, ``user`` the Django user (anonymous included).
The rules are asked in order; the first True or False decides, None leaves
it to the next, and when every rule says None the ``Topic`` rows decide.
Superusers may do anything, rules or not. A rule that raises denies (and
is logged). Decisions are cached like the rows' (:mod:`.access`): when the
facts behind a rule change, server code calls
``wsrpc_app.refresh_permissions()``, which clears every process's caches
and ends the live subscriptions no longer allowed::

    def owner_only(user, action, topic):
        # user.<pk>.# belongs to that user alone
        parts = topic.split(".")
        if parts[0] != "user":
            return None
        return len(parts) > 1 and user.is_authenticated and parts[1] == str(user.pk)
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable

from asgiref.sync import async_to_sync
from django.core.signals import setting_changed
from django.dispatch import receiver

from ..conf import wsrpc_settings
from ..core.registry import resolve
from .rules import Action

__all__ = ["TopicRule", "topic_rules", "decide"]

logger = logging.getLogger("wsrpc")

#: ``rule(user, action, topic)``: True allows, False denies, None has no opinion.
TopicRule = Callable[[object, Action, str], "bool | None | Awaitable[bool | None]"]


@functools.cache
def _resolved(paths: tuple[str, ...]) -> tuple[TopicRule, ...]:
    return tuple(resolve(path) for path in paths)


def topic_rules() -> tuple[TopicRule, ...]:
    """The rules ``TOPIC_RULES`` names, imported once per distinct list."""
    return _resolved(tuple(wsrpc_settings.TOPIC_RULES or ()))


@receiver(setting_changed)
def _forget(*, setting: str, **kwargs: object) -> None:
    if setting == "WSRPC":
        _resolved.cache_clear()


def decide(user: object, action: Action, name: str) -> bool | None:
    """What the rules say of ``user`` doing ``action`` on ``name``; None when none has an opinion. Sync."""
    for rule in topic_rules():
        try:
            if inspect.iscoroutinefunction(rule):
                answer = async_to_sync(rule)(user, action, name)
            else:
                answer = rule(user, action, name)
                if inspect.isawaitable(answer):
                    answer = async_to_sync(_awaited)(answer)
        except Exception:
            logger.exception("the topic rule %r failed on %s %r; denied", rule, action, name)
            return False
        if answer is not None:
            return bool(answer)
    return None


async def _awaited(answer: Awaitable[bool | None]) -> bool | None:
    return await answer
