"""Token buckets per key (a user, a device) for control endpoints: a burst, then a steady rate.

Each key may spend `burst` requests at once; tokens come back at `burst / seconds` per second.
A refused request learns how long until the next token (the answer's Retry-After). Keys idle for a
full window are forgotten, so the table stays as small as the set of active users and devices.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from hub.api.responses import json_message

MAX_KEYS = 10_000  # bound the table even under a flood of distinct keys


@dataclass(frozen=True, slots=True)
class Rate:
    """`burst` requests per `seconds` (0 requests: no limit)."""

    burst: int
    seconds: float

    @property
    def unlimited(self) -> bool:
        return self.burst <= 0 or self.seconds <= 0


class TokenBuckets:
    """One bucket per key, refilled by the given clock (seconds)."""

    def __init__(self, rate: Rate, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)

    def _tokens(self, key: str, now: float) -> float:
        tokens, when = self._buckets.get(key, (float(self.rate.burst), now))
        refill = (now - when) * self.rate.burst / self.rate.seconds
        return min(float(self.rate.burst), tokens + refill)

    def retry_after(self, key: str) -> float:
        """Seconds until `key` may act again (0: it may act now)."""
        if self.rate.unlimited:
            return 0.0
        tokens = self._tokens(key, self.clock())
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) * self.rate.seconds / self.rate.burst

    def take(self, key: str) -> None:
        """Spend one token of `key` (call after retry_after() said 0)."""
        if self.rate.unlimited:
            return
        now = self.clock()
        if len(self._buckets) >= MAX_KEYS:
            self._forget_idle(now)
        self._buckets[key] = (self._tokens(key, now) - 1.0, now)

    def _forget_idle(self, now: float) -> None:
        idle = [key for key, (_, when) in self._buckets.items() if now - when >= self.rate.seconds]
        for key in idle:
            del self._buckets[key]
        if len(self._buckets) >= MAX_KEYS:  # all active: drop the oldest half rather than grow
            for key in sorted(self._buckets, key=lambda k: self._buckets[k][1])[: MAX_KEYS // 2]:
                del self._buckets[key]


class ControlLimits:
    """The limits of control endpoints: one bucket set per user, one per device."""

    def __init__(self, per_user: Rate, per_device: Rate, clock: Callable[[], float], *,
                 thing: str = "device", acts: str = "commands") -> None:
        """`thing` names what the second bucket set is per (a device, a rule), `acts` what is counted."""
        self.per_user = TokenBuckets(per_user, clock)
        self.per_device = TokenBuckets(per_device, clock)
        self.thing = thing
        self.acts = acts

    @classmethod
    def from_config(cls, rates: dict[str, dict[str, float]], per: str, clock: Callable[[], float], *,
                    acts: str = "commands") -> ControlLimits:
        """From a `{per_user: {commands, seconds}, per_<per>: {commands, seconds}}` section."""
        def rate(name: str) -> Rate:
            return Rate(int(rates[name]["commands"]), float(rates[name]["seconds"]))
        return cls(rate("per_user"), rate(f"per_{per}"), clock, thing=per, acts=acts)

    def check(self, user_id: str, device_id: str) -> web.Response | None:
        """Spend a token of both, or return the 429 answer naming the limit and Retry-After."""
        user_wait = self.per_user.retry_after(user_id)
        device_wait = self.per_device.retry_after(device_id)
        if user_wait or device_wait:
            which, rate = (self.thing, self.per_device.rate) if device_wait >= user_wait else ("user", self.per_user.rate)
            wait = max(user_wait, device_wait)
            message = (f"Too many {self.acts} for this {which}: at most {rate.burst} per {rate.seconds:g} s; "
                       f"try again in {math.ceil(wait)} s")
            response = json_message(message, 429)
            response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
            return response
        self.per_user.take(user_id)
        self.per_device.take(device_id)
        return None
