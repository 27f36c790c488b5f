"""The system checks of model observers.

``wsrpc_app.E014``: an ``WSRPC["OBSERVERS"]`` entry cannot be made into an
observer. ``wsrpc_app.W005`` (``manage.py check --database default``): no
``Topic`` row touches the topics an observer publishes to, so no one but a
superuser may subscribe to them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.db import DatabaseError

from ..conf import wsrpc_settings
from ..core.topics import overlaps
from .registry import from_setting, observers

__all__ = ["check_observers", "check_observed_topics"]

HINT = (
    'Each entry is a dict of observe()\'s arguments: {"model": "app.Model", "topic": "orders.{pk}", '
    '"serializer": "app.serializers.OrderSerializer", ...}; see "Model observers" in the README.'
)


@register(Tags.compatibility)
def check_observers(app_configs: Sequence[AppConfig] | None = None, **kwargs: object) -> list[CheckMessage]:
    user = getattr(settings, "WSRPC", {})
    entries = user.get("OBSERVERS", []) if isinstance(user, dict) else []
    if not isinstance(entries, list):
        return [Error("WSRPC['OBSERVERS'] must be a list.", hint=HINT, id="wsrpc_app.E014")]
    messages: list[CheckMessage] = []
    for index, entry in enumerate(entries):
        try:
            from_setting(entry)
        except ValueError as exc:
            messages.append(Error(f"WSRPC['OBSERVERS'][{index}]: {exc}.", hint=HINT, id="wsrpc_app.E014"))
    return messages


@register(Tags.database)
def check_observed_topics(app_configs: Sequence[AppConfig] | None = None, **kwargs: object) -> list[CheckMessage]:
    from ..models import Topic

    databases = kwargs.get("databases")
    if not isinstance(databases, Iterable) or wsrpc_settings.TOPIC_DEFAULT_POLICY == "allow":
        return []  # only with manage.py check --database; under "allow" every topic is open
    if getattr(wsrpc_settings, "TOPIC_RULES", None):
        return []  # a rule in code may grant what no row does
    names: set[str] = set()
    for alias in databases:
        try:
            names.update(Topic.objects.using(alias).values_list("name", flat=True))
        except DatabaseError:
            return []  # not migrated yet (migrate runs this check first): nothing to tell yet
    return [
        Warning(
            f"No Topic row touches {template.pattern!r}, where the changes of {observer.label} are published: "
            "only superusers may subscribe to them.",
            hint="Create the rows with manage.py wsrpc_observer_topics, then grant them in the admin.",
            obj=observer.model,
            id="wsrpc_app.W005",
        )
        for observer in observers()
        for template in observer.templates
        if not any(overlaps(name, template.pattern) for name in names)
    ]
