"""Who may subscribe or publish to which topic, decided from the ``Topic`` rows in memory. No I/O.

A user may act on a topic when any ``Topic`` whose name equals or matches it
grants it: to anyone, to any logged-in user, or through a ``TopicPermission``
for the user or one of their groups. Superusers may do anything. Subscribing
to a pattern needs a grant on a name that covers the whole pattern. Where no
``Topic`` row touches a name at all, ``TOPIC_DEFAULT_POLICY`` decides
(``"deny"`` unless set to ``"allow"``).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from ..core.topics import covers, matches, most_specific, overlaps

__all__ = ["Action", "Grants", "Principal", "ANONYMOUS", "Retention", "PresenceMode", "Rule", "Rules"]

#: May subscribe, may publish.
Grants = tuple[bool, bool]

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
class Retention:
    """How much of a topic's history subscribers can recover: the last ``size`` events, ``ttl`` seconds old at most."""

    size: int
    ttl: int


@dataclasses.dataclass(frozen=True, slots=True)
class PresenceMode:
    """Whether a topic lists its subscribers (``rpc.presence``) and tells them of each other (join/leave)."""

    listed: bool
    join_leave: bool


@dataclasses.dataclass(frozen=True, slots=True)
class Rule:
    name: str
    anonymous: Grants
    authenticated: Grants
    users: dict[object, Grants]
    groups: dict[int, Grants]
    retention: Retention | None = None
    presence: PresenceMode | None = None

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

    def decide(self, principal: Principal, action: Action, name: str, default_policy: str) -> bool:
        if principal.superuser:
            return True
        if any(covers(rule.name, name) and rule.grants(principal, action) for rule in self.rules):
            return True
        return default_policy == "allow" and not any(overlaps(rule.name, name) for rule in self.rules)

    def retention(self, topic: str) -> Retention | None:
        """The history the most specific row covering the concrete ``topic`` keeps; None for none."""
        rule = self._most_specific(topic)
        return rule.retention if rule is not None else None

    def presence(self, topic: str) -> PresenceMode | None:
        """The presence the most specific row covering the concrete ``topic`` keeps; None for none."""
        rule = self._most_specific(topic)
        return rule.presence if rule is not None else None

    def _most_specific(self, topic: str) -> Rule | None:
        by_name = {rule.name: rule for rule in self.rules if matches(rule.name, topic)}
        name = most_specific(by_name)
        return by_name[name] if name is not None else None
