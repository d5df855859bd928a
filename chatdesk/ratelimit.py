"""Client-side request budgets, so chatdesk stays under a marketplace's published limits
before the server has to refuse.

A :class:`RateLimiter` holds one token bucket per key (usually the API method). Connectors
call ``await limiter.acquire(key)`` before each request. When the server still answers
429/420, ``block(key, seconds)`` empties that bucket until the given time.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    """``limit`` requests per ``period`` seconds, at most ``burst`` at once."""

    limit: int
    period: float
    burst: int | None = None

    @property
    def rate(self) -> float:
        return self.limit / self.period


class _Bucket:
    def __init__(self, budget: Budget) -> None:
        self.capacity = float(budget.burst or budget.limit)
        self.rate = budget.rate
        self.tokens = self.capacity
        self.stamp = time.monotonic()
        self.blocked_until = 0.0

    def wait_time(self, now: float) -> float:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if now < self.blocked_until:
            return self.blocked_until - now
        if self.tokens >= 1:
            return 0.0
        return (1 - self.tokens) / self.rate


class RateLimiter:
    """Token buckets by key. Unknown keys are unlimited (``default`` budget if given)."""

    def __init__(self, budgets: dict[str, Budget] | None = None, default: Budget | None = None) -> None:
        self.budgets = dict(budgets or {})
        self.default = default
        self._buckets: dict[str, _Bucket] = {}
        self._lock = asyncio.Lock()
        self.spent = 0  # requests let through so far (the engine paces polling by what a poll costs)
        self.spent_by: Counter[str] = Counter()  # ...and by budget key

    def _bucket(self, key: str) -> _Bucket | None:
        budget = self.budgets.get(key, self.default)
        if budget is None:
            return None
        if key not in self._buckets:
            self._buckets[key] = _Bucket(budget)
        return self._buckets[key]

    async def acquire(self, key: str) -> None:
        self.spent += 1
        self.spent_by[key] += 1
        bucket = self._bucket(key)
        if bucket is None:
            return
        async with self._lock:
            while True:
                delay = bucket.wait_time(time.monotonic())
                if delay <= 0:
                    bucket.tokens -= 1
                    return
                await asyncio.sleep(delay)

    def blocked_for(self, key: str | None = None) -> float:
        """Seconds until ``key`` (default: every key) is no longer blocked by a server's
        "wait" answer. Delivery checks this before claiming an outbox row, so a claim is never
        held across a wait the marketplace announced."""
        now = time.monotonic()
        buckets = [self._buckets[key]] if key is not None and key in self._buckets else []
        if key is None:
            buckets = list(self._buckets.values())
        return max((b.blocked_until - now for b in buckets), default=0.0) if buckets else 0.0

    def block(self, key: str, seconds: float) -> None:
        """The server said stop for ``seconds``: no request on this key before then."""
        bucket = self._bucket(key) or self._buckets.setdefault(key, _Bucket(Budget(1_000_000, 1)))
        bucket.blocked_until = max(bucket.blocked_until, time.monotonic() + max(0.0, seconds))
        bucket.tokens = 0
