"""A token bucket per API key: `rate` requests per second on average, bursts up to `burst`."""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class RateLimiter:
    """Decide per key whether a request may go through now."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: str) -> float:
        """Take one token; return 0 when allowed, else the seconds until one is free."""
        now = self._clock()
        tokens, at = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.rate

    @staticmethod
    def retry_after(seconds: float) -> str:
        """Return a Retry-After header value (whole seconds, at least 1)."""
        return str(max(1, math.ceil(seconds)))
