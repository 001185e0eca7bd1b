"""Full-resolution history: where a cold 1-day, 10-entity answer spends its time, and what it costs.

    .venv/bin/python bench/history_fullres.py stages [--backends sqlite postgresql] [--base DIR]
    .venv/bin/python bench/history_fullres.py blackbox --base DIR [--repeat 2]

The history is bench/blackbox.py's: 10 entities at 1 Hz over one day (864,000 points), each
with one set of attributes, written once per backend (SQLite; PostgreSQL from the Debian
package, started as the tests start it).

`stages` answers each query shape in a fresh child process (a cold backend connection, an
empty span cache), three times, and prints per shape: the first (cold) and the median of the
other two (warm) in ms, and how much the process's peak RSS grew over its RSS before the first
answer (MB). The shapes:
- scan: the database reading the same rows without handing them to Python (count and sums
  of each entity's range, on a connection of its own);
- read: backend.read_points of the 10 entities (rows from the database to Python pairs);
  read - scan is the decoding into Python objects;
- build / encode: the full rows (`{"s","a","lu"[,"lc"]}`, every point) of points already read,
  built as dicts (build: only in a tree that builds them, compressed.entity_rows) and to
  JSON bytes (encode: compressed.encode, which includes building them);
- ws-charts: history/history_during_period as the charts ask (minimal_response, no_attributes,
  every change), to the JSON bytes of the answer;
- ws-full: the same command asking for every row with attributes (significant_changes_only
  false), to JSON bytes;
- rest-full / rest-minimal: GET /api/history/period's body (every row; minimal_response);
- send: the result message around the ws-full answer and its permessage-deflate at level 1
  (what aiohttp does for a client that negotiated compression, as browsers do).
With --base DIR (a checkout of an older tree), each shape runs there too, interleaved with this
tree, in the same run: the ratio column is before / after.

`blackbox` runs bench/blackbox.py's history scenario (a fresh `hub run`, cold then warm, over a
real WebSocket, with the hub process's RSS growth during each answer) for the tree at --base
and this one, interleaved: the charts' query (minimal_response, no_attributes) and the full
one (every row with its attributes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
ENTITIES = [f"sensor.meter_{i}_power" for i in range(10)]
DAY = 86400.0
SHAPES = ["scan", "read", "build", "encode", "ws-charts", "ws-full", "rest-full", "rest-minimal", "send"]
ATTRIBUTES = '{"unit_of_measurement": "W", "device_class": "power", "state_class": "measurement", "friendly_name": "%s"}'


def watts(entity: int, ts: float) -> float:
    """bench/blackbox.py's household power series."""
    daily = 400 + 300 * math.sin(2 * math.pi * (ts % 86400) / 86400)
    return round(daily + 50 * entity + (int(ts) * 7919 + entity * 104729) % 200, 1)


async def seed(backend: Any, now: float) -> int:
    from hub.recorder.backends.base import AttributeChange, Batch, Point

    start = math.floor(now - DAY)
    changes = [AttributeChange(e, start - 60.0, ATTRIBUTES % e) for e in ENTITIES]
    written = 0
    for chunk in range(start - 60, int(now), 3600):
        points = [Point(e, float(ts), watts(i, ts), None)
                  for ts in range(chunk, min(chunk + 3600, int(now))) for i, e in enumerate(ENTITIES)]
        await backend.write(Batch(points, changes if chunk == start - 60 else []))
        written += len(points)
    return written


class Source:
    """What the history handlers use of a recorder: its backend, plan and span cache."""

    def __init__(self, backend: Any) -> None:
        from hub.recorder.history_cache import HistoryCache

        self.backend = backend
        self.plan = None
        self.history_cache = HistoryCache()

    async def flush_pending(self) -> None:
        return None


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return math.nan


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


async def child(shape: str, kind: str, url: str, now: float) -> dict[str, Any]:
    """Answer one shape three times on a fresh backend; return times (ms) and the RSS growth (MB)."""
    import zlib

    import orjson

    from hub.api import ws_messages
    from hub.recorder import api, chunked, compressed

    if kind == "sqlite":
        from hub.recorder.backends.sqlite import SQLiteBackend

        backend: Any = SQLiteBackend(Path(url))
    else:
        from hub.recorder.backends.postgres import PostgresBackend

        backend = PostgresBackend(url)
    await backend.open()
    start, end = now - DAY, now
    base = {"entity_ids": ENTITIES, "include_start_time_state": True}
    charts = {**base, "minimal_response": True, "no_attributes": True, "significant_changes_only": False}
    full = {**base, "minimal_response": False, "no_attributes": False, "significant_changes_only": False}

    async def rest(minimal: bool) -> int:
        size = 0
        async for piece in chunked.history_parts(
            backend, None, ENTITIES, start, end, include_start=True, significant_changes_only=False,
            minimal_response=minimal, no_attributes=False, now=now,
        ):
            size += len(piece)
        return size

    async def scan() -> int:
        count = 0
        if kind == "sqlite":
            import sqlite3

            conn = sqlite3.connect(url)
            for (entity,) in conn.execute("SELECT id FROM entities").fetchall():
                count += conn.execute("SELECT count(*), total(ts), total(value) FROM raw WHERE entity = ? AND ts >= ? "
                                      "AND ts < ?", (entity, start, end)).fetchone()[0]
            conn.close()
            return count
        import asyncpg

        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        for (entity,) in await conn.fetch("SELECT DISTINCT entity FROM history_raw"):
            row = await conn.fetchrow("SELECT count(*), sum(date_part('epoch', ts)), sum(value) FROM history_raw "
                                      "WHERE entity = $1 AND ts >= to_timestamp($2) AND ts < to_timestamp($3)", entity, start, end)
            count += row[0]
        await conn.close()
        return count

    async def answer() -> int:
        if shape == "scan":
            return await scan()
        if shape == "build":
            rows = [compressed.entity_rows(found, start, compressed.StateTexts(), attributes.get(e, []),
                                           significant_changes_only=False, minimal_response=False)
                    for e, found in points.items()]
            return sum(map(len, rows))
        if shape == "encode":
            return len(compressed.encode(points, attributes, start, significant_changes_only=False, minimal_response=False))
        if shape == "read":
            found = await backend.read_points(ENTITIES, start, end, include_start=True)
            return sum(len(v) for v in found.values())
        if shape == "ws-charts":
            return len(await api.history_json(source, charts, start, end))  # warm: past spans from its cache
        if shape == "ws-full":
            return len(await api.history_json(source, full, start, end))
        if shape == "rest-full":
            return await rest(False)
        if shape == "rest-minimal":
            return await rest(True)
        if shape == "send":
            message = ws_messages.result_message(1, orjson.Fragment(payload))
            deflate = zlib.compressobj(1, zlib.DEFLATED, -15)
            return len(deflate.compress(message) + deflate.flush(zlib.Z_SYNC_FLUSH))
        raise ValueError(shape)

    source = Source(backend)
    payload = b""
    points: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    if shape in ("build", "encode"):
        if shape == "build" and not hasattr(compressed, "entity_rows"):
            raise SystemExit("this tree builds no rows as dicts")
        points = await backend.read_points(ENTITIES, start, end, include_start=True)
        attributes = await backend.read_attributes(ENTITIES, start, end)
    if shape == "send":
        payload = await api.history_json(Source(backend), full, start, end)
    Path("/proc/self/clear_refs").write_text("5")  # peak RSS from here on
    before = _rss_mb()
    times, size = [], 0
    for _ in range(3):
        began = time.perf_counter()
        size = await answer()
        times.append((time.perf_counter() - began) * 1000)
        if len(times) == 1:
            grown = _peak_mb() - before
    await backend.close()
    return {"cold_ms": times[0], "warm_ms": statistics.median(times[1:]), "rss_mb": grown, "size": size}


def run_child(tree: Path, shape: str, kind: str, url: str, now: float) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    proc = subprocess.run(
        [sys.executable, str(BENCH / "history_fullres.py"), "child", shape, kind, url, repr(now)],
        env=env, capture_output=True, text=True, timeout=900, check=False, cwd=tree,
    )
    if proc.returncode:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def load() -> str:
    return "load %.2f %.2f %.2f" % os.getloadavg()


async def stages(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT))
    from hub.recorder.backends.sqlite import SQLiteBackend

    trees = [("after", ROOT)] if args.base is None else [("before", Path(args.base).resolve()), ("after", ROOT)]
    now = float(int(time.time()))
    pg = None
    with tempfile.TemporaryDirectory(prefix="bench-fullres-") as tmp:
        targets: list[tuple[str, str]] = []
        if "sqlite" in args.backends:
            path = Path(tmp) / "history.db"
            backend: Any = SQLiteBackend(path)
            await backend.open()
            written = await seed(backend, now)
            await backend.close()
            targets.append(("sqlite", str(path)))
            print(f"sqlite: {written:,} points written ({load()})", flush=True)
        if "postgresql" in args.backends:
            from hub.recorder.backends.postgres import PostgresBackend
            from tests import servers

            pg = await asyncio.to_thread(servers.launch_postgres, "bench-fullres-pg-")
            url = pg.url(pg.create_database())
            backend = PostgresBackend(url)
            await backend.open()
            written = await seed(backend, now)
            await backend.close()
            targets.append(("postgresql", url))
            print(f"postgresql: {written:,} points written ({load()})", flush=True)
        try:
            print(f"{'backend':<11} {'shape':<13} {'tree':<7} {'cold ms':>9} {'warm ms':>9} {'RSS +MB':>8} {'bytes':>12}")
            for kind, url in targets:
                for shape in args.shapes:
                    found: dict[str, dict[str, Any]] = {}
                    for _round in range(args.repeat):
                        for label, tree in trees:
                            result = await asyncio.to_thread(run_child, tree, shape, kind, url, now)
                            if "error" in result:
                                print(f"{kind:<11} {shape:<13} {label:<7} error: {result['error']}", flush=True)
                                continue
                            best = found.get(label)
                            if best is None or result["cold_ms"] < best["cold_ms"]:
                                found[label] = result
                            print(f"{kind:<11} {shape:<13} {label:<7} {result['cold_ms']:9.0f} {result['warm_ms']:9.0f} "
                                  f"{result['rss_mb']:8.1f} {result['size']:12,}  ({load()})", flush=True)
                    if "before" in found and "after" in found:
                        b, a = found["before"], found["after"]
                        print(f"{kind:<11} {shape:<13} {'ratio':<7} {b['cold_ms'] / a['cold_ms']:9.2f} "
                              f"{b['warm_ms'] / a['warm_ms']:9.2f} {'':>8} (before / after, best of {args.repeat})", flush=True)
        finally:
            if pg is not None:
                await asyncio.to_thread(pg.close)


async def blackbox_compare(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(BENCH))
    import blackbox

    base = Path(args.base).resolve()
    now = float(int(time.time()))
    with tempfile.TemporaryDirectory(prefix="bench-fullres-bb-") as tmp:
        seeded, expected = await blackbox.seed("hub", None, Path(tmp), now, DAY)
        queries = {"charts": None, "full": {"minimal_response": False, "no_attributes": False}}
        for round_ in range(1, args.repeat + 1):
            for name, flags in queries.items():
                for label, tree in (("before", base), ("after", ROOT)):
                    os.environ["PYTHONPATH"] = str(tree)  # the hub process imports hub from this tree
                    try:
                        work = blackbox.history("hub", None, seeded, now, DAY, expected, flags)
                        found = await blackbox.guarded("history", "hub", work, 900)
                    finally:
                        os.environ.pop("PYTHONPATH", None)
                    print(f"round {round_} {name:<6} {label:<6} {json.dumps(found)} ({load()})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("stages")
    one.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    one.add_argument("--shapes", nargs="+", default=SHAPES, choices=SHAPES)
    one.add_argument("--base", help="an older tree to compare with (before / after)")
    one.add_argument("--repeat", type=int, default=1, help="rounds of before/after (the best is compared)")
    two = sub.add_parser("blackbox")
    two.add_argument("--base", required=True)
    two.add_argument("--repeat", type=int, default=2)
    three = sub.add_parser("child")
    three.add_argument("shape")
    three.add_argument("kind")
    three.add_argument("url")
    three.add_argument("now", type=float)
    args = parser.parse_args()
    if args.command == "child":
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != str(BENCH)]
        print(json.dumps(asyncio.run(child(args.shape, args.kind, args.url, args.now))))
    elif args.command == "stages":
        asyncio.run(stages(args))
    else:
        asyncio.run(blackbox_compare(args))


if __name__ == "__main__":
    main()
