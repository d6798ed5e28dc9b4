"""Token buckets per key (a user and a group of routes): a client past its rate gets 429
`rate_limited` with `Retry-After`, before the route does any work.

The buckets live in the process: with several replicas each keeps its own, so the effective
limit is the configured one per replica. A bucket left idle until full again is the same as
no bucket and is dropped, so the table holds only the keys seen within one refill time.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from skileez_web.problems import Problem


@dataclass(frozen=True)
class Rate:
    """`per_minute` tokens flow into a bucket holding at most `burst`."""

    per_minute: float
    burst: int

    def __post_init__(self) -> None:
        if self.per_minute <= 0 or self.burst < 1:
            raise ValueError("a rate needs a positive flow and a burst of at least one")

    @property
    def per_second(self) -> float:
        return self.per_minute / 60

    @property
    def refill_seconds(self) -> float:
        """How long an empty bucket takes to be full again."""
        return self.burst / self.per_second


class RateLimited(Problem):
    """429 `rate_limited`; `retry_after` is whole seconds until a token is there again."""

    def __init__(self, wait_seconds: float) -> None:
        self.retry_after = max(1, math.ceil(wait_seconds))
        super().__init__(
            429,
            "rate_limited",
            f"Too many requests; please try again in {self.retry_after} s.",
            headers={"Retry-After": str(self.retry_after)},
        )


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """One bucket per key, all at one rate; `clock` is monotonic seconds."""

    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._buckets: OrderedDict[Hashable, _Bucket] = OrderedDict()
        """Least recently used first, so the idle ones are found at the front."""

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: Hashable) -> None:
        """Take a token from the key's bucket, or raise `RateLimited` when it holds none."""
        now = self._clock()
        self._drop_full(now)
        bucket = self._buckets.pop(key, None) or _Bucket(self.rate.burst, now)
        bucket.tokens = min(
            self.rate.burst, bucket.tokens + (now - bucket.updated) * self.rate.per_second
        )
        bucket.updated = now
        self._buckets[key] = bucket
        if bucket.tokens < 1:
            raise RateLimited((1 - bucket.tokens) / self.rate.per_second)
        bucket.tokens -= 1

    def _drop_full(self, now: float) -> None:
        """Forget the buckets idle long enough to be full: a new one would be the same."""
        while self._buckets:
            oldest = next(iter(self._buckets.values()))
            if now - oldest.updated < self.rate.refill_seconds:
                return
            self._buckets.popitem(last=False)
