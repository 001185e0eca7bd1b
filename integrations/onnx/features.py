"""The feature vector a model sensor feeds its model, built in the order the features are listed.

`raw` (the window's values) and `delta` (differences between consecutive values, one fewer)
repeat for each input entity in the configured order; `time_of_day` and `day_of_week` add
a sine and a cosine each, at the end of the window, in the hub's time zone. The training
script builds its vectors with this module, so the hub computes exactly what a model learnt.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

import numpy as np

PER_INPUT = ("raw", "delta")
TIME = ("time_of_day", "day_of_week")
FEATURES = PER_INPUT + TIME
DAY = 86400.0


def time_of_day(timestamp: float, tz: tzinfo) -> tuple[float, float]:
    """Return (sin, cos) of the local time of day: 00:00 and 24:00 meet."""
    local = datetime.fromtimestamp(timestamp, tz)
    seconds = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
    angle = 2 * math.pi * seconds / DAY
    return math.sin(angle), math.cos(angle)


def day_of_week(timestamp: float, tz: tzinfo) -> tuple[float, float]:
    """Return (sin, cos) of the local position in the week (Monday 00:00 = 0), hours included."""
    local = datetime.fromtimestamp(timestamp, tz)
    day = local.weekday() + (local.hour * 3600 + local.minute * 60 + local.second) / DAY
    angle = 2 * math.pi * day / 7
    return math.sin(angle), math.cos(angle)


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """Which features, over windows of `size` values, for `inputs` entities."""

    features: tuple[str, ...]
    size: int
    inputs: int = 1

    def __post_init__(self) -> None:
        unknown = [f for f in self.features if f not in FEATURES]
        if unknown:
            message = f"unknown feature {unknown[0]!r}: expected one of {', '.join(FEATURES)}"
            raise ValueError(message)
        if "delta" in self.features and self.size < 2:
            message = "the delta feature needs a window of at least 2 values"
            raise ValueError(message)

    @property
    def length(self) -> int:
        """Return how many numbers the vector holds."""
        return sum(self._width(feature) for feature in self.features)

    def describe(self) -> str:
        """Return the vector's layout in words, e.g. `60 raw + 2 time_of_day`."""
        return " + ".join(f"{self._width(f)} {f}" for f in self.features)

    def _width(self, feature: str) -> int:
        if feature == "raw":
            return self.size * self.inputs
        if feature == "delta":
            return (self.size - 1) * self.inputs
        return 2

    def vector(self, windows: Sequence[np.ndarray], end_time: float, tz: tzinfo) -> np.ndarray:
        """Return the feature vector for one window per input ending at end_time.

        Raises:
            ValueError: a window has the wrong length.
        """
        parts: list[np.ndarray] = []
        for feature in self.features:
            if feature in PER_INPUT:
                for values in windows:
                    if len(values) != self.size:
                        message = f"window holds {len(values)} values, expected {self.size}"
                        raise ValueError(message)
                    parts.append(values if feature == "raw" else np.diff(values))
            elif feature == "time_of_day":
                parts.append(np.array(time_of_day(end_time, tz)))
            else:
                parts.append(np.array(day_of_week(end_time, tz)))
        return np.concatenate(parts)
