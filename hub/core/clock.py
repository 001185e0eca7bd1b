"""The hub's one clock: the bus, state writes, templates, triggers, delays, schedules and auth read it.

Production uses SystemClock (wall time, the event loop's timers). Tests put a ManualClock on the
hub (`hub.clock = ManualClock(...)`) and move time forward with `await clock.advance(seconds)`:
every timer due meanwhile fires in order, so nothing time-based needs a real sleep.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

Cancel = Callable[[], None]


@lru_cache(maxsize=32)
def zone(name: str) -> tzinfo:
    """Return the tzinfo for an IANA time zone name (UTC for an unknown one)."""
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return UTC


class Clock:
    """Wall time plus timers, in the hub's time zone."""

    time_zone: tzinfo = UTC

    def time(self) -> float:
        """Return the current Unix timestamp."""
        raise NotImplementedError

    def utcnow(self) -> datetime:
        """Return now as an aware UTC datetime."""
        return datetime.fromtimestamp(self.time(), UTC)

    def now(self) -> datetime:
        """Return now as an aware datetime in the hub's time zone."""
        return datetime.fromtimestamp(self.time(), self.time_zone)

    def start_of_local_day(self, day: date | None = None) -> datetime:
        """Return midnight of today (or of day) in the hub's time zone."""
        day = day or self.now().date()
        return datetime(day.year, day.month, day.day, tzinfo=self.time_zone)

    def call_at(self, timestamp: float, callback: Callable[[], Any]) -> Cancel:
        """Run callback (inline in the loop) at a Unix timestamp; return the cancel."""
        raise NotImplementedError

    def call_later(self, seconds: float, callback: Callable[[], Any]) -> Cancel:
        """Run callback after seconds; return the cancel."""
        return self.call_at(self.time() + seconds, callback)

    async def sleep(self, seconds: float) -> None:
        """Sleep on this clock (a ManualClock wakes when advanced far enough)."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        cancel = self.call_later(seconds, wake)
        try:
            await future
        finally:
            cancel()


class SystemClock(Clock):
    """The real clock: time.time() and the event loop's timers."""

    def __init__(self, time_zone: str = "UTC") -> None:
        self.time_zone = zone(time_zone)

    def time(self) -> float:
        """Return the current Unix timestamp."""
        return time.time()

    def call_at(self, timestamp: float, callback: Callable[[], Any]) -> Cancel:
        """Run callback at a Unix timestamp (wall time re-read when the timer fires)."""
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle | None = None

        def fire() -> None:
            nonlocal handle
            # The loop's monotonic clock can drift from wall time (NTP steps, suspend):
            # re-arm until the wall clock really reached the timestamp.
            remaining = timestamp - time.time()
            if remaining > 0.001:
                handle = loop.call_later(remaining, fire)
                return
            callback()

        handle = loop.call_later(max(0.0, timestamp - time.time()), fire)

        def cancel() -> None:
            if handle is not None:
                handle.cancel()

        return cancel


class ManualClock(Clock):
    """A clock that only moves when told to: for tests and simulations."""

    def __init__(self, start: datetime | float | None = None, time_zone: str = "UTC") -> None:
        if start is None:
            start = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
        self._now = start.timestamp() if isinstance(start, datetime) else float(start)
        self.time_zone = zone(time_zone)
        # Each timer's callback sits in a one-item list that cancel() empties to None.
        self._timers: list[tuple[float, int, list[Callable[[], Any] | None]]] = []
        self._sequence = itertools.count()

    def time(self) -> float:
        """Return the clock's current Unix timestamp."""
        return self._now

    def call_at(self, timestamp: float, callback: Callable[[], Any]) -> Cancel:
        """Run callback when the clock is advanced to timestamp."""
        entry: list[Callable[[], Any] | None] = [callback]
        heapq.heappush(self._timers, (timestamp, next(self._sequence), entry))

        def cancel() -> None:
            entry[0] = None

        return cancel

    async def advance(self, seconds: float = 0.0) -> None:
        """Move time forward, firing every due timer in order and letting the loop run after each."""
        await self.set_time(self._now + seconds)

    async def set_time(self, target: datetime | float) -> None:
        """Move time forward to target (a datetime or timestamp)."""
        end = target.timestamp() if isinstance(target, datetime) else float(target)
        for _ in range(5):
            await asyncio.sleep(0)
        while self._timers and self._timers[0][0] <= end:
            when, _seq, (callback,) = heapq.heappop(self._timers)
            if callback is None:
                continue
            self._now = max(self._now, when)
            callback()
            # Let the tasks the timer woke run before the next one fires.
            for _ in range(5):
                await asyncio.sleep(0)
        self._now = max(self._now, end)
        for _ in range(5):
            await asyncio.sleep(0)

    def pending(self) -> int:
        """Return how many timers are armed."""
        return sum(1 for _when, _seq, entry in self._timers if entry[0] is not None)


# The clock of templates rendered without a hub (no timers are ever armed on it).
UTC_CLOCK = SystemClock()


def as_timedelta_seconds(value: timedelta | float) -> float:
    """Return seconds from a timedelta or a number."""
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
