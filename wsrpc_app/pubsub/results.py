"""What the pub/sub methods answer, as TypedDicts: their shapes feed the OpenRPC document."""

from __future__ import annotations

import sys

if sys.version_info >= (3, 12):
    from typing import TypedDict
else:  # pydantic reads typing.TypedDict only from Python 3.12
    from typing_extensions import TypedDict

__all__ = ["Subscription", "Publication"]


class Subscription(TypedDict):
    """Whether this connection now receives the topic's events."""

    topic: str
    subscribed: bool


class Publication(TypedDict):
    """The topic the data was published to."""

    topic: str
