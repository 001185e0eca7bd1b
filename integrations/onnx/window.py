"""Sample windows: the last N readings of an entity, raw or resampled to a fixed time step.

A reading is `(timestamp, value)`; NaN stands for a time when the entity was unavailable or
unknown, so a gap stays visible to the model sensor instead of being papered over.
"""

from __future__ import annotations

import math

import numpy as np

NAN = float("nan")


class SampleWindow:
    """The last `size` readings as they arrived (no resampling): for event-like inputs."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._values = np.full(size, np.nan)
        self._count = 0
        self._end_time: float | None = None

    @property
    def version(self) -> int:
        """Return a number that changes whenever values() may have changed."""
        return self._count

    @property
    def end_time(self) -> float | None:
        """Return the timestamp of the newest reading."""
        return self._end_time

    def ready(self) -> bool:
        """Return whether the window holds `size` readings."""
        return self._count >= self.size

    def add(self, timestamp: float, value: float) -> None:
        """Append a reading (NaN for unavailable)."""
        self._values[self._count % self.size] = value
        self._count += 1
        self._end_time = timestamp

    def advance(self, timestamp: float) -> None:
        """Let time pass: a raw window only moves with readings."""

    def values(self) -> np.ndarray:
        """Return the readings, oldest first (fewer than `size` until ready)."""
        if self._count < self.size:
            return self._values[: self._count].copy()
        start = self._count % self.size
        return np.concatenate((self._values[start:], self._values[:start]))


class ResampledWindow:
    """The last `size` buckets of `step` seconds, each the time-weighted mean of the held value.

    A reading holds until the next one (a meter reports changes), so a flat line with no new
    readings still fills buckets as time passes. Buckets are aligned to multiples of `step`
    since the epoch; the bucket in progress is never part of values().
    """

    def __init__(self, size: int, step: float) -> None:
        self.size = size
        self.step = float(step)
        self._buckets = np.full(size, np.nan)
        self._closed = 0
        self._bucket: int | None = None  # index (timestamp // step) of the bucket in progress
        self._held = NAN
        self._last = 0.0
        self._sum = 0.0
        self._covered = 0.0

    @property
    def version(self) -> int:
        """Return a number that changes whenever values() may have changed."""
        return self._closed

    @property
    def end_time(self) -> float | None:
        """Return the end of the newest closed bucket."""
        return None if self._bucket is None or not self._closed else self._bucket * self.step

    def ready(self) -> bool:
        """Return whether `size` buckets were closed."""
        return self._closed >= self.size

    def add(self, timestamp: float, value: float) -> None:
        """Take a reading (NaN for unavailable) that holds from timestamp on."""
        if self._bucket is None:
            self._bucket = math.floor(timestamp / self.step)
            self._last = timestamp
        else:
            self.advance(timestamp)
        self._held = value

    def advance(self, timestamp: float) -> None:
        """Move time forward to timestamp, closing every bucket that ended on the way."""
        if self._bucket is None or timestamp <= self._last:
            return
        target = math.floor(timestamp / self.step)
        if target > self._bucket:
            self._integrate((self._bucket + 1) * self.step)
            self._close(self._mean())
            # Whole buckets in between carry the held value; more than `size` of them is `size`.
            between = min(target - self._bucket - 1, self.size)
            for _ in range(between):
                self._close(self._held)
            self._bucket = target
            self._last = target * self.step
            self._sum = self._covered = 0.0
        self._integrate(timestamp)

    def values(self) -> np.ndarray:
        """Return the closed buckets' means, oldest first (fewer than `size` until ready)."""
        if self._closed < self.size:
            return self._buckets[: self._closed].copy()
        start = self._closed % self.size
        return np.concatenate((self._buckets[start:], self._buckets[:start]))

    def _integrate(self, until: float) -> None:
        span = until - self._last
        if span > 0 and not math.isnan(self._held):
            self._sum += self._held * span
            self._covered += span
        self._last = until

    def _mean(self) -> float:
        # A bucket the entity was unavailable for entirely has no value at all.
        return self._sum / self._covered if self._covered > 0 else NAN

    def _close(self, value: float) -> None:
        self._buckets[self._closed % self.size] = value
        self._closed += 1
