"""Operations benchmark: what metrics cost on the hot paths, a scrape, and backup/restore speed.

Run: .venv/bin/python bench/ops.py [--runs 5]

Figures printed (medians of --runs, each with and without metrics attached, same process):
- state writes/s (1,000 entities x 100 changes, one state_changed listener besides)
- events fired/s (one listener on the type besides)
- service calls/s (a no-op @callback-style service, blocking calls)
- /metrics render time with 1,000 entities, 200 event types and 100 services called
- hub backup and hub restore of a SQLite hub with N users/devices and M history points
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from hub.core.bus import callback
from hub.core.hub import Hub
from hub.ops.metrics import HubMetrics

ENTITIES = 1_000
CHANGES = 100
EVENTS = 200_000
CALLS = 50_000


def _hub(with_metrics: bool) -> tuple[Hub, HubMetrics | None]:
    hub = Hub()
    metrics = HubMetrics(hub) if with_metrics else None
    if metrics is not None:
        metrics.start()
    return hub, metrics


async def state_writes(with_metrics: bool) -> float:
    hub, _ = _hub(with_metrics)
    hub.bus.listen("state_changed", callback(lambda event: None))
    ids = [f"sensor.p_{i}" for i in range(ENTITIES)]
    attrs = {"unit_of_measurement": "W"}
    values = [str(v) for v in range(CHANGES)]
    gc.collect()
    start = time.perf_counter()
    for value in values:
        for entity_id in ids:
            hub.states.set(entity_id, value, attrs)
    elapsed = time.perf_counter() - start
    await hub.stop()
    return ENTITIES * CHANGES / elapsed


async def events(with_metrics: bool) -> float:
    hub, _ = _hub(with_metrics)
    hub.bus.listen("tick", callback(lambda event: None))
    fire = hub.bus.fire
    gc.collect()
    start = time.perf_counter()
    for _ in range(EVENTS):
        fire("tick")
    elapsed = time.perf_counter() - start
    await hub.stop()
    return EVENTS / elapsed


async def service_calls(with_metrics: bool) -> float:
    hub, _ = _hub(with_metrics)

    async def noop(call: Any) -> None:
        return None

    hub.services.register("bench", "noop", noop)
    call = hub.services.call
    gc.collect()
    start = time.perf_counter()
    for _ in range(CALLS):
        await call("bench", "noop")
    elapsed = time.perf_counter() - start
    await hub.stop()
    return CALLS / elapsed


async def scrape_ms() -> float:
    hub, metrics = _hub(True)
    assert metrics is not None
    for i in range(ENTITIES):
        hub.states.set(f"sensor.p_{i}", "1")
    for i in range(200):
        hub.bus.fire(f"type_{i}")

    async def noop(call: Any) -> None:
        return None

    for i in range(100):
        hub.services.register("bench", f"s{i}", noop)
        await hub.services.call("bench", f"s{i}")
    start = time.perf_counter()
    for _ in range(20):
        body = metrics.render()
    elapsed = (time.perf_counter() - start) / 20
    await hub.stop()
    print(f"  (/metrics body: {len(body) / 1024:.0f} KiB)")
    return elapsed * 1000


async def backup_restore(points: int) -> tuple[float, float, float]:
    from hub.bootstrap import database_url
    from hub.config import load_configuration
    from hub.ops.backup import BackupRequest, create_backup
    from hub.ops.restore import restore_backup
    from hub.recorder.backends.base import Batch, Point
    from hub.recorder.backends.sqlite import SQLiteBackend
    from hub.storage.engine import create_engine, default_sqlite_url, migrate

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config_dir, data = root / "config", root / "data"
        config_dir.mkdir()
        (config_dir / "configuration.yaml").write_text("recorder:\n")
        engine = create_engine(default_sqlite_url(data))
        await migrate(engine)
        await engine.dispose()
        backend = SQLiteBackend(data / "history.db")
        await backend.open()
        now = time.time()
        rows = [Point(f"sensor.p_{i % 100}", now - points + i, float(i % 500), None) for i in range(points)]
        for start in range(0, points, 20_000):
            await backend.write(Batch(rows[start : start + 20_000]))
        await backend.close()
        config = load_configuration(config_dir)
        out = root / "b.tar.gz"
        began = time.perf_counter()
        await create_backup(BackupRequest(config_dir, data, out, history=True), config, database_url(config, data))
        backup_s = time.perf_counter() - began
        began = time.perf_counter()
        target = root / "target"
        report = await restore_backup(out, target / "config", target / "data", load_configuration, database_url)
        restore_s = time.perf_counter() - began
        assert report.history_points == points
        return backup_s, restore_s, out.stat().st_size / 1e6


def _median(values: list[float]) -> float:
    return statistics.median(values)


async def main(runs: int) -> None:
    print(f"medians of {runs} runs; 'with' = HubMetrics attached (match-all counter + service observer)")
    for name, bench, unit in (
        ("state writes", state_writes, "/s"),
        ("events fired", events, "/s"),
        ("service calls", service_calls, "/s"),
    ):
        without, with_ = [], []
        for _ in range(runs):
            without.append(await bench(False))
            with_.append(await bench(True))
        a, b = _median(without), _median(with_)
        print(f"{name:>14}: without {a:>10,.0f}{unit}  with {b:>10,.0f}{unit}  ({(b / a - 1) * 100:+.1f} %)")
    print(f"/metrics render: {_median([await scrape_ms() for _ in range(runs)]):.2f} ms "
          f"({ENTITIES} entities, 200 event types, 100 services)")
    for points in (100_000, 1_000_000):
        backup_s, restore_s, size = await backup_restore(points)
        print(f"backup with history, {points:,} points: {backup_s:.2f} s ({size:.1f} MB); restore: {restore_s:.2f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(main(parser.parse_args().runs))
