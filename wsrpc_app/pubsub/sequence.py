"""Putting one topic's events back in offset order, once each, in this process. No I/O.

Events of a topic with history may reach a process out of order (two
publishers on two processes send at about the same time) or not at all (a
layer message dropped while Redis blinked). A :class:`Sequence` per topic and
group releases them in offset order, each once: an event that comes early is
held until the ones before it arrive, or until the hub fills the hole from
the store (:meth:`Sequence.fill`) or gives up on it (:meth:`Sequence.skip`),
which releases a :class:`Gap` for the subscribers. An event of a new epoch
(the history was lost) releases a gap first, then starts over; events of an
epoch left behind are dropped.

A sequence that no subscriber started at a known position (one that feeds
pattern subscriptions) *settles* first: it holds what arrives until the hub
calls :meth:`Sequence.settle`, so the events that were in flight together
are released in order, the lowest first, rather than from whichever came
first.
"""

from __future__ import annotations

import dataclasses
from typing import Generic, TypeVar

__all__ = ["Gap", "Sequence"]

T = TypeVar("T")


@dataclasses.dataclass(frozen=True, slots=True)
class Gap:
    """Events a subscriber will never get: after it, the subscriber is at ``(epoch, offset)``.

    ``missed`` is the inclusive range of offsets lost, in the same epoch;
    None when the epoch changed.
    """

    epoch: str
    offset: int
    missed: tuple[int, int] | None


class Sequence(Generic[T]):
    """One topic's events in order: :meth:`offer` each as it comes, deliver what it returns, in order."""

    __slots__ = ("epoch", "last", "known", "held", "settling", "_retired")

    def __init__(self) -> None:
        #: The epoch and offset of the last event released; None before the first.
        self.epoch: str | None = None
        self.last = 0
        #: The greatest offset known to exist (events may be on their way).
        self.known = 0
        #: Events that came before their turn, by offset.
        self.held: dict[int, T] = {}
        #: Started by an event, not at a known position: holding until :meth:`settle`.
        self.settling = False
        self._retired: set[str] = set()

    def __repr__(self) -> str:
        return f"<Sequence {self.epoch}:{self.last} held={sorted(self.held)}>"

    def start(self, epoch: str, offset: int) -> list[T | Gap]:
        """A subscriber read the topic's position from the store: start there, or learn of a new epoch."""
        if self.epoch is None:
            self.epoch, self.last, self.known = epoch, offset, offset
            return []
        if epoch in self._retired:
            return []
        if epoch == self.epoch:
            self.known = max(self.known, offset)
            return []
        return self._new_epoch(epoch, offset)

    def offer(self, epoch: str, offset: int, item: T) -> list[T | Gap]:
        """An event arrived: what may be delivered now, in order (maybe nothing: it waits for a hole to fill)."""
        if self.epoch is None:
            self.epoch, self.last, self.settling = epoch, offset - 1, True
        elif epoch != self.epoch:
            if epoch in self._retired:
                return []
            released = self._new_epoch(epoch, 0)
            return released + self.offer(epoch, offset, item)
        if self.settling:
            if offset not in self.held:
                self.held[offset] = item
                self.last = min(self.last, offset - 1)
                self.known = max(self.known, offset)
            return []
        if offset <= self.last or offset in self.held:
            return []
        self.known = max(self.known, offset)
        if offset > self.last + 1:
            self.held[offset] = item
            return []
        self.last = offset
        return [item, *self._drain()]

    def settle(self) -> list[T | Gap]:
        """Stop holding: release from the lowest offset that came, in order, up to the first hole."""
        self.settling = False
        return self._drain()

    @property
    def hole(self) -> tuple[int, int] | None:
        """The first run of offsets known to exist that did not arrive, inclusive; None when none is missing."""
        if self.held:
            return self.last + 1, min(self.held) - 1
        if self.known > self.last:
            return self.last + 1, self.known
        return None

    def fill(self, found: list[tuple[int, T]], through: int) -> list[T | Gap]:
        """Events of this epoch read from the store for the hole that ends at ``through``; a gap for the rest."""
        released: list[T | Gap] = []
        for offset, item in found:
            if self.epoch is not None:
                released += self.offer(self.epoch, offset, item)
        return released + self.skip(through)

    def skip(self, through: int) -> list[T | Gap]:
        """Give up on the offsets up to ``through`` that did not come: gaps for them, with the held events in order."""
        if self.epoch is None or through <= self.last:
            return []
        released: list[T | Gap] = []
        while self.last < through:
            following = self.last + 1
            if following in self.held:
                self.last = following
                released.append(self.held.pop(following))
                continue
            coming = [offset for offset in self.held if offset <= through]
            self.last = min(coming) - 1 if coming else through
            released.append(Gap(self.epoch, self.last, (following, self.last)))
        return released + self._drain()

    def _drain(self) -> list[T | Gap]:
        released: list[T | Gap] = []
        while self.last + 1 in self.held:
            self.last += 1
            released.append(self.held.pop(self.last))
        return released

    def _new_epoch(self, epoch: str, offset: int) -> list[T | Gap]:
        if self.epoch is not None:
            self._retired.add(self.epoch)
        self.epoch, self.last, self.known = epoch, offset, offset
        self.held.clear()
        self.settling = False
        return [Gap(epoch, offset, None)]
