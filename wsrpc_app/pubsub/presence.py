"""Who is subscribed to a topic, on every process: ``presence()``, ``presence_stats()`` and their ``a…`` twins.

A topic keeps presence when the most specific ``Topic`` row covering it has
``presence``; its exact subscribers (not those of patterns) are then listed
(:mod:`~wsrpc_app.pubsub.roster`, :mod:`~wsrpc_app.pubsub.presence_store`).
Permissions are not checked here: ``rpc.presence`` checks them.
"""

from __future__ import annotations

from typing import cast

from ..acl.access import apresence_of
from ..core.errors import NoSuchTopic, Unavailable
from ..core.topics import validate_topic
from ..metrics.recorder import recorder
from .process import presence_store
from .publishing import run_on_loop
from .results import Client, Presence, PresenceStats
from .roster import decode_entries, stats

__all__ = ["presence", "apresence", "presence_stats", "apresence_stats"]


async def _clients(topic: str) -> list[Client]:
    validate_topic(topic)
    mode = await apresence_of(topic)
    store = presence_store() if mode is not None and mode.listed else None
    if store is None:
        raise NoSuchTopic("The topic keeps no presence", data={"topic": topic, "presence": False})
    recorder().presence_operation("query")
    try:
        texts = await store.members(topic)
    except Exception as exc:
        raise Unavailable(data={"reason": "the presence store cannot be reached; retry later"}) from exc
    return cast(list[Client], decode_entries(texts))


async def apresence(topic: str) -> Presence:
    """The connections subscribed to ``topic`` on every process: ``{"topic", "clients": [...]}``.

    Each client is ``{"connection", "user", "user_id"}`` (username and
    primary key, null when anonymous) and ``"info"`` when the client declared
    some. Raises :class:`NoSuchTopic` (``data.presence`` false) for a topic
    that keeps no presence and :class:`Unavailable` when the store cannot be
    reached.
    """
    return {"topic": topic, "clients": await _clients(topic)}


async def apresence_stats(topic: str) -> PresenceStats:
    """How many connections are subscribed to ``topic``, and how many distinct logged-in users they are."""
    connections, users = stats(await _clients(topic))
    return {"topic": topic, "connections": connections, "users": users}


def presence(topic: str) -> Presence:
    """Sync :func:`apresence`."""
    return run_on_loop(apresence, topic)


def presence_stats(topic: str) -> PresenceStats:
    """Sync :func:`apresence_stats`."""
    return run_on_loop(apresence_stats, topic)
