"""Token buckets on an injected clock: the burst, the refill, Retry-After, one bucket per key,
and a table that forgets idle keys."""

from __future__ import annotations

import pytest

from skileez_web.rate_limit import Rate, RateLimited, TokenBuckets


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def refused_after(buckets: TokenBuckets, key: str) -> int:
    with pytest.raises(RateLimited) as refused:
        buckets.take(key)
    assert (refused.value.status, refused.value.code) == (429, "rate_limited")
    assert refused.value.headers == {"Retry-After": str(refused.value.retry_after)}
    return refused.value.retry_after


def test_a_burst_is_taken_at_once_then_refused_with_the_seconds_until_the_next_token() -> None:
    clock = Clock()
    buckets = TokenBuckets(Rate(per_minute=10, burst=3), clock)
    for _ in range(3):
        buckets.take("student-1")
    assert refused_after(buckets, "student-1") == 6  # one token every 6 s
    clock.now += 4.5
    assert refused_after(buckets, "student-1") == 2  # 1.5 s, rounded up to whole seconds
    clock.now += 1.5
    buckets.take("student-1")
    assert refused_after(buckets, "student-1") == 6


def test_a_refused_request_spends_nothing() -> None:
    clock = Clock()
    buckets = TokenBuckets(Rate(per_minute=60, burst=1), clock)
    buckets.take("k")
    for _ in range(5):
        refused_after(buckets, "k")
    clock.now += 1
    buckets.take("k")


def test_the_bucket_refills_up_to_its_burst_and_no_further() -> None:
    clock = Clock()
    buckets = TokenBuckets(Rate(per_minute=60, burst=2), clock)
    buckets.take("k")
    buckets.take("k")
    clock.now += 3_600
    buckets.take("k")
    buckets.take("k")
    refused_after(buckets, "k")


def test_each_key_has_its_own_bucket() -> None:
    buckets = TokenBuckets(Rate(per_minute=1, burst=1), Clock())
    buckets.take(("student-1", "pay"))
    refused_after(buckets, ("student-1", "pay"))
    buckets.take(("student-1", "refunds"))
    buckets.take(("student-2", "pay"))


def test_idle_buckets_are_forgotten_so_the_table_holds_only_recent_keys() -> None:
    clock = Clock()
    rate = Rate(per_minute=10, burst=10)  # an empty bucket is full again after 60 s
    buckets = TokenBuckets(rate, clock)
    for second in range(10_000):
        clock.now += 1
        buckets.take(f"user-{second}")
        assert len(buckets) <= rate.refill_seconds
    assert len(buckets) == 60


def test_a_forgotten_bucket_was_full_so_forgetting_it_changes_no_answer() -> None:
    clock = Clock()
    buckets = TokenBuckets(Rate(per_minute=60, burst=2), clock)
    buckets.take("k")
    buckets.take("k")
    clock.now += 2  # full again: the next take of anyone drops it
    buckets.take("other")
    assert len(buckets) == 1
    buckets.take("k")
    buckets.take("k")
    refused_after(buckets, "k")


@pytest.mark.parametrize(("per_minute", "burst"), [(0, 1), (-1, 1), (1, 0)])
def test_a_rate_needs_a_positive_flow_and_burst(per_minute: float, burst: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        Rate(per_minute, burst)
