"""PostgreSQL history of many homes in one process: connections held, and ingest across the homes.

Run: .venv/bin/python bench/history_pool.py [--homes 100] [--rounds 2] [--points 200000]

Each round, in one process and on one PostgreSQL (the Debian package, started as the tests start
it, on a free port), interleaved:
- "per home": every home's history backend with a pool of its own (how homes opened history
  before one pool per URL; on a tree without hub/recorder/backends/pg_pool.py, the only way);
- "shared": the homes' backends sharing the process's pool for the URL.
For each: the time to open the homes' history, the connections PostgreSQL counts for the
database (pg_stat_activity) after opening and at the end of the ingest, and the ingest rate:
every home writes a batch of its 20 entities' readings once per "second" (as the recorder
commits), all homes at once, for 20 rounds; points/s across the homes, zero loss checked.
Then one home's backend.write() of --points points in 10,000-point batches (bench/recorder.py's
PostgreSQL figure: state -> history throughput of one home).

The file runs unchanged against an older tree (copy it into that tree's bench/): it uses what
the tree's PostgresBackend accepts.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import statistics
import sys
import time
from typing import Any

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
sys.path.insert(0, os.path.dirname(_HERE))

import asyncpg  # noqa: E402

from hub.core.scope import HomeScope  # noqa: E402
from hub.recorder.backends.base import Batch, Point  # noqa: E402
from hub.recorder.backends.postgres import PostgresBackend  # noqa: E402

ENTITIES = [f"sensor.meter_{i}_power" for i in range(20)]
SHARED = "pools" in inspect.signature(PostgresBackend).parameters


def start_postgres() -> Any:
    from tests import servers

    if not servers._find_postgres_bindir():
        raise SystemExit("PostgreSQL is not installed (apt-get install postgresql)")
    return servers.launch_postgres("bench-pool-pg-")


POOL_SIZE: dict[str, int] = {}


def backend_of(url: str, home: int, shared: bool) -> PostgresBackend:
    scope = HomeScope("bench", f"home{home}")
    if not SHARED:
        return PostgresBackend(url, scope=scope, drop_partitions=False)  # type: ignore[call-arg]
    from hub.recorder.backends.pg_pool import POOLS, PoolRegistry

    if not shared:  # as before: the backend's own pool of the size it always had
        return PostgresBackend(url, scope=scope, plan="free", pools=PoolRegistry(), pool_size=4)
    return PostgresBackend(url, scope=scope, plan="free", pools=POOLS, **POOL_SIZE)


async def connections(pg: Any, database: str) -> int:
    conn = await asyncpg.connect(pg.dsn)
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'", database
        )
        return count
    finally:
        await conn.close()


async def homes_round(pg: Any, homes: int, shared: bool) -> dict[str, float]:
    database = pg.create_database()
    url = pg.url(database)
    backends = [backend_of(url, n, shared) for n in range(homes)]
    began = time.perf_counter()
    for backend in backends:  # one after another, as a host starts them eight at a time at most
        await backend.open()
    opened = time.perf_counter() - began
    after_open = await connections(pg, database)
    start = time.time() - 60
    seconds = 20
    began = time.perf_counter()
    for second in range(seconds):
        await asyncio.gather(*(
            backend.write(Batch([Point(e, start + second, 230.0 + n, None) for e in ENTITIES]))
            for n, backend in enumerate(backends)
        ))
    elapsed = time.perf_counter() - began
    at_end = await connections(pg, database)
    stored = 0
    for backend in backends:
        found = await backend.read_states(None, start - 1, start + seconds)
        stored += sum(len(v) for v in found.values())
    for backend in backends:
        await backend.close()
    points = homes * seconds * len(ENTITIES)
    return {"open_s": opened, "conn_open": after_open, "conn_end": at_end, "rate": points / elapsed,
            "lost": points - stored}


async def one_home(pg: Any, points: int) -> float:
    url = pg.url(pg.create_database())
    backend = backend_of(url, 0, True)
    await backend.open()
    start = time.time() - points // 10 - 60
    work = [Point(ENTITIES[i % 10], start + i // 10, 230.0 + (i % 97) * 0.5, None) for i in range(points)]
    began = time.perf_counter()
    for i in range(0, points, 10_000):
        await backend.write(Batch(work[i : i + 10_000]))
    elapsed = time.perf_counter() - began
    found = await backend.read_states(None, start - 1, start + points)
    await backend.close()
    if sum(len(v) for v in found.values()) != points:
        raise SystemExit("points were lost")
    return points / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--homes", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--points", type=int, default=200_000)
    parser.add_argument("--pool-size", type=int, help="the shared pool's connections (default: the backend's)")
    args = parser.parse_args()
    if args.pool_size:
        POOL_SIZE["pool_size"] = args.pool_size
    pg = await asyncio.to_thread(start_postgres)
    try:
        print(f"{args.homes} homes x {len(ENTITIES)} entities, PostgreSQL history "
              f"({'pool per URL available' if SHARED else 'tree without shared pools'})")
        results: dict[str, list[dict[str, float]]] = {"per home": [], "shared": []}
        for _ in range(args.rounds):
            for mode in ("per home", "shared") if SHARED else ("per home",):
                results[mode].append(await homes_round(pg, args.homes, mode == "shared"))
        for mode, runs in results.items():
            if not runs:
                continue
            med = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
            print(f"  {mode:<9} open {med['open_s']:6.2f} s   connections after open {med['conn_open']:4.0f}, "
                  f"after ingest {med['conn_end']:4.0f}   ingest {med['rate']:9,.0f} points/s across homes   "
                  f"lost {med['lost']:.0f}")
        rates = [await one_home(pg, args.points) for _ in range(args.rounds)]
        print(f"  one home  backend.write {statistics.median(rates):9,.0f} points/s  ({args.points:,} points, zero loss)")
    finally:
        await asyncio.to_thread(pg.close)


if __name__ == "__main__":
    asyncio.run(main())
