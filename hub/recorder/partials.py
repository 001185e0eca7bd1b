"""Points summed up per time bucket with numpy: what charts need of an hour of a 1 Hz sensor in a few array operations.

`sum_up` gives, per bucket `[k * width, (k + 1) * width)`, the count, min, max, first time,
last value and the step area (each point holding until the next one or the bucket's end),
the same partial sums a database's bucketed GROUP BY gives; tiers.from_partials turns them into
rows with the value carried in, equal to what tiers.aggregate computes point by point.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hub.recorder.backends.base import Partial


def sum_up(times: Sequence[float] | np.ndarray, values: Sequence[float] | np.ndarray, width: float) -> list[Partial]:
    """Return the partial sums of numeric points (oldest first) per bucket of width seconds."""
    if len(times) == 0:
        return []
    ts = np.asarray(times, dtype=np.float64)
    vs = np.asarray(values, dtype=np.float64)
    buckets = np.floor_divide(ts, width) * width  # as Python's ts // width * width
    later = np.flatnonzero(buckets[1:] != buckets[:-1]) + 1
    firsts = np.concatenate(([0], later))
    lasts = np.concatenate((later - 1, [len(ts) - 1]))
    held_until = np.minimum(np.append(ts[1:], np.inf), buckets + width)
    areas = np.add.reduceat(vs * (held_until - ts), firsts)
    return list(
        map(
            Partial,
            buckets[firsts].tolist(),
            np.diff(np.append(firsts, len(ts))).tolist(),
            np.minimum.reduceat(vs, firsts).tolist(),
            np.maximum.reduceat(vs, firsts).tolist(),
            ts[firsts].tolist(),
            areas.tolist(),
            vs[lasts].tolist(),
        )
    )
