"""Rows that move between topics: ``users.{owner_id}.orders`` when an order changes hands.

An observer whose topic templates read fields besides the primary key
keeps, on each instance, the topics the row had when loaded or last saved
(``post_init``, then each ``post_save``). When an update changes them,
subscribers of the topics the row left receive ``deleted``, those of the
topics it joined ``created``, the others ``updated``: each sees its own list
stay right. Only templates reading the row's own fields (``owner_id``, not
``owner.username``) can be kept this way without a query per loaded row.
"""

from __future__ import annotations

import logging

from django.db.models import Model

from .observer import Action, ModelObserver

__all__ = ["remember", "remembered", "placements"]

logger = logging.getLogger("wsrpc")

_ATTRIBUTE = "_wsrpc_observed_topics"


def remember(observer: ModelObserver, instance: Model) -> None:
    """Keep ``instance``'s topics now (as loaded, or as just saved), if ``observer`` can."""
    fields = observer.topic_fields
    if fields is None or instance.pk is None or fields & instance.get_deferred_fields():
        return
    try:
        topics = observer.topics_for(instance)
    except Exception:  # a value that makes no topic: nothing to keep
        logger.debug("%r keeps no topics for %r", observer, instance.pk, exc_info=True)
        return
    kept: dict[int, list[str]] = instance.__dict__.setdefault(_ATTRIBUTE, {})
    kept[id(observer)] = topics


def remembered(observer: ModelObserver, instance: Model) -> list[str] | None:
    """The topics ``instance`` had when loaded or last saved; None when unknown."""
    kept: dict[int, list[str]] = instance.__dict__.get(_ATTRIBUTE, {})
    return kept.get(id(observer))


def placements(action: Action, topics: list[str], before: list[str] | None) -> list[tuple[str, Action]]:
    """Each topic an event goes to, and its action there: ``deleted`` where an updated row left."""
    if action != "updated" or before is None:
        return [(topic, action) for topic in topics]
    joined: list[tuple[str, Action]] = [(topic, "created" if topic not in before else "updated") for topic in topics]
    left: list[tuple[str, Action]] = [(topic, "deleted") for topic in before if topic not in topics]
    return joined + left
