"""Topic rules in code for the tests (``WSRPC["TOPIC_RULES"]``)."""

from __future__ import annotations

from typing import Any

#: The calls an async rule saw, for the tests that count them.
ASKED: list[tuple[str, str]] = []


def owner_only(user: Any, action: str, topic: str) -> bool | None:
    """``user.<pk>`` and below belong to that user alone; other topics are the rows' to decide."""
    parts = topic.split(".")
    if parts[0] != "user":
        return None
    return len(parts) > 1 and bool(user.is_authenticated) and parts[1] == str(user.pk)


async def async_reader(user: Any, action: str, topic: str) -> bool | None:
    """An async rule: anyone may subscribe to ``async.*`` topics, nobody may publish there."""
    ASKED.append((action, topic))
    if not topic.startswith("async."):
        return None
    return action == "subscribe"


def broken(user: Any, action: str, topic: str) -> bool | None:
    if topic.startswith("broken."):
        raise RuntimeError("this rule is broken")
    return None


NOT_CALLABLE = 42


#: Topics ``revocable`` allows while they are in here.
OPEN: set[str] = set()


def revocable(user: Any, action: str, topic: str) -> bool | None:
    """``gate.*`` topics are allowed while listed in :data:`OPEN`: a fact that changes under the cache."""
    if not topic.startswith("gate."):
        return None
    return topic in OPEN
