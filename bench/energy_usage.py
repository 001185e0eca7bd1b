"""energy/usage query cost: a year of hourly statistics vs replaying raw readings, on SQLite.

    .venv/bin/python bench/energy_usage.py [--meters 20] [--days 365]

Writes `meters` energy counters' hour-tier rows for `days` days plus one day of raw points
(one reading per 10 s) into a temporary SQLite history, then times usage queries: a month and
a year from the hour tier (TOU tariff, per-day grouping), and a day computed from raw points.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from hub.recorder.backends.base import Batch, Point, TierRow
from hub.recorder.backends.sqlite import SQLiteBackend
from integrations.energy import CONFIG_SCHEMA, build_tariff
from integrations.energy.usage import MeterSpec, usage

ZONE = ZoneInfo("Europe/Berlin")
TOU = {"price": 0.22, "schedule": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "07:30", "to": "22:00",
                                     "price": 0.34}]}


async def timed(runs: int, query) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        await query()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1 if len(times) > 1 else 0]


async def main(meters: int, days: int) -> None:
    tariff = build_tariff("grid", CONFIG_SCHEMA({"tariffs": {"grid": TOU}})["tariffs"]["grid"], ZONE)
    end = (time.time() // 3600) * 3600
    start = end - days * 86400
    ids = [f"sensor.meter_{i}_energy" for i in range(meters)]
    with tempfile.TemporaryDirectory() as folder:
        backend = SQLiteBackend(Path(folder) / "history.db")
        await backend.open()
        rows = [TierRow(e, start + h * 3600, 1.0, 0, 1, h * 0.4, 0.4, 360) for e in ids for h in range(days * 24)]
        for chunk in range(0, len(rows), 50_000):
            await backend.write_tier("hour", rows[chunk:chunk + 50_000])
        raw_start = end
        points = [Point(e, raw_start + s, s / 36000, None) for e in ids for s in range(0, 86400, 10)]
        for chunk in range(0, len(points), 50_000):
            await backend.write(Batch(points[chunk:chunk + 50_000]))
        specs = {e: MeterSpec(1.0, tariff) for e in ids}
        print(f"{meters} meters, {len(rows):,} hour rows, {len(points):,} raw points (1 day, 10 s)")
        for label, begin, finish in (("month from hour tier", end - 30 * 86400, end), ("year from hour tier", start, end)):
            p50, p99 = await timed(5, lambda b=begin, f=finish: usage(backend, specs, b, f, "day", ZONE))
            print(f"{label:<28} p50 {p50:8.1f} ms   p99 {p99:8.1f} ms")
        p50, p99 = await timed(5, lambda: backend.read_tier("hour", ids, start, end))
        print(f"{'  of which reading the year':<28} p50 {p50:8.1f} ms   p99 {p99:8.1f} ms   (the backend's read_tier)")
        p50, p99 = await timed(5, lambda: usage(backend, specs, raw_start, raw_start + 86400, "day", ZONE))
        print(f"{'day from raw points':<28} p50 {p50:8.1f} ms   p99 {p99:8.1f} ms")
        await backend.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=20)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    asyncio.run(main(args.meters, args.days))
