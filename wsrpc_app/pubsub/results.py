"""What the pub/sub methods answer, as TypedDicts: their shapes feed the OpenRPC document."""

from __future__ import annotations

import sys
from typing import Annotated

from pydantic import Field

from ..core.types import JSON, JSONObject

if sys.version_info >= (3, 12):
    from typing import NotRequired, TypedDict
else:  # pydantic reads typing.TypedDict only from Python 3.12
    from typing import NotRequired

    from typing_extensions import TypedDict

__all__ = ["Since", "Event", "Subscription", "Publication", "History", "Client", "Presence", "PresenceStats"]


class Since(TypedDict):
    """A position in a topic's history: the last event the client has (offset 0: none yet)."""

    offset: Annotated[int, Field(ge=0)]
    epoch: Annotated[str, Field(min_length=1, max_length=64)]


class Event(TypedDict):
    """The params of an rpc.event notification."""

    topic: str
    data: JSON
    offset: NotRequired[int]
    epoch: NotRequired[str]
    subscription: NotRequired[str]


class Subscription(TypedDict):
    """Whether this connection now receives the topic's events; for a topic with history, where it stands.

    ``offset`` and ``epoch`` are the topic's current position; with ``since``
    or ``rewind``, ``publications`` are the events recovered, in order, and
    ``recovered`` says whether all that was asked for could be given.
    """

    topic: str
    subscribed: bool
    offset: NotRequired[int]
    epoch: NotRequired[str]
    recovered: NotRequired[bool]
    publications: NotRequired[list[Event]]


class Publication(TypedDict):
    """The topic the data was published to; for a topic with history, the event's offset and epoch."""

    topic: str
    offset: NotRequired[int]
    epoch: NotRequired[str]


class History(TypedDict):
    """A topic's position and the stored events asked for, in offset order."""

    topic: str
    offset: int
    epoch: str
    recovered: bool
    publications: list[Event]


class Client(TypedDict):
    """A connection subscribed to a topic, as rpc.presence lists it and rpc.join / rpc.leave name it."""

    connection: str
    user: str | None
    user_id: JSON
    info: NotRequired[JSONObject]


class Presence(TypedDict):
    """The connections subscribed to a topic, on every server process, in connection id order."""

    topic: str
    clients: list[Client]


class PresenceStats(TypedDict):
    """How many connections are subscribed to a topic, and how many distinct logged-in users they are."""

    topic: str
    connections: int
    users: int
