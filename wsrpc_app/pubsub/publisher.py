"""Publishing on behalf of a caller: its permission, its rate, and the order of its publishes."""

from __future__ import annotations

import asyncio

from ..acl.access import aallowed
from ..core.errors import PermissionDenied, PublishingTooFast
from ..core.topics import validate_topic
from ..core.types import JSON
from .publishing import stage_event
from .ratelimit import TokenBucket
from .results import Publication

__all__ = ["Publisher"]


class Publisher:
    """Publishes as ``user``, at most ``rate`` publishes a second (``None``: no limit)."""

    __slots__ = ("user", "rate", "_bucket", "_order", "_sending")

    def __init__(self, user: object, rate: float | None) -> None:
        self.user = user
        self.rate = rate
        self._bucket = TokenBucket(rate)
        self._order = asyncio.Lock()
        self._sending = asyncio.Lock()

    async def publish(self, topic: str, data: JSON = None) -> Publication:
        """Publish to a concrete topic if the ``Topic`` rows let the user, within the rate."""
        validate_topic(topic)
        if not self._bucket.take():
            raise PublishingTooFast(data={"publish_rate": self.rate})
        # Requests run concurrently, but one caller's publishes go out in the
        # order they came in, even when the client does not wait for replies.
        # Each is stored (numbered) and sent in turn; the next one may be
        # stored while this one is sent, as they take their turns to send in
        # the order they took them to be stored.
        async with self._order:
            if not await aallowed(self.user, "publish", topic):
                raise PermissionDenied(data={"topic": topic, "action": "publish"})
            event = await stage_event(topic, data)
            await self._sending.acquire()
        try:
            await event.send()
        finally:
            self._sending.release()
        if event.at is None:
            return {"topic": topic}
        return {"topic": topic, "offset": event.at.offset, "epoch": event.at.epoch}
