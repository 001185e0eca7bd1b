"""The statistics sensor's characteristics, as Home Assistant computes them over a buffer of samples.

Each function takes the values (floats, or 1.0/0.0 for a binary source) and their times (Unix
seconds, oldest first) and returns the characteristic, or None when there are too few samples.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

Values = Sequence[float]
Times = Sequence[float]
Characteristic = Callable[[Values, Times, float], float | datetime | None]


def _average_linear(values: Values, times: Times, _: float) -> float | None:
    if len(values) < 2 or times[-1] == times[0]:
        return values[0] if len(values) == 1 else None
    area = sum(0.5 * (values[i] + values[i - 1]) * (times[i] - times[i - 1]) for i in range(1, len(values)))
    return area / (times[-1] - times[0])


def _average_step(values: Values, times: Times, _: float) -> float | None:
    if len(values) < 2 or times[-1] == times[0]:
        return values[0] if len(values) == 1 else None
    area = sum(values[i - 1] * (times[i] - times[i - 1]) for i in range(1, len(values)))
    return area / (times[-1] - times[0])


def _mean(values: Values, times: Times, _: float) -> float | None:
    return statistics.mean(values) if values else None


def _mean_circular(values: Values, times: Times, _: float) -> float | None:
    if not values:
        return None
    sin_sum = sum(math.sin(math.radians(value)) for value in values)
    cos_sum = sum(math.cos(math.radians(value)) for value in values)
    return (math.degrees(math.atan2(sin_sum, cos_sum)) + 360) % 360


def _percentile(values: Values, times: Times, percentile: float) -> float | None:
    if len(values) < 2:
        return None
    return statistics.quantiles(values, n=100, method="exclusive")[int(percentile) - 1]


def _sum_differences(values: Values, nonnegative: bool) -> float | None:
    if len(values) < 2:
        return None
    total = 0.0
    for before, after in zip(values, values[1:], strict=False):
        step = after - before
        total += (after if after < before else step) if nonnegative else abs(step)
    return total


def _when(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _stdev(values: Values) -> float | None:
    return statistics.stdev(values) if len(values) >= 2 else None


NUMERIC: dict[str, Characteristic] = {
    "average_linear": _average_linear,
    "average_step": _average_step,
    "average_timeless": _mean,
    "change": lambda v, t, p: v[-1] - v[0] if v else None,
    "change_sample": lambda v, t, p: (v[-1] - v[0]) / (len(v) - 1) if len(v) > 1 else None,
    "change_second": lambda v, t, p: (v[-1] - v[0]) / (t[-1] - t[0]) if len(v) > 1 and t[-1] > t[0] else None,
    "count": lambda v, t, p: len(v),
    "datetime_newest": lambda v, t, p: _when(t[-1]) if v else None,
    "datetime_oldest": lambda v, t, p: _when(t[0]) if v else None,
    "datetime_value_max": lambda v, t, p: _when(t[v.index(max(v))]) if v else None,
    "datetime_value_min": lambda v, t, p: _when(t[v.index(min(v))]) if v else None,
    "distance_95_percent_of_values": lambda v, t, p: 2 * 1.96 * s if (s := _stdev(v)) is not None else None,
    "distance_99_percent_of_values": lambda v, t, p: 2 * 2.58 * s if (s := _stdev(v)) is not None else None,
    "distance_absolute": lambda v, t, p: max(v) - min(v) if v else None,
    "mean": _mean,
    "mean_circular": _mean_circular,
    "median": lambda v, t, p: statistics.median(v) if v else None,
    "noisiness": lambda v, t, p: _sum_differences(v, False) / (len(v) - 1) if len(v) > 1 else None,  # type: ignore[operator]
    "percentile": _percentile,
    "standard_deviation": lambda v, t, p: _stdev(v),
    "sum": lambda v, t, p: sum(v) if v else None,
    "sum_differences": lambda v, t, p: _sum_differences(v, False),
    "sum_differences_nonnegative": lambda v, t, p: _sum_differences(v, True),
    "total": lambda v, t, p: sum(v) if v else None,
    "value_max": lambda v, t, p: max(v) if v else None,
    "value_min": lambda v, t, p: min(v) if v else None,
    "variance": lambda v, t, p: statistics.variance(v) if len(v) >= 2 else None,
}


def _percent(function: Characteristic) -> Characteristic:
    def percent(values: Values, times: Times, parameter: float) -> float | None:
        result = function(values, times, parameter)
        return None if result is None else 100.0 * float(result)  # type: ignore[arg-type]

    return percent


BINARY: dict[str, Characteristic] = {
    "average_step": _percent(_average_step),
    "average_timeless": _percent(_mean),
    "count": lambda v, t, p: len(v),
    "count_on": lambda v, t, p: sum(1 for value in v if value),
    "count_off": lambda v, t, p: sum(1 for value in v if not value),
    "datetime_newest": NUMERIC["datetime_newest"],
    "datetime_oldest": NUMERIC["datetime_oldest"],
    "mean": _percent(_mean),
}

# The unit of each characteristic given the source's unit (None: no unit).
SAME_UNIT = frozenset(
    {
        "average_linear", "average_step", "average_timeless", "change", "distance_95_percent_of_values",
        "distance_99_percent_of_values", "distance_absolute", "mean", "mean_circular", "median", "noisiness",
        "percentile", "standard_deviation", "sum", "sum_differences", "sum_differences_nonnegative", "total",
        "value_max", "value_min",
    }
)
DATETIMES = frozenset({"datetime_newest", "datetime_oldest", "datetime_value_max", "datetime_value_min"})


def unit_of(characteristic: str, source_unit: str | None, binary: bool) -> str | None:
    """The unit of a characteristic of a source with source_unit."""
    if binary:
        return "%" if characteristic in ("average_step", "average_timeless", "mean") else None
    if not source_unit:
        return None
    if characteristic in SAME_UNIT:
        return source_unit
    return {"variance": f"{source_unit}²", "change_sample": f"{source_unit}/sample", "change_second": f"{source_unit}/s"}.get(characteristic)
