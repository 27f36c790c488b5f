"""What a client remembers of each subscription, so that it recovers missed events by itself.

No I/O: :class:`Subscription` takes the server's frames (``rpc.event``
params, ``rpc.gap`` params, the ``rpc.subscribe`` result) and answers what
to hand to the application, in order: events (``JSONObject``) and
:class:`Gap` notices. The client's I/O layer calls the callbacks.

For an exact topic it keeps the :class:`Position` (epoch, offset) of the
last event handed on (SPEC, "History, offsets and recovery"), drops an event
whose offset is not past it in the same epoch, and asks for ``since`` that
position when it subscribes again. Patterns never recover: they carry no
position and are renewed plainly.

While an ``rpc.subscribe`` is in flight the subscription *holds* what
arrives: the recovered ``publications`` of the reply go first, then the
held live events, so a handler never sees a live event before an older
recovered one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from ..core.topics import is_pattern
from ..core.types import JSON, JSONObject

__all__ = ["Position", "Gap", "GapReason", "Subscription", "Outcome"]

#: ``"not_recovered"``: a subscription renewed with ``since`` answered
#: ``recovered: false`` (the epoch changed, the events were trimmed or too
#: many were missed). ``"gap"``: the server sent ``rpc.gap``, or the client
#: saw an event skip offsets or change epoch without one.
GapReason = Literal["not_recovered", "gap"]


@dataclass(frozen=True, slots=True)
class Position:
    """Where a topic's stream is: the last offset handed on, in an epoch."""

    epoch: str
    offset: int

    @classmethod
    def of(cls, fields: Mapping[str, JSON] | None) -> Position | None:
        """The position in an event, a gap, a subscribe or history result; ``None`` without one."""
        if not isinstance(fields, Mapping):
            return None
        epoch, offset = fields.get("epoch"), fields.get("offset")
        if not isinstance(epoch, str) or not isinstance(offset, int) or isinstance(offset, bool):
            return None
        return cls(epoch, offset)

    @classmethod
    def parse(cls, value: Position | Mapping[str, JSON]) -> Position:
        """A position given by the application: a :class:`Position` or ``{"epoch": E, "offset": N}``."""
        if isinstance(value, Position):
            return value
        position = cls.of(value)
        if position is None:
            raise ValueError(f"a position is {{'epoch': str, 'offset': int}}, not {value!r}")
        return position

    def to_json(self) -> JSONObject:
        """The wire form, as ``since`` takes it."""
        return {"offset": self.offset, "epoch": self.epoch}


@dataclass(frozen=True, slots=True)
class Gap:
    """The application missed events of ``topic`` that will not come: refetch its state.

    ``position`` is where the stream goes on from (the next event has offset
    ``position.offset + 1``), ``None`` when the topic keeps no history;
    ``missed`` the inclusive range of missing offsets when known (same
    epoch). ``subscription`` is the pattern, for a gap seen through one.
    """

    topic: str
    reason: GapReason
    position: Position | None = None
    missed: tuple[int, int] | None = None
    subscription: str | None = None


#: What a subscription hands on: an event's params, or a gap notice.
Outcome = JSONObject | Gap

C = TypeVar("C")


class Subscription(Generic[C]):
    """One topic or pattern subscribed to: its callbacks, its position, and what it holds.

    ``callbacks`` belong to the I/O layer; this class never calls them.
    """

    __slots__ = ("name", "exact", "callbacks", "position", "confirmed", "_holds", "_held")

    def __init__(self, name: str, *, since: Position | None = None) -> None:
        self.name = name
        #: Only an exact topic has a position; a pattern spans many streams.
        self.exact = not is_pattern(name)
        self.callbacks: list[C] = []
        self.position = since if self.exact else None
        #: Whether the server has accepted it once (it is then renewed on every reconnect).
        self.confirmed = False
        self._holds = 0
        self._held: list[tuple[str, JSONObject]] = []

    def __repr__(self) -> str:
        return f"<Subscription {self.name!r} at {self.position}>"

    # Subscribing --------------------------------------------------------------

    def subscribe_params(self, *, rewind: int | None = None) -> JSONObject:
        """The params of ``rpc.subscribe``: ``since`` the position when there is one, else ``rewind``."""
        params: JSONObject = {"topic": self.name}
        if self.position is not None:
            params["since"] = self.position.to_json()
        elif rewind:
            params["rewind"] = rewind
        return params

    def hold(self) -> None:
        """Keep what arrives until :meth:`release` (an ``rpc.subscribe`` or ``rpc.history`` is in flight)."""
        self._holds += 1

    def release(self) -> list[Outcome]:
        """End one :meth:`hold`; once none is left, what was held, in the order it came."""
        self._holds = max(0, self._holds - 1)
        if self._holds:
            return []
        held, self._held = self._held, []
        outcomes: list[Outcome] = []
        for kind, params in held:
            outcomes.extend(self._gap(params) if kind == "gap" else self._admit(params))
        return outcomes

    def subscribed(self, result: JSON, *, since: bool) -> list[Outcome]:
        """The reply to an ``rpc.subscribe`` sent with ``since`` (or not): the recovered events, or a gap.

        Call it between :meth:`hold` and :meth:`release`, so that the
        recovered events go before the live ones held meanwhile.
        """
        self.confirmed = True
        if not isinstance(result, Mapping):
            return []
        current = Position.of(result)
        publications = result.get("publications")
        events = [event for event in publications if isinstance(event, dict)] if isinstance(publications, list) else []
        if since and result.get("recovered") is not True:
            # The stream goes on from the server's position; what came before it is lost to us.
            self.position = current if self.exact else None
            return [Gap(self.name, "not_recovered", self.position)]
        outcomes: list[Outcome] = []
        for event in events:
            outcomes.extend(self._admit(event))
        if not since and self.exact and current is not None:
            # A fresh subscription starts at the topic's position (after any rewound events).
            self.position = current
        return outcomes

    def rewound(self, result: JSON) -> list[JSONObject]:
        """The events of an ``rpc.history`` result that this subscription has already handed on.

        For a callback added with ``rewind`` to a topic already subscribed:
        it gets these, then the events that follow, with every other callback.
        """
        last = self.position
        publications = result.get("publications") if isinstance(result, Mapping) else None
        if last is None or not isinstance(publications, list):
            return []
        already: list[JSONObject] = []
        for event in publications:
            if not isinstance(event, dict):
                continue
            position = Position.of(event)
            if position is not None and position.epoch == last.epoch and position.offset <= last.offset:
                already.append(event)
        return already

    # Frames -------------------------------------------------------------------

    def event(self, params: JSONObject) -> list[Outcome]:
        """An ``rpc.event`` of this subscription: what to hand on (nothing for a duplicate)."""
        if self._holds:
            self._held.append(("event", params))
            return []
        return self._admit(params)

    def gap(self, params: JSONObject) -> list[Outcome]:
        """An ``rpc.gap`` of this subscription: the notice for the application, and the new position."""
        if self._holds:
            self._held.append(("gap", params))
            return []
        return self._gap(params)

    def _tracked(self, params: JSONObject) -> Position | None:
        if not self.exact or params.get("subscription") is not None:
            return None
        return Position.of(params)

    def _admit(self, params: JSONObject) -> list[Outcome]:
        position = self._tracked(params)
        if position is None:
            return [params]
        last, self.position = self.position, position
        if last is None:
            return [params]
        if last.epoch != position.epoch:
            # The history was lost and the server did not say so: the application must hear it.
            return [Gap(self.name, "gap", Position(position.epoch, position.offset - 1)), params]
        if position.offset <= last.offset:
            self.position = last  # already handed on: exactly once
            return []
        if position.offset > last.offset + 1:
            missed = (last.offset + 1, position.offset - 1)
            return [Gap(self.name, "gap", Position(position.epoch, position.offset - 1), missed), params]
        return [params]

    def _gap(self, params: JSONObject) -> list[Outcome]:
        topic = params.get("topic")
        subscription = params.get("subscription")
        position = Position.of(params)
        missed = params.get("missed")
        span: tuple[int, int] | None = None
        if isinstance(missed, list) and len(missed) == 2:
            first, last = missed
            if isinstance(first, int) and isinstance(last, int):
                span = (first, last)
        tracked = self._tracked(params)
        if tracked is not None and self.position is not None:
            if tracked.epoch == self.position.epoch and tracked.offset <= self.position.offset:
                return []  # stale: this subscription is already past it (recovered meanwhile)
        if tracked is not None:
            self.position = tracked
        return [
            Gap(
                topic if isinstance(topic, str) else self.name,
                "gap",
                position,
                span,
                subscription if isinstance(subscription, str) else None,
            )
        ]
