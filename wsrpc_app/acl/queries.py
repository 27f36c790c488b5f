"""Reading the rules and the principals from the database: what the caches of :mod:`.access` are filled with."""

from __future__ import annotations

from typing import Any

from .rules import ANONYMOUS, Grants, PresenceMode, Principal, Retention, Rule, Rules

__all__ = ["load_rules", "load_principal"]


def load_rules() -> Rules:
    """Every ``Topic`` row with its grants. Sync: queries the database."""
    from ..models import Topic, TopicPermission

    users: dict[int, dict[object, Grants]] = {}
    groups: dict[int, dict[int, Grants]] = {}
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
    return Rules(
        tuple(
            Rule(
                topic.name,
                (topic.anonymous_subscribe, topic.anonymous_publish),
                (topic.authenticated_subscribe, topic.authenticated_publish),
                users.get(topic.pk, {}),
                groups.get(topic.pk, {}),
                Retention(topic.history_size, topic.history_ttl) if topic.history_size > 0 else None,
                PresenceMode(topic.presence, topic.join_leave) if topic.presence or topic.join_leave else None,
            )
            for topic in Topic.objects.all()
        )
    )


def _either(old: Grants | None, new: Grants) -> Grants:
    return new if old is None else (old[0] or new[0], old[1] or new[1])


def load_principal(pk: Any) -> Principal:  # Any: whatever the user model's primary key is
    """The principal of the user with primary key ``pk``: anonymous when there is none or it is inactive."""
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
