"""Recorder benchmark: write throughput per history backend, and history/statistics query latency.

Run: .venv/bin/python bench/recorder.py [--points 200000] [--skip-servers] [--queries-only]

Figures printed:
- points/s of backend.write() in 10,000-point batches, per backend (SQLite, PostgreSQL,
  InfluxDB 1.x), with zero loss checked by counting what reads back
- points/s end to end: hub.states.set() -> recorder (spool fsync) -> SQLite, counted likewise
- latency (p50/max of 5) of a 1-day history query of 10 entities written at 1 Hz (864,000
  points), as the charts ask for it (minimal_response, no_attributes): from SQLite to the
  JSON bytes of Home Assistant's compressed WebSocket shape, cold (every point read and
  encoded), without the span cache, and asked again (past five-minute spans spliced from the
  cache); beside it the CPython floor, orjson.dumps of the same answer already built
- latency of a 30-day hourly statistics query (10 entities) from the hour tier, JSON encoded
PostgreSQL and InfluxDB run from the Debian packages on free ports, as the tests start them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
sys.path.insert(0, os.path.dirname(_HERE))

import orjson  # noqa: E402

from hub.api import ws_messages as messages  # noqa: E402
from hub.core.hub import Hub, HubConfig  # noqa: E402
from hub.recorder import compressed, history  # noqa: E402
from hub.recorder.backends.base import Batch, HistoryBackend, Point, TierRow  # noqa: E402
from hub.recorder.backends.sqlite import SQLiteBackend  # noqa: E402
from hub.recorder.history_cache import HistoryCache, cached_history  # noqa: E402
from hub.recorder.recorder import Recorder  # noqa: E402
from hub.recorder.spool import Spool  # noqa: E402

ENTITIES = [f"sensor.meter_{i}_power" for i in range(10)]
DAY = 86400


def batches(points: int, start: float, size: int = 10_000) -> list[Batch]:
    out = []
    rows = [Point(ENTITIES[i % 10], start + i // 10, 230.0 + (i % 97) * 0.5, None) for i in range(points)]
    for i in range(0, points, size):
        out.append(Batch(rows[i : i + size]))
    return out


async def write_throughput(name: str, backend: HistoryBackend, points: int) -> None:
    start = time.time() - points // 10 - 60
    work = batches(points, start)
    began = time.perf_counter()
    for batch in work:
        await backend.write(batch)
    elapsed = time.perf_counter() - began
    found = await backend.read_states(None, start - 1, start + points)
    stored = sum(len(v) for v in found.values())
    verdict = "zero loss" if stored == points else f"LOST {points - stored}"
    print(f"  {name:<12} backend.write  {points / elapsed:>10,.0f} points/s   ({points:,} points, {verdict})")


async def end_to_end(folder: Path, points: int) -> None:
    hub = Hub(HubConfig(data_dir=folder))
    backend = SQLiteBackend(folder / "e2e.db")
    await backend.open()
    recorder = Recorder(hub, backend, Spool(folder / "spool"), commit_interval=1.0, max_batch=20_000)
    await recorder.start(backlog_sensor=False)
    t0 = 1_000_000.0
    began = time.perf_counter()
    for i in range(points):
        hub.states.set(ENTITIES[i % 10], str(i), timestamp=t0 + i * 0.001)
        if i % 5000 == 0:
            await asyncio.sleep(0)
    await recorder.flush(timeout=120)
    elapsed = time.perf_counter() - began
    found = await backend.read_states(None, 0, 1e12)
    stored = sum(len(v) for v in found.values())
    verdict = "zero loss" if stored == points else f"LOST {points - stored}"
    print(f"  {'sqlite':<12} end to end     {points / elapsed:>10,.0f} points/s   (states.set -> spool -> db, {verdict})")
    await recorder.stop()
    await hub.stop()


async def _now(func: Callable[..., Any], *args: Any) -> Any:
    return func(*args)


async def timed(label: str, func: Callable[[], Awaitable[Any]], target_ms: float, runs: int = 5) -> None:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        await func()
        times.append((time.perf_counter() - began) * 1000)
    p50 = statistics.median(times)
    verdict = "ok" if p50 < target_ms else "OVER TARGET"
    print(f"  {label:<48} p50 {p50:8.1f} ms  max {max(times):8.1f} ms  (target < {target_ms:.0f} ms: {verdict})")


async def queries(folder: Path) -> None:
    backend = SQLiteBackend(folder / "query.db")
    await backend.open()
    # The chart's "last 24 hours" at half past: partial hours at both ends, the newest live.
    now = time.time() // 3600 * 3600 - 1800
    end = now
    start = end - DAY
    for batch in batches((DAY + 3600) * 10, start - 1800, size=50_000):
        await backend.write(batch)
    end_h = end // 3600 * 3600
    hours = [
        TierRow(e, end_h - 30 * DAY + h * 3600, 230.0, 220.0, 240.0, 231.0, 0.5, 3600)
        for e in ENTITIES
        for h in range(30 * 24)
    ]
    await backend.write_tier("hour", hours)

    async def history_bytes(entity_ids: list[str], cache: HistoryCache | None = None) -> bytes:
        # What history/history_during_period sends for the charts (minimal_response,
        # no_attributes, significant changes only): from SQLite to the JSON bytes of Home
        # Assistant's compressed shape. A new cache each time: every span read and encoded.
        cache = HistoryCache() if cache is None else cache
        return await cached_history(cache, backend, entity_ids, start, end, now, None, include_start=True)

    async def day_history() -> Any:
        return await history_bytes(ENTITIES)

    async def day_history_one() -> Any:
        return await history_bytes(ENTITIES[:1])

    async def day_history_uncached() -> Any:
        points = await compressed.read_points(backend, None, ENTITIES, start, end, include_start=True)
        return await asyncio.to_thread(
            compressed.encode, points, None, start, significant_changes_only=True, minimal_response=True
        )

    warm = HistoryCache()

    async def day_history_warm() -> Any:
        # The chart asked again (a reload, another viewer): past spans come encoded.
        return await history_bytes(ENTITIES, warm)

    async def month_statistics() -> Any:
        found = await history.statistics_during_period(backend, ENTITIES, end_h - 30 * DAY, end_h, "hour")
        return messages.dumps(found)

    # The floor in CPython: encoding an answer of the same shape that is already built.
    answer = orjson.loads(await day_history())
    points = sum(len(rows) for rows in answer.values())
    await timed(f"floor: orjson.dumps of the built answer ({points:,} rows)", lambda answer=answer: _now(orjson.dumps, answer), 100)
    fetch = [(r["lu"], r["s"]) for rows in answer.values() for r in rows]
    await timed("floor: orjson.dumps of (ts, state) tuples", lambda fetch=fetch: _now(orjson.dumps, fetch), 100)
    del answer, fetch
    await timed("history 1 day, 1 Hz, 10 entities (864,000 pts)", day_history, 100)
    await timed("  same, without the span cache", day_history_uncached, 100)
    await day_history_warm()
    await timed("  same, asked again (past spans cached)", day_history_warm, 100)
    await timed("history 1 day, 1 Hz, 1 entity (86,400 pts)", day_history_one, 100)
    await timed("statistics 30 days hourly, 10 entities", month_statistics, 50)
    await backend.close()


def start_servers() -> tuple[Any, Any]:
    from tests import servers

    pg = influx = None
    if servers._find_postgres_bindir():
        pg = servers.launch_postgres("bench-recorder-pg-")
    binary = servers._find_binary("influxd")
    if binary:
        owner = servers._service_user("influxdb")
        influx = servers.InfluxDBServer(
            binary, servers._make_tempdir("hub-influx-", owner), owner, servers.free_port(), servers.free_port()
        )
        influx.write_config()
        influx.start()
    return pg, influx


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=200_000)
    parser.add_argument("--skip-servers", action="store_true")
    parser.add_argument("--queries-only", action="store_true", help="only the query latencies")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.queries_only:
            print("Query latency (SQLite)")
            await queries(folder)
            return
        print("Write throughput")
        sqlite = SQLiteBackend(folder / "write.db")
        await sqlite.open()
        await write_throughput("sqlite", sqlite, args.points)
        await sqlite.close()
        pg = influx = None
        if not args.skip_servers:
            pg, influx = await asyncio.to_thread(start_servers)
        try:
            if pg is not None:
                from hub.recorder.backends.postgres import PostgresBackend

                backend: HistoryBackend = PostgresBackend(pg.url(pg.create_database()))
                await backend.open()
                await write_throughput("postgresql", backend, args.points)
                await backend.close()
            if influx is not None:
                from hub.recorder.backends.influx_v1 import InfluxV1Backend

                backend = InfluxV1Backend(influx.url, "bench")
                await backend.open()
                await write_throughput("influxdb 1.x", backend, args.points)
                await backend.close()
        finally:
            for server in (pg, influx):
                if server is not None:
                    await asyncio.to_thread(server.close)
        await end_to_end(folder, args.points)
        print("Query latency (SQLite)")
        await queries(folder)


if __name__ == "__main__":
    asyncio.run(main())
