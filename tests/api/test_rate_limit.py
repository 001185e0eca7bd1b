"""Token buckets of control endpoints: a burst, a steady refill, and a bounded table."""

from __future__ import annotations

from hub.api import rate_limit
from hub.api.rate_limit import ControlLimits, Rate, TokenBuckets


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_one_token_per_interval() -> None:
    clock = Clock()
    buckets = TokenBuckets(Rate(5, 10.0), clock)
    for _ in range(5):
        assert buckets.retry_after("ann") == 0
        buckets.take("ann")
    assert buckets.retry_after("ann") == 2.0  # 5 tokens per 10 s: one every 2 s
    assert buckets.retry_after("bob") == 0  # keys are independent
    clock.now += 1.0
    assert buckets.retry_after("ann") == 1.0
    clock.now += 1.0
    assert buckets.retry_after("ann") == 0
    clock.now += 3600
    for _ in range(5):  # a long rest refills to the burst, never beyond
        buckets.take("ann")
    assert buckets.retry_after("ann") > 0


def test_the_stricter_of_user_and_device_answers_with_retry_after() -> None:
    clock = Clock()
    limits = ControlLimits(Rate(3, 30.0), Rate(100, 1.0), clock)
    assert all(limits.check("ann", f"device{i}") is None for i in range(3))
    refused = limits.check("ann", "device9")
    assert refused is not None and refused.status == 429 and refused.headers["Retry-After"] == "10"
    assert b"this user: at most 3 per 30 s" in refused.body  # type: ignore[operator]
    assert limits.check("bob", "device9") is None  # the refused attempt spent nothing


def test_zero_lifts_the_limit_and_the_table_stays_bounded(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    unlimited = TokenBuckets(Rate(0, 10.0), clock)
    for _ in range(1000):
        unlimited.take("ann")
    assert unlimited.retry_after("ann") == 0
    monkeypatch.setattr(rate_limit, "MAX_KEYS", 100)
    buckets = TokenBuckets(Rate(1, 10.0), clock)
    for i in range(1000):
        buckets.take(f"key{i}")
    assert len(buckets._buckets) <= 100
