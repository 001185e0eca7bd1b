"""The filters of the filter sensor, as Home Assistant applies them (each one a step of a chain).

A filter takes a `Sample` (value and time) and returns the filtered sample, or None when the
sample is to be dropped (throttle, time_throttle: the sensor keeps its state). Values are
rounded to the filter's `precision` after each filter.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from hub.exceptions import HubError


@dataclass(frozen=True)
class Sample:
    """A source value (a float, or the raw string for filters taking any state) and its time."""

    value: Any
    time: float


class NotANumber(HubError):
    """A filter that works on numbers got a state that is not one."""


class Filter:
    """A step of the chain: `window_size` recent samples in `states`."""

    only_numbers = True
    store_raw = False

    def __init__(self, config: dict[str, Any]) -> None:
        window = config.get("window_size", 1)
        self.window_size = window
        self.states: deque[Sample] = deque(maxlen=window if isinstance(window, int) else 0)
        self.precision: int | None = config.get("precision")

    def apply(self, sample: Sample) -> Sample | None:
        """Filter one sample (None: dropped); raise NotANumber for a state this filter cannot use."""
        if self.only_numbers and not isinstance(sample.value, float | int):
            raise NotANumber(sample.value)
        filtered = self.filter(sample)
        if filtered is None:
            return None
        if isinstance(filtered.value, float | int) and self.precision is not None:
            rounded = round(float(filtered.value), self.precision)
            filtered = replace(filtered, value=int(rounded) if self.precision == 0 else rounded)
        self.states.append(sample if self.store_raw else filtered)
        return filtered

    def filter(self, sample: Sample) -> Sample | None:
        """The filter itself."""
        raise NotImplementedError


class RangeFilter(Filter):
    """Values beyond lower_bound/upper_bound become the bound."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.lower: float | None = config.get("lower_bound")
        self.upper: float | None = config.get("upper_bound")

    def filter(self, sample: Sample) -> Sample | None:
        """Clamp into the range."""
        if self.upper is not None and sample.value > self.upper:
            return replace(sample, value=self.upper)
        if self.lower is not None and sample.value < self.lower:
            return replace(sample, value=self.lower)
        return sample


class OutlierFilter(Filter):
    """A value farther than `radius` from the median of the last window_size raw values becomes that median."""

    store_raw = True

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.radius: float = config["radius"]

    def filter(self, sample: Sample) -> Sample | None:
        """Replace an outlier by the median."""
        median = statistics.median([state.value for state in self.states]) if self.states else 0
        if len(self.states) == self.states.maxlen and abs(sample.value - median) > self.radius:
            return replace(sample, value=float(median))
        return sample


class LowpassFilter(Filter):
    """Exponential smoothing: previous output weighted (1 - 1/time_constant), the new value 1/time_constant."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.time_constant: int = config["time_constant"]

    def filter(self, sample: Sample) -> Sample | None:
        """Smooth the value."""
        if not self.states:
            return sample
        weight = 1.0 / self.time_constant
        return replace(sample, value=(1.0 - weight) * self.states[-1].value + weight * sample.value)


class TimeSMAFilter(Filter):
    """The time-weighted mean over the last window_size of time, each value holding until the next ("last")."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        window: timedelta = config["window_size"]
        self.window = window.total_seconds()
        self.queue: deque[Sample] = deque()
        self.last_leak: Sample | None = None

    def filter(self, sample: Sample) -> Sample | None:
        """Average over the window."""
        while self.queue and self.queue[0].time + self.window <= sample.time:
            self.last_leak = self.queue.popleft()
        self.queue.append(sample)
        moving_sum = 0.0
        start = sample.time - self.window
        previous = self.last_leak or self.queue[0]
        for state in self.queue:
            moving_sum += (state.time - start) * previous.value
            start, previous = state.time, state
        return replace(sample, value=moving_sum / self.window)


class ThrottleFilter(Filter):
    """Passes one sample in each window_size samples."""

    only_numbers = False

    def filter(self, sample: Sample) -> Sample | None:
        """Pass the first of each window."""
        if not self.states or len(self.states) == self.states.maxlen:
            self.states.clear()
            return sample
        self.states.append(sample)
        return None


class TimeThrottleFilter(Filter):
    """Passes at most one sample per window_size of time."""

    only_numbers = False

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        window: timedelta = config["window_size"]
        self.window = window.total_seconds()
        self.last_emitted: float | None = None

    def filter(self, sample: Sample) -> Sample | None:
        """Pass a sample when the window since the last passed one has gone by."""
        if self.last_emitted is None or self.last_emitted <= sample.time - self.window:
            self.last_emitted = sample.time
            return sample
        return None


FILTERS: dict[str, type[Filter]] = {
    "range": RangeFilter,
    "outlier": OutlierFilter,
    "lowpass": LowpassFilter,
    "time_simple_moving_average": TimeSMAFilter,
    "throttle": ThrottleFilter,
    "time_throttle": TimeThrottleFilter,
}
