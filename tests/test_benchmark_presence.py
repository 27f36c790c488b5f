"""benchmarks.presence keeps working: at a smoke-test size, every entry is read back and its keys are gone."""

from __future__ import annotations

import asyncio

import pytest

from benchmarks.presence import measure

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]


def test_presence_benchmark_reads_every_member(redis_url: str) -> None:
    result = asyncio.run(measure(redis_url, members=1500, rounds=2))
    assert result["members"] == 1500
    assert 0 < result["presence_median_s"] <= result["stats_median_s"]  # each count follows its read
