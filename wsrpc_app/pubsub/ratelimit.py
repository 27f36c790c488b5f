"""A token bucket: a rate with a burst of the same size."""

from __future__ import annotations

import time

__all__ = ["TokenBucket"]


class TokenBucket:
    """Allows ``rate`` actions a second on average, and bursts of up to ``rate`` (at least one).

    ``None`` allows everything.
    """

    __slots__ = ("rate", "capacity", "tokens", "updated")

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self.capacity = max(float(rate), 1.0) if rate is not None else 0.0
        self.tokens = self.capacity
        self.updated = time.monotonic()

    def take(self) -> bool:
        """Spend one token; False when none is left."""
        if self.rate is None:
            return True
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True
