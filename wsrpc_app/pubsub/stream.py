"""A topic's history as subscribers see it: positions, entries and what can be recovered. No I/O.

Each event of a topic that keeps history gets the next ``offset`` (1, 2, 3,
… with no hole) within an ``epoch``, a string that changes whenever the
topic's history was lost. A subscriber's position is the ``(epoch, offset)``
of the last event it has. The stores (:mod:`.store`, :mod:`.redis_store`)
keep the entries; the functions here decide, from what a store returned,
which of them a subscriber may have: at most the last ``size`` events, none
older than ``ttl`` seconds, however the store trims.
"""

from __future__ import annotations

import dataclasses
import secrets

from ..acl.rules import Retention

__all__ = ["Position", "Entry", "Recovery", "new_epoch", "visible", "since", "last"]


@dataclasses.dataclass(frozen=True, slots=True)
class Position:
    """The last event of a topic, or of what a subscriber has of it (offset 0: none yet in this epoch)."""

    epoch: str
    offset: int


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    """One stored event: its offset, when it was stored (seconds since the epoch) and its data as JSON text."""

    offset: int
    time: float
    data: str


@dataclasses.dataclass(frozen=True, slots=True)
class Recovery:
    """What a subscriber gets back: the topic's current position and the events it missed, in order.

    ``recovered`` is False when some of the events asked for cannot be
    given (another epoch, trimmed, too many); ``entries`` is then empty.
    """

    position: Position
    entries: tuple[Entry, ...]
    recovered: bool


def new_epoch() -> str:
    """A fresh epoch: 48 random bits, as 12 hex digits."""
    return secrets.token_hex(6)


def visible(entries: list[Entry], position: Position, retention: Retention, now: float) -> list[Entry]:
    """The entries a subscriber may still have: among the last ``size`` offsets, and young enough."""
    oldest_offset = position.offset - retention.size
    oldest_time = now - retention.ttl
    return [entry for entry in entries if entry.offset > oldest_offset and entry.time >= oldest_time]


def since(
    position: Position, entries: list[Entry], after: Position, retention: Retention, now: float, limit: int
) -> Recovery:
    """Recover what came after ``after`` from ``entries``, the stored ones with greater offsets, in order."""
    missed = position.offset - after.offset
    if after.epoch != position.epoch or missed < 0 or missed > limit:
        return Recovery(position, (), False)
    kept = visible(entries, position, retention, now)[:missed]
    if [entry.offset for entry in kept] != list(range(after.offset + 1, position.offset + 1)):
        return Recovery(position, (), False)
    return Recovery(position, tuple(kept), True)


def last(position: Position, entries: list[Entry], count: int, retention: Retention, now: float) -> Recovery:
    """The last ``count`` events from ``entries`` (the newest stored ones, in order); fewer only when fewer exist."""
    kept = visible(entries, position, retention, now)[-count:] if count > 0 else []
    wanted = min(count, position.offset)
    if len(kept) != wanted or (kept and kept[-1].offset != position.offset):
        return Recovery(position, (), False)
    return Recovery(position, tuple(kept), True)
