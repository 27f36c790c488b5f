"""Summaries of measurements: percentiles of one run, spreads over runs."""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

__all__ = ["Run", "Spread", "Series", "percentile"]


class Run(Protocol):
    """What a workload's result of one run has for :class:`Series`: how many things failed."""

    @property
    def failures(self) -> int: ...


R = TypeVar("R", bound=Run)


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted values (``fraction`` 0.5 for p50); NaN when empty."""
    if not ordered:
        return float("nan")
    rank = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return float(ordered[rank])


@dataclasses.dataclass(frozen=True)
class Spread:
    """The median, lowest and highest of one quantity over several runs."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if not values:
            nan = float("nan")
            return cls(nan, nan, nan)
        return cls(statistics.median(values), min(values), max(values))

    def format(self, digits: int = 0, *, scale: float = 1.0) -> str:
        """``median (low–high)``, or the median alone when every run agreed."""
        median, low, high = (f"{v * scale:,.{digits}f}" for v in (self.median, self.low, self.high))
        return median if low == high else f"{median} ({low}–{high})"


@dataclasses.dataclass(frozen=True)
class Series(Generic[R]):
    """The runs of one peer in one mode (``mode`` empty for single-mode workloads)."""

    peer: Any
    mode: str
    runs: tuple[R, ...]

    def spread(self, quantity: Callable[[R], float]) -> Spread:
        return Spread.of([v for v in map(quantity, self.runs) if not math.isnan(v)])

    @property
    def failures(self) -> int:
        return sum(r.failures for r in self.runs)
