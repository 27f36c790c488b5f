"""TokenBucket: a rate a second with a burst of the same size, on a fake clock."""

from __future__ import annotations

import types

import pytest

from wsrpc_app.pubsub import ratelimit
from wsrpc_app.pubsub.ratelimit import TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    # Only the module's view of time is replaced; asyncio keeps the real clock.
    monkeypatch.setattr(ratelimit, "time", types.SimpleNamespace(monotonic=fake.monotonic))
    return fake


def takes(bucket: TokenBucket, n: int) -> list[bool]:
    return [bucket.take() for _ in range(n)]


def test_none_allows_everything(clock: Clock) -> None:
    bucket = TokenBucket(None)
    assert all(takes(bucket, 10_000))


def test_a_burst_of_rate_then_refused(clock: Clock) -> None:
    bucket = TokenBucket(5)
    assert takes(bucket, 7) == [True] * 5 + [False] * 2


def test_tokens_come_back_at_the_rate(clock: Clock) -> None:
    bucket = TokenBucket(4)
    assert takes(bucket, 4) == [True] * 4
    assert bucket.take() is False
    clock.now += 0.24  # not yet a whole token
    assert bucket.take() is False
    clock.now += 0.02
    assert bucket.take() is True
    assert bucket.take() is False
    clock.now += 0.5
    assert takes(bucket, 3) == [True, True, False]


def test_an_idle_bucket_refills_only_to_its_capacity(clock: Clock) -> None:
    bucket = TokenBucket(3)
    clock.now += 3600
    assert takes(bucket, 5) == [True] * 3 + [False] * 2


def test_a_slow_rate_still_allows_one(clock: Clock) -> None:
    bucket = TokenBucket(0.5)
    assert bucket.capacity == 1.0
    assert takes(bucket, 2) == [True, False]
    clock.now += 1.0
    assert bucket.take() is False
    clock.now += 1.0
    assert bucket.take() is True


def test_refused_takes_do_not_spend_tokens(clock: Clock) -> None:
    bucket = TokenBucket(2)
    takes(bucket, 2)
    assert takes(bucket, 100) == [False] * 100
    clock.now += 0.5
    assert bucket.take() is True


def test_a_steady_caller_gets_the_rate(clock: Clock) -> None:
    bucket = TokenBucket(10)
    granted = 0
    for _ in range(1000):  # 10 seconds in steps of 10 ms, trying every step
        clock.now += 0.01
        granted += bucket.take()
    assert 100 <= granted <= 110  # the rate, plus the initial burst
