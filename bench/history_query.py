"""Chart query benchmark: decimated history (history/chart) of 10 entities, 1 hour to 1 year, cold and warm.

Run: .venv/bin/python bench/history_query.py [--rate 5] [--points 300] [--db PATH] [--no-before]

Seeds (or reuses, with --db) a SQLite history of 10 power sensors as a year of the default
plan leaves it: the day tier for 5 years, the hour tier for 365 days, the 5-minute tier for 30 days, raw points every
`--rate` seconds for the last 7 days. Then, for each range (1 h, 1 d, 7 d, 30 d, 365 d ending
now), prints the latency of the command's whole answer (read, bucket, JSON) with a chart's
`points`, beside what the History page asked for before (every change, history_during_period
with minimal_response; tier means for ranges past raw retention), interleaved in one run: cold
is the first query of that range on a freshly opened backend (SQLite's own page cache empty;
the OS file cache is not dropped), warm the median of 5 repeats.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
sys.path.insert(0, os.path.dirname(_HERE))

from hub.recorder import compressed  # noqa: E402
from hub.recorder.backends.base import Batch, Point, TierRow  # noqa: E402
from hub.recorder.backends.sqlite import SQLiteBackend  # noqa: E402
from hub.recorder.buckets import Coverage  # noqa: E402
from hub.recorder.chart import chart_json  # noqa: E402
from hub.recorder.tiers import RetentionPlan  # noqa: E402

ENTITIES = [f"sensor.meter_{i}_power" for i in range(10)]
DAY = 86400.0
RANGES = {"1 h": 3600.0, "1 d": DAY, "7 d": 7 * DAY, "30 d": 30 * DAY, "365 d": 365 * DAY}


def _watts(entity: int, ts: float) -> float:
    """A household's power: a daily shape plus a per-meter offset and some noise."""
    daily = 400 + 300 * math.sin(2 * math.pi * (ts % DAY) / DAY)
    return round(daily + 50 * entity + (hash((entity, int(ts))) % 200), 1)


def _tier_rows(tier: str, width: float, start: float, end: float) -> list[TierRow]:
    rows = []
    ts = start
    while ts < end:
        for i, entity_id in enumerate(ENTITIES):
            mean = _watts(i, ts)
            rows.append(TierRow(entity_id, ts, mean, mean - 40, mean + 60, mean + 5, width / 3600 * mean / 1000, int(width / 5)))
        ts += width
    return rows


async def seed(path: Path, now: float, rate: float) -> None:
    backend = SQLiteBackend(path)
    await backend.open()
    hour_end, five_end = now // 3600 * 3600, now // 300 * 300
    began = time.perf_counter()
    day_end = now // DAY * DAY
    await backend.write_tier("day", _tier_rows("day", DAY, day_end - 5 * 365 * DAY, day_end))
    for day in range(365, 0, -30):
        a = hour_end - day * DAY
        await backend.write_tier("hour", _tier_rows("hour", 3600, a, min(a + 30 * DAY, hour_end)))
    for day in range(30, 0, -1):
        a = five_end - day * DAY
        await backend.write_tier("five_minute", _tier_rows("five_minute", 300, a, min(a + DAY, five_end)))
    ts, end = now - 7 * DAY, now
    while ts < end:
        chunk_end = min(ts + 3 * 3600, end)
        points = []
        t = ts
        while t < chunk_end:
            points.extend(Point(e, t, _watts(i, t), None) for i, e in enumerate(ENTITIES))
            t += rate
        await backend.write(Batch(points))
        ts = chunk_end
    await backend.close()
    print(f"seeded {path} in {time.perf_counter() - began:.1f} s ({os.path.getsize(path) / 1e6:.0f} MB)")


async def timed(backend: SQLiteBackend, coverage: Coverage, span: float, now: float, points: int) -> tuple[float, int]:
    began = time.perf_counter()
    answer = await chart_json(backend, coverage, ENTITIES, now - span, now, points)
    return (time.perf_counter() - began) * 1000, len(answer)


async def timed_before(backend: SQLiteBackend, plan: RetentionPlan, span: float, now: float) -> tuple[float, int]:
    """What the History page asked before: every change (minimal_response, no attributes), tier means when old."""
    began = time.perf_counter()
    found = await compressed.read_points(backend, plan, ENTITIES, now - span, now, include_start=True, now=now)
    body = await asyncio.to_thread(compressed.encode, found, None, now - span, significant_changes_only=False,
                                   minimal_response=True)
    return (time.perf_counter() - began) * 1000, len(body)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=5.0, help="seconds between raw points per sensor")
    parser.add_argument("--points", type=int, default=300, help="the chart's points per series")
    parser.add_argument("--db", type=Path, help="reuse (or create) this seeded database")
    parser.add_argument("--no-before", action="store_true", help="time history/chart alone (the before column is 0)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench_history_"))
    path = args.db or folder / "history.db"
    now = time.time()
    if not path.exists():
        await seed(path, now, args.rate)
    else:
        now = os.path.getmtime(path)
    coverage = Coverage(raw_from=now - 7 * DAY, five_from=now - 30 * DAY, hour_from=now - 365 * DAY,
                        five_until=now // 300 * 300, hour_until=now // 3600 * 3600, day_until=now // DAY * DAY)
    plan = RetentionPlan({"raw": 7 * DAY, "five_minute": 30 * DAY, "hour": 365 * DAY, "day": 5 * 365 * DAY})
    print(f"10 entities, raw every {args.rate:g} s; latency in ms. before: every change as the History page asked "
          f"(history_during_period, minimal); after: history/chart with points={args.points}. cold: first query on a "
          "freshly opened backend (the OS file cache is not dropped); warm: median of 5, before and after interleaved")
    print(f"{'range':>6} {'before cold':>12} {'after cold':>11} {'before warm':>12} {'after warm':>11} {'ratio warm':>11} "
          f"{'before MB':>10} {'after kB':>9}")
    for name, span in RANGES.items():
        old_backend, new_backend = SQLiteBackend(path), SQLiteBackend(path)
        await old_backend.open()
        await new_backend.open()
        try:
            before_cold, before_size = (0.0, 0) if args.no_before else await timed_before(old_backend, plan, span, now)
            after_cold, size = await timed(new_backend, coverage, span, now, args.points)
            befores, afters = [], []
            for _ in range(5):
                befores.append(0.0 if args.no_before else (await timed_before(old_backend, plan, span, now))[0])
                afters.append((await timed(new_backend, coverage, span, now, args.points))[0])
        finally:
            await old_backend.close()
            await new_backend.close()
        before_warm, after_warm = statistics.median(befores), statistics.median(afters)
        print(f"{name:>6} {before_cold:12.1f} {after_cold:11.1f} {before_warm:12.1f} {after_warm:11.1f} "
              f"{before_warm / after_warm:10.1f}x {before_size / 1e6:10.1f} {size / 1e3:9.1f}")
    print("(the machine is shared: run twice, compare ratios within one run)")


if __name__ == "__main__":
    asyncio.run(main())
