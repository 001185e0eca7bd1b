"""Chart query benchmark: decimated history (history/chart) of 10 entities, 1 hour to 1 year, cold and warm.

Run: .venv/bin/python bench/history_query.py [--rate 5] [--points 300] [--db PATH] [--before no-fifteen|no-minute|walked|page|previous|none]
     .venv/bin/python bench/history_query.py --backend postgresql --rate 1 --raw-days 1 [--explain] [--before previous|unplanned|per-row-policy]
     .venv/bin/python bench/history_query.py --backend influxdb --rate 1 --raw-days 1

Seeds (or reuses, with --db, SQLite only) a history of 10 power sensors as a year of the default
plan leaves it: the day tier for 5 years, the hour tier for 365 days, the 5-minute tier for 30 days, raw points every
`--rate` seconds and the 15-second and minute tiers for the last `--raw-days` (7) days. PostgreSQL and InfluxDB run as
throwaway servers (tests/servers.py). Then, for each range (1 h and 2.5 h: 15 s and 30 s buckets for 300 points,
from the 15-second tier; 4 h, 1 d, 7 d, 30 d, 365 d ending now), prints the latency
of the command's whole answer (read, bucket, JSON) with a chart's `points`: "after" as
history/chart answers (the coarsest tier dividing the width, raw points summed up per bucket in
the database where the backend can for the newest minutes), "before" one of: each backend's raw
buckets as they were read before (--before previous: PostgreSQL's windowed GROUP BY, InfluxDB's
Samples), PostgreSQL on connections that plan nothing ahead (--before unplanned), PostgreSQL on a second
database seeded alike whose home policy reads the home's settings on every row (--before per-row-policy), the same command
without the 15-second tier (--before no-fifteen, the default: raw points for every width under a minute, as before
that tier existed) or without it and the minute tier (--before no-minute: raw points for every width under 5
minutes), every raw point read and bucketed in Python (walked, as history/chart
did before the sums moved to the backends), what the History page asked for before that (page,
every change through history_during_period); interleaved in one run: cold is the median of
three first queries of that range on freshly opened backends, before and after taking turns to go
first (SQLite's own page cache empty; the OS file cache and PostgreSQL's shared buffers are not
dropped), warm the median of 5 repeats. The last column names the tiers one history/chart query
read and how many rows each gave (raw buckets: raw points summed up per bucket by the backend).
With --explain (PostgreSQL), each range's raw part is also run under EXPLAIN (ANALYZE, BUFFERS) on a
fresh connection, and the plan's scan lines are printed (an index-only scan shows "Heap Fetches").
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import math
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
sys.path.insert(0, os.path.dirname(_HERE))

from bench._rss import tree_cpu_seconds  # noqa: E402 - after the path
from hub.recorder import compressed  # noqa: E402
from hub.recorder.backends.base import Batch, HistoryBackend, Partial, Point, TierRow  # noqa: E402
from hub.recorder.backends.sqlite import SQLiteBackend  # noqa: E402
from hub.recorder.buckets import Coverage, query_buckets, width_for  # noqa: E402
from hub.recorder.chart import chart_json  # noqa: E402
from hub.recorder.tiers import RetentionPlan  # noqa: E402

ENTITIES = [f"sensor.meter_{i}_power" for i in range(10)]
DAY = 86400.0
RANGES = {"1 h": 3600.0, "2.5 h": 2.5 * 3600.0, "4 h": 4 * 3600.0, "1 d": DAY, "7 d": 7 * DAY, "30 d": 30 * DAY, "365 d": 365 * DAY}


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


async def seed(backend: HistoryBackend, now: float, rate: float, raw_days: float) -> None:
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
    for tier, width in (("fifteen_second", 15), ("minute", 60)):
        tier_end = now // width * width
        for day in range(math.ceil(raw_days), 0, -1):
            a = max(tier_end - day * DAY, tier_end - raw_days * DAY)
            await backend.write_tier(tier, _tier_rows(tier, width, a, min(a + DAY, tier_end)))
    ts, end = now - raw_days * DAY, now
    while ts < end:
        chunk_end = min(ts + 3 * 3600, end)
        points = []
        t = ts
        while t < chunk_end:
            points.extend(Point(e, t, _watts(i, t), None) for i, e in enumerate(ENTITIES))
            t += rate
        await backend.write(Batch(points))
        ts = chunk_end
    if backend.name == "postgresql":
        # A database in use has been through autovacuum (statistics, the visibility map that
        # index-only scans need); a freshly seeded one has not. The tables' owner may vacuum them.
        tables = "history_raw, history_fifteen_second, history_minute, history_five_minute, history_hour, history_day"
        await backend._call_writing(lambda conn: conn.execute(f"VACUUM ANALYZE {tables}"))  # type: ignore[attr-defined]  # noqa: SLF001
    await backend.close()
    print(f"seeded {backend.name} in {time.perf_counter() - began:.1f} s")


def _count_reads(backend: HistoryBackend) -> dict[str, int]:
    """Count the rows each tier (and raw points summed up per bucket) gives the backend's next queries."""
    reads: dict[str, int] = {}

    def counted(method: Any, label: Any) -> Any:
        async def call(*args: Any, **kwargs: Any) -> Any:
            found = await method(*args, **kwargs)
            key = label(args)
            reads[key] = reads.get(key, 0) + sum(len(rows) for rows in found.values())
            return found
        return call

    backend.read_tier = counted(backend.read_tier, lambda args: args[0])  # type: ignore[method-assign]
    backend.aggregate_points = counted(backend.aggregate_points, lambda args: "raw buckets")  # type: ignore[method-assign]
    return reads


async def timed(backend: HistoryBackend, coverage: Coverage, span: float, now: float, points: int) -> tuple[float, int]:
    began = time.perf_counter()
    answer = await chart_json(backend, coverage, ENTITIES, now - span, now, points)
    return (time.perf_counter() - began) * 1000, len(answer)


async def timed_walked(backend: HistoryBackend, coverage: Coverage, span: float, now: float, points: int) -> tuple[float, int]:
    """history/chart before: every raw point read and bucketed in Python (query_buckets with deltas)."""
    began = time.perf_counter()
    found = await query_buckets(backend, ENTITIES, now - span, now, width_for(now - span, now, points), coverage)
    size = sum(len(rows) for rows in found.series.values())
    return (time.perf_counter() - began) * 1000, size


async def timed_page(backend: HistoryBackend, plan: RetentionPlan, span: float, now: float) -> tuple[float, int]:
    """What the History page asked before: every change (minimal_response, no attributes), tier means when old."""
    began = time.perf_counter()
    found = await compressed.read_points(backend, plan, ENTITIES, now - span, now, include_start=True, now=now)
    body = await asyncio.to_thread(compressed.encode, found, None, now - span, significant_changes_only=False,
                                   minimal_response=True)
    return (time.perf_counter() - began) * 1000, len(body)


async def explain(backend: HistoryBackend, coverage: Coverage, span: float, now: float, points: int) -> list[str]:
    """Return the scan lines of EXPLAIN (ANALYZE, BUFFERS) of the raw part of one chart query (PostgreSQL)."""
    from hub.recorder.backends import postgres

    assert isinstance(backend, postgres.PostgresBackend)
    start, width = now - span, width_for(now - span, now, points)
    raw_start = start // width * width if width < 15 else coverage.minute_until
    raw_end = -(-now // width) * width
    ids = [backend._ids[e] for e in ENTITIES]  # noqa: SLF001 - a benchmark looks inside
    stamps = (datetime.fromtimestamp(raw_start, UTC), datetime.fromtimestamp(raw_end, UTC))

    async def plan(conn: Any) -> list[str]:
        rows = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {postgres._CHART_POINTS_SQL}", *stamps, ids)  # noqa: SLF001
        return [row[0] for row in rows]

    lines = await backend._call(plan)  # noqa: SLF001
    wanted = ("Scan", "Heap Fetches", "Sort", "Execution Time", "Planning Time", "Append", "WindowAgg", "Aggregate")
    return [line.rstrip() for line in lines if any(word in line for word in wanted)]


# PostgreSQL's raw buckets before they were read as arrays: summed up in one windowed GROUP BY.
_WINDOWED_SQL = """
SELECT entity, bucket, count(*)::int, min(value), max(value), min(t),
       sum(value * (least(coalesce(next, bucket + $4), bucket + $4) - t)),
       max(CASE WHEN next IS NULL OR next >= bucket + $4 THEN value END)
FROM (SELECT entity, t, value, floor(t / $4) * $4 AS bucket, lead(t) OVER (PARTITION BY entity ORDER BY ts) AS next
      FROM (SELECT entity, ts, date_part('epoch', ts) AS t, value FROM history_raw
            WHERE entity = ANY($3::int[]) AND ts >= to_timestamp($1) AND ts < to_timestamp($2)
            AND value IS NOT NULL) p) q
GROUP BY entity, bucket ORDER BY entity, bucket
"""


async def _plan_nothing(conn: Any) -> None:
    del conn


async def _renew_nothing(conn: Any) -> None:
    del conn


_PER_ROW = "tenant_id = current_setting('app.tenant_id', true) AND home_id = current_setting('app.home_id', true)"


async def per_row_policies(url: str) -> None:
    """Give a database's history tables the home policy as it was: the settings read on every row."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        for (table,) in await conn.fetch("SELECT tablename FROM pg_policies WHERE policyname = 'home_isolation'"):
            await conn.execute(f"ALTER POLICY home_isolation ON {table} USING ({_PER_ROW}) WITH CHECK ({_PER_ROW})")
    finally:
        await conn.close()


def per_row_policy_backend(backend: HistoryBackend) -> HistoryBackend:
    """A PostgreSQL backend that keeps the policy it finds (--before per-row-policy: the one as it was)."""
    opened = backend.open

    async def open_as_found() -> None:
        from hub.recorder.backends.postgres import PostgresBackend

        renew = PostgresBackend.__dict__["_renew_policies"]  # the staticmethod itself
        PostgresBackend._renew_policies = staticmethod(_renew_nothing)  # type: ignore[method-assign]
        try:
            await opened()
        finally:
            PostgresBackend._renew_policies = renew  # type: ignore[method-assign]

    backend.open = open_as_found  # type: ignore[method-assign]
    return backend


def unplanned_backend(backend: HistoryBackend) -> HistoryBackend:
    """The same PostgreSQL backend on connections that plan nothing ahead (--before unplanned)."""
    opened = backend.open

    async def open_unwarmed() -> None:
        # Its connections plan nothing ahead: the first query of each pays the catalog.
        from hub.recorder.backends import postgres

        warm = postgres.warm_chart_queries
        postgres.warm_chart_queries = _plan_nothing  # type: ignore[assignment]
        try:
            await opened()
        finally:
            postgres.warm_chart_queries = warm

    backend.open = open_unwarmed  # type: ignore[method-assign]
    return backend


def previous_backend(backend: HistoryBackend) -> HistoryBackend:
    """The same backend summing raw points up per bucket as before (--before previous)."""
    if backend.name == "postgresql":

        async def windowed(entity_ids: Any, start: float, end: float, width: float) -> dict[str, list[Partial]]:
            async def run(conn: Any) -> dict[str, list[Partial]]:
                await backend._refresh(conn)  # type: ignore[attr-defined]  # noqa: SLF001
                ids = backend._filter(list(entity_ids))  # type: ignore[attr-defined]  # noqa: SLF001
                out: dict[str, list[Partial]] = {}
                for entity, *row in await conn.fetch(_WINDOWED_SQL, start, end, ids, width) if ids else []:
                    out.setdefault(backend._names[entity], []).append(Partial(*row))  # type: ignore[attr-defined]  # noqa: SLF001
                return out

            return await backend._call(run)  # type: ignore[attr-defined, no-any-return]  # noqa: SLF001

        backend.aggregate_points = windowed  # type: ignore[method-assign]
        unplanned_backend(backend)
    elif backend.name == "influxdb":
        # Every point read as a Sample, then summed up with numpy (the base class's way).
        backend.aggregate_points = HistoryBackend.aggregate_points.__get__(backend)  # type: ignore[method-assign]
    return backend


class Servers:
    """Throwaway PostgreSQL and InfluxDB servers (as the tests start them), and backends on them."""

    def __init__(self, kind: str) -> None:
        from tests import servers

        self.kind = kind
        self.server: Any = None
        if kind == "postgresql":
            self.server = servers.launch_postgres("bench-pg-")
            database = self.server.create_database()
            # As a hub serves history: a role that owns the tables but is neither superuser nor
            # exempt from row-level security, so every chart query checks the home's policy.
            servers.pg_simple_query(self.server.host, self.server.port, self.server.user, database,
                                    "CREATE ROLE hub_bench LOGIN NOSUPERUSER NOBYPASSRLS")
            self.url = self.twin(database)
        elif kind == "influxdb":
            binary = servers._find_binary("influxd")
            assert binary is not None, "InfluxDB is not installed"
            owner = servers._service_user("influxdb")
            http_port, rpc_port = servers.free_port(), servers.free_port()
            self.server = servers.InfluxDBServer(binary, servers._make_tempdir("bench-influx-", owner), owner, http_port, rpc_port)
            self.server.write_config()
            self.server.start()
            self.url = self.server.url

    def twin(self, database: str | None = None) -> str:
        """Return the URL of a database (a new one unless named) that hub_bench may make its tables in."""
        from tests import servers

        database = database or self.server.create_database()
        servers.pg_simple_query(self.server.host, self.server.port, self.server.user, database,
                                "GRANT CREATE, USAGE ON SCHEMA public TO hub_bench")
        return self.server.url(database).replace(f"{self.server.user}@", "hub_bench@", 1)

    def backend(self, path: Path, *, heap: bool = False, url: str | None = None) -> HistoryBackend:
        if self.kind == "postgresql":
            from hub.recorder.backends.pg_pool import PoolRegistry
            from hub.recorder.backends.postgres import PostgresBackend

            # Each backend on a pool of its own, so that every cold query is a fresh connection's
            # first. heap: sessions that may not use index-only scans (asyncpg passes the setting on).
            url = url or self.url
            return PostgresBackend(f"{url}?enable_indexonlyscan=off" if heap else url, pools=PoolRegistry())
        if self.kind == "influxdb":
            from hub.recorder.backends.influx_v1 import InfluxV1Backend

            return InfluxV1Backend(self.url, "bench_history")
        return SQLiteBackend(path)

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "influxdb"), default="sqlite")
    parser.add_argument("--rate", type=float, default=5.0, help="seconds between raw points per sensor")
    parser.add_argument("--raw-days", type=float, default=7.0, help="days of raw points seeded (7: raw retention)")
    parser.add_argument("--points", type=int, default=300, help="the chart's points per series")
    parser.add_argument("--ranges", default=",".join(RANGES), help=f"comma-separated ranges of {', '.join(RANGES)}")
    parser.add_argument("--cold-repeats", type=int, default=3, help="cold queries per range (fresh backends each)")
    parser.add_argument("--db", type=Path, help="reuse (or create) this seeded SQLite database")
    parser.add_argument("--before", choices=("no-fifteen", "no-minute", "walked", "page", "heap", "previous", "unplanned",
                                             "per-row-policy", "none"),
                        default="no-fifteen",
                        help="what to time beside history/chart: the same without the 15-second tier (no-fifteen), "
                             "without it and the minute tier (no-minute), "
                             "every raw point bucketed in Python (walked), the History page's old query (page), "
                             "PostgreSQL without index-only scans (heap: each raw point read from its table, as "
                             "before history_raw_chart), each backend's raw buckets as before they were read as arrays "
                             "(previous: PostgreSQL's windowed GROUP BY on connections not planned ahead, InfluxDB's "
                             "Samples), PostgreSQL on connections that plan nothing ahead (unplanned), PostgreSQL on a "
                             "second database alike whose home policy reads the settings on every row (per-row-policy), or nothing")
    parser.add_argument("--explain", action="store_true", help="PostgreSQL: print each range's raw-part query plan")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench_history_"))
    path = args.db or folder / "history.db"
    servers = Servers(args.backend)
    try:
        await run(args, servers, path)
    finally:
        servers.close()


async def run(args: argparse.Namespace, servers: Servers, path: Path) -> None:
    now = time.time()
    if args.backend != "sqlite" or not path.exists():
        await seed(servers.backend(path), now, args.rate, args.raw_days)
    else:
        now = os.path.getmtime(path)
    twin = None
    if args.before == "per-row-policy":
        assert args.backend == "postgresql", "--before per-row-policy is PostgreSQL's"
        twin = servers.twin()
        await seed(servers.backend(path, url=twin), now, args.rate, args.raw_days)
        await per_row_policies(twin)
    coverage = Coverage(raw_from=now - 7 * DAY, fifteen_from=now - 7 * DAY, minute_from=now - 7 * DAY, five_from=now - 30 * DAY,
                        hour_from=now - 365 * DAY, fifteen_until=now // 300 * 300, minute_until=now // 300 * 300,
                        five_until=now // 300 * 300, hour_until=now // 3600 * 3600, day_until=now // DAY * DAY)
    # What history/chart had before the 15-second tier (and before the minute tier): raw points
    # answer every width under a minute (under 5 minutes).
    no_fifteen = dataclasses.replace(coverage, fifteen_from=-math.inf, fifteen_until=-math.inf)
    no_minute = dataclasses.replace(no_fifteen, minute_from=-math.inf, minute_until=-math.inf)
    plan = RetentionPlan({"raw": 7 * DAY, "fifteen_second": 7 * DAY, "minute": 7 * DAY, "five_minute": 30 * DAY,
                          "hour": 365 * DAY, "day": 5 * 365 * DAY})

    heap = args.before == "heap"

    def old() -> HistoryBackend:
        backend = servers.backend(path, heap=heap)
        if args.before == "unplanned":
            return unplanned_backend(backend)
        if args.before == "per-row-policy":
            return per_row_policy_backend(servers.backend(path, url=twin))
        return previous_backend(backend) if args.before == "previous" else backend

    async def before(backend: HistoryBackend, span: float) -> tuple[float, int]:
        if args.before in ("previous", "unplanned", "per-row-policy"):
            return await timed(backend, coverage, span, now, args.points)
        if args.before in ("no-fifteen", "no-minute", "heap"):
            without = {"no-fifteen": no_fifteen, "no-minute": no_minute}.get(args.before, coverage)
            return await timed(backend, without, span, now, args.points)
        if args.before == "walked":
            return await timed_walked(backend, coverage, span, now, args.points)
        if args.before == "page":
            return await timed_page(backend, plan, span, now)
        return 0.0, 0

    print(f"{args.backend}, 10 entities, raw every {args.rate:g} s; latency in ms. before: {args.before}; after: "
          f"history/chart with points={args.points}. cold: median of --cold-repeats first queries on freshly opened backends, "
          "before and after taking turns to go first; "
          "warm: median of 5, before and after interleaved; CPU: this process's CPU ms (all threads) of the cold "
          "query and the median of the warm ones, what a loaded machine inflates far less than latency; open: the median ms "
          "of opening a cold query's backend (connecting, the schema check, planning ahead), not in the query's figure; "
          "server: the database server's CPU ms (its processes, 10 ms ticks) per 'after' query, the mean of the cold and of the warm ones")
    print(f"{'range':>6} {'before cold':>12} {'after cold':>11} {'before warm':>12} {'after warm':>11} {'ratio warm':>11} "
          f"{'after kB':>9} {'CPU cold before/after':>22} {'CPU warm before/after':>22} {'open before/after':>16} {'server cold/warm':>16}  rows one 'after' query read")

    server_pid = servers.server.proc.pid if servers.server is not None else None
    server_cpus: dict[str, list[float]] = {"cold": [], "warm": []}

    async def cpu_timed(run: Any, kind: str | None = None) -> tuple[float, int, float]:
        cpu = time.process_time()
        server = tree_cpu_seconds(server_pid) if server_pid is not None and kind else 0.0
        took, size = await run
        if server_pid is not None and kind:
            server_cpus[kind].append((tree_cpu_seconds(server_pid) - server) * 1000)
        return took, size, (time.process_time() - cpu) * 1000

    for name in args.ranges.split(","):
        span = RANGES[name.strip()]
        # Cold: each on freshly opened backends, the order alternating between repeats (the first
        # query of a pair paid for what the second then found warm, e.g. the OS's file pages).
        colds: dict[str, list[tuple[float, float]]] = {"before": [], "after": []}
        opens: dict[str, list[float]] = {"before": [], "after": []}
        for repeat in range(args.cold_repeats):
            old_backend, new_backend = old(), servers.backend(path)
            began = time.perf_counter()
            await old_backend.open()
            opens["before"].append((time.perf_counter() - began) * 1000)
            began = time.perf_counter()
            await new_backend.open()
            opens["after"].append((time.perf_counter() - began) * 1000)
            reads = _count_reads(new_backend)
            try:
                pair = [("after", timed(new_backend, coverage, span, now, args.points)), ("before", before(old_backend, span))]
                for which, run in pair if repeat % 2 == 0 else pair[::-1]:
                    took, size_or_len, cpu = await cpu_timed(run, "cold" if which == "after" else None)
                    colds[which].append((took, cpu))
                    if which == "after":
                        size = size_or_len
            finally:
                await old_backend.close()
                await new_backend.close()
        old_backend, new_backend = old(), servers.backend(path)
        await old_backend.open()
        await new_backend.open()
        try:
            befores, afters, before_cpus, after_cpus = [], [], [], []
            for _ in range(5):
                took, _, cpu = await cpu_timed(before(old_backend, span))
                befores.append(took)
                before_cpus.append(cpu)
                took, _, cpu = await cpu_timed(timed(new_backend, coverage, span, now, args.points), "warm")
                afters.append(took)
                after_cpus.append(cpu)
        finally:
            await old_backend.close()
            await new_backend.close()
        before_cold, after_cold = (statistics.median(t for t, _ in colds[k]) for k in ("before", "after"))
        before_cold_cpu, after_cold_cpu = (statistics.median(c for _, c in colds[k]) for k in ("before", "after"))
        before_warm, after_warm = statistics.median(befores), statistics.median(afters)
        cold_cpu = f"{before_cold_cpu:.1f} / {after_cold_cpu:.1f}"
        warm_cpu = f"{statistics.median(before_cpus):.1f} / {statistics.median(after_cpus):.1f}"
        read = ", ".join(f"{what} {rows:,}" for what, rows in reads.items())
        # The server's CPU (its process and children, in 10 ms ticks: a mean, not a median).
        server_cpu = (f"{statistics.mean(server_cpus['cold']):.0f} / {statistics.mean(server_cpus['warm']):.0f}"
                      if server_cpus["cold"] else "-")
        server_cpus["cold"].clear()
        server_cpus["warm"].clear()
        opened = f"{statistics.median(opens['before']):.1f} / {statistics.median(opens['after']):.1f}"
        print(f"{name:>6} {before_cold:12.1f} {after_cold:11.1f} {before_warm:12.1f} {after_warm:11.1f} "
              f"{before_warm / after_warm:10.1f}x {size / 1e3:9.1f} {cold_cpu:>22} {warm_cpu:>22} {opened:>16} {server_cpu:>16}  {read}", flush=True)
        if args.explain and args.backend == "postgresql":
            fresh = servers.backend(path)
            await fresh.open()
            try:
                for line in await explain(fresh, coverage, span, now, args.points):
                    print(f"         {line}")
            finally:
                await fresh.close()
    print("(the machine is shared: run twice, compare ratios within one run)")


if __name__ == "__main__":
    asyncio.run(main())
