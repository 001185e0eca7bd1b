"""What the recorder's stored listeners cost the event loop per slice of stored points.

Run: .venv/bin/python bench/stored_listeners.py [--entities 1000] [--slices 2000]

The recorder hands every stored slice (up to 2,000 points) to its listeners on the loop: the
history cache drops the spans it wrote into, the downsampler marks late points. At high rates
(live points, all newer than anything cached) this prints the µs per slice of both, with the
cache empty and with a day of five-minute spans cached for every entity (after a chart query),
and the same for a backfill slice (points in the cached past), as a share of a 5,000/s budget.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
sys.path.insert(0, os.path.dirname(_HERE))

from hub.recorder.backends.base import Batch, Point  # noqa: E402
from hub.recorder.history_cache import SPAN, Block, HistoryCache  # noqa: E402
from hub.recorder.tiers import Downsampler, RetentionPlan  # noqa: E402

SLICE = 2_000


def cached(entities: list[str], now: float) -> HistoryCache:
    """A cache holding a day of spans of every entity, as a chart query leaves it."""
    cache = HistoryCache(max_bytes=1 << 40)
    block = Block(b'{"s":"1","lu":0}', "1", 0.0, "1", 0)
    first = now // SPAN * SPAN - 86400
    stamp = cache.begin(first + 288 * SPAN)
    cache.end(stamp, {(e, first + i * SPAN): block for e in entities for i in range(288)})
    return cache


def timed(run: object, batches: list[Batch], repeats: int) -> float:
    """Return the median µs per slice of run(batch) over the batches."""
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        for batch in batches:
            run(batch)  # type: ignore[operator]
        times.append((time.perf_counter() - began) / len(batches) * 1e6)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entities", type=int, default=1000)
    parser.add_argument("--slices", type=int, default=200)
    args = parser.parse_args()
    entities = [f"sensor.node_{i}_power" for i in range(args.entities)]
    now = time.time()
    live = [Batch([Point(entities[(k * SLICE + j) % len(entities)], now + (k * SLICE + j) / 5000, 230.0, None)
                   for j in range(SLICE)]) for k in range(args.slices)]
    backfill = [Batch([Point(entities[j % len(entities)], now - 3600 + j, 230.0, None) for j in range(SLICE)])]
    with tempfile.TemporaryDirectory() as tmp:
        downsampler = Downsampler(None, RetentionPlan(), Path(tmp) / "tiers.json", lambda: now)  # type: ignore[arg-type]
        print(f"µs per slice of {SLICE:,} stored points ({args.entities:,} entities); 5,000/s: a slice is 400 ms of loop")
        for label, cache in (("cache empty", HistoryCache()), ("a day of spans cached", cached(entities, now))):
            drop = timed(cache.note_stored, live, 5)
            late = timed(downsampler.note_stored, live, 5)
            print(f"  live points, {label:>22}: history cache {drop:8.1f} µs, downsampler {late:8.1f} µs "
                  f"({(drop + late) / 4000:.3f} % of the loop at 5,000/s)")
        cache = cached(entities, now)
        began = time.perf_counter()
        cache.note_stored(backfill[0])
        print(f"  a backfill slice into cached spans: {(time.perf_counter() - began) * 1e6:8.1f} µs, "
              f"{len(cache):,} spans left of {288 * len(entities):,}")


if __name__ == "__main__":
    main()
