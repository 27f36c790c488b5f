"""Reading a topic's history: what ``rpc.subscribe`` recovers, ``rpc.history``, and ``history()`` for server code."""

from __future__ import annotations

import orjson

from ..acl.access import aretention_of
from ..acl.rules import Retention
from ..conf import wsrpc_settings
from ..core.errors import NoSuchTopic, Unavailable
from ..core.topics import validate_topic
from ..metrics.recorder import recorder
from .process import history_store
from .publishing import run_on_loop
from .results import Event, History, Since
from .store import HistoryStore
from .stream import Position, Recovery, last, since

__all__ = ["recover", "publications", "history", "ahistory", "recovery_limit"]


def recovery_limit(retention: Retention) -> int:
    """The most events one read gives back: ``MAX_RECOVERED``, and never more than the history keeps."""
    limit = wsrpc_settings.MAX_RECOVERED
    return retention.size if limit is None else min(limit, retention.size)


async def recover(
    store: HistoryStore, topic: str, retention: Retention, *, after: Position | None = None, rewind: int | None = None
) -> Recovery:
    """The topic's position, and the events after ``after`` or the last ``rewind`` of them.

    Raises :class:`Unavailable` when the store cannot be reached.
    """
    limit = recovery_limit(retention)
    recorder().history_operation("read")
    try:
        if after is not None:
            position, entries, now = await store.read(topic, retention, after=after.offset, count=limit)
            return since(position, entries, after, retention, now, limit)
        count = min(rewind or 0, limit)
        position, entries, now = await store.read(topic, retention, after=None, count=count)
        return last(position, entries, count, retention, now)
    except (NoSuchTopic, Unavailable):
        raise
    except Exception as exc:
        raise Unavailable(data={"reason": "the history store cannot be reached; retry later"}) from exc


def publications(topic: str, recovery: Recovery) -> list[Event]:
    """The recovered events as the params of their ``rpc.event`` notifications."""
    epoch = recovery.position.epoch
    return [
        {"topic": topic, "data": orjson.loads(entry.data), "offset": entry.offset, "epoch": epoch}
        for entry in recovery.entries
    ]


async def ahistory(topic: str, since: Since | None = None, limit: int | None = None) -> History:
    """The history of ``topic``: its position and the events after ``since``, or the last ``limit`` of them.

    Without ``since`` it gives the last ``limit`` events (at most
    ``MAX_RECOVERED``, which is also the default). Raises :class:`NoSuchTopic`
    (``data.history`` false) for a topic that keeps no history, and
    :class:`Unavailable` when the store cannot be reached. Permissions are
    not checked here.
    """
    validate_topic(topic)
    retention = await aretention_of(topic)
    store = history_store() if retention is not None else None
    if retention is None or store is None:
        raise NoSuchTopic("The topic keeps no history", data={"topic": topic, "history": False})
    if since is not None:
        recovery = await recover(store, topic, retention, after=Position(since["epoch"], since["offset"]))
    else:
        recovery = await recover(store, topic, retention, rewind=recovery_limit(retention) if limit is None else limit)
    return {
        "topic": topic,
        "offset": recovery.position.offset,
        "epoch": recovery.position.epoch,
        "recovered": recovery.recovered,
        "publications": publications(topic, recovery),
    }


def history(topic: str, since: Since | None = None, limit: int | None = None) -> History:
    """Sync :func:`ahistory`."""
    return run_on_loop(ahistory, topic, since, limit)
