"""The downsampler's memory burst: one run over five minutes of 1,000 sensors at 5 readings/s.

    .venv/bin/python bench/downsample_burst.py                      # 4 runs each, A/B alternating
    .venv/bin/python bench/downsample_burst.py --points-per-read 10000 1000000 --repeat 3

What the memory soak (bench/memory_soak.py) steps up by when the downsampler reads a full
five-minute bucket at 5,000 readings/s: Python's allocator keeps an arena while one object in it
lives, and in a hub the ingest's objects land in the arenas a read's burst made, so RSS stays at
the burst's peak. Each run is a fresh process on a copy of one SQLite store (1,500,000 raw
points), with tiers.POINTS_PER_READ set as given (1,000,000: groups of ENTITY_GROUP entities, as
before the bound). Prints per run the peak of Python's arenas during the run (MB, highwater
minus the start), the peak RSS over the start, the wall and CPU time of the run, and the reads;
then the median per setting. The runs alternate, so a machine loaded by others weighs on both.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
sys.path.insert(0, os.path.dirname(_HERE))
sys.path.append(_HERE)

from _rss import peak_rss_mb, reset_peak_rss, rss_mb  # noqa: E402

from hub.recorder import tiers  # noqa: E402
from hub.recorder.backends.base import Batch, Point  # noqa: E402
from hub.recorder.backends.sqlite import SQLiteBackend  # noqa: E402

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
SENSORS = 1000
PER_SECOND = 5  # readings per sensor per second: 5,000 readings/s in all
SECONDS = 300


def arenas() -> dict[str, int]:
    """Return Python's arena counts (sys._debugmallocstats): "current" and "highwater"."""
    with tempfile.TemporaryFile() as out:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(out.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        text = out.read()
    found = {}
    for key, label in (("current", b"allocated current"), ("highwater", b"highwater mark")):
        match = re.search(rb"# arenas " + label + rb"\s*=\s*([\d,]+)", text)
        found[key] = int(match.group(1).replace(b",", b"")) if match else 0
    return found


async def build(path: Path) -> None:
    """Write five minutes of SENSORS sensors at PER_SECOND readings/s, from T0."""
    backend = SQLiteBackend(path)
    await backend.open()
    try:
        step = 1 / PER_SECOND
        for second in range(0, SECONDS, 10):
            points = [Point(f"sensor.bench_{i}", T0 + second + k * step + i / 1e6, float((i + k) % 97), None)
                      for k in range(10 * PER_SECOND) for i in range(SENSORS)]
            await backend.write(Batch(points))
    finally:
        await backend.close()


async def one_run(path: Path, points_per_read: int) -> dict:
    tiers.POINTS_PER_READ = points_per_read
    backend = SQLiteBackend(path)
    await backend.open()
    reads: list[int] = []
    read_states = backend.read_states

    async def counted(entity_ids, start, end, *, include_start=False):  # type: ignore[no-untyped-def]
        found = await read_states(entity_ids, start, end, include_start=include_start)
        reads.append(sum(map(len, found.values())))
        return found

    backend.read_states = counted  # type: ignore[method-assign]
    state = path.parent / "tiers.json"
    state.write_text(json.dumps({"fifteen_second": T0, "minute": T0, "five_minute": T0, "hour": T0}))
    downsampler = tiers.Downsampler(backend, tiers.RetentionPlan(), state, lambda: T0 + SECONDS + 5)
    await backend.entities_between(T0, T0 + SECONDS)  # the reader's connection opened before the start
    start_arenas, start_rss = arenas()["current"], rss_mb()
    reset_peak_rss()
    began, cpu = time.perf_counter(), time.process_time()
    written = await downsampler.downsample()
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    result = {"arena_peak_mb": arenas()["highwater"] - start_arenas, "rss_peak_mb": peak_rss_mb() - start_rss,
              "wall_s": wall, "cpu_s": cpu, "reads": len(reads), "largest_read": max(reads), "rows": written}
    await backend.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points-per-read", type=int, nargs="+", default=[tiers.POINTS_PER_READ, 1_000_000])
    parser.add_argument("--repeat", type=int, default=4)
    parser.add_argument("--run", metavar="DB", help=argparse.SUPPRESS)  # one run in this process
    args = parser.parse_args()
    if args.run:
        print(json.dumps(asyncio.run(one_run(Path(args.run), args.points_per_read[0]))))
        return
    print(f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    results: dict[int, list[dict]] = {n: [] for n in args.points_per_read}
    with tempfile.TemporaryDirectory(prefix="bench-downsample-") as tmp:
        template = Path(tmp) / "template.db"
        began = time.perf_counter()
        asyncio.run(build(template))
        print(f"{SENSORS * PER_SECOND * SECONDS:,} raw points written in {time.perf_counter() - began:.1f} s", flush=True)
        for round_ in range(args.repeat):
            for n in args.points_per_read:
                run_dir = Path(tmp) / f"run-{round_}-{n}"
                run_dir.mkdir()
                shutil.copy(template, run_dir / "history.db")
                out = subprocess.run([sys.executable, __file__, "--run", str(run_dir / "history.db"),
                                      "--points-per-read", str(n)], capture_output=True, text=True, check=True)
                result = json.loads(out.stdout.strip().splitlines()[-1])
                results[n].append(result)
                print(f"  POINTS_PER_READ {n:>9,}: Python arenas +{result['arena_peak_mb']} MB at the peak, "
                      f"RSS peak +{result['rss_peak_mb']:.1f} MB, {result['wall_s']:.2f} s wall, "
                      f"{result['cpu_s']:.2f} s CPU, {result['reads']} reads (largest {result['largest_read']:,} "
                      f"points), {result['rows']:,} rows", flush=True)
                shutil.rmtree(run_dir)
    for n, runs in results.items():
        def median(key: str, runs: list[dict] = runs) -> float:
            return statistics.median(r[key] for r in runs)

        print(f"median POINTS_PER_READ {n:>9,}: arenas +{median('arena_peak_mb'):.0f} MB, RSS peak "
              f"+{median('rss_peak_mb'):.1f} MB, {median('wall_s'):.2f} s wall, {median('cpu_s'):.2f} s CPU")
    print(f"load average at the end {', '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main()
