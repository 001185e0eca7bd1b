"""What home-scoped sessions cost: the registries and restore states through unscoped sessions
(the hub before homes) and through `scoped_sessions` (every statement filtered by home, every row
stamped), interleaved in one process on one SQLite database per run.

    .venv/bin/python bench/tenancy_sessions.py                 # 2,000 entities, 5 rounds
    .venv/bin/python bench/tenancy_sessions.py --entities 5000 --rounds 9

Prints the median CPU seconds of the process (all threads) per step and kind of session, and
their ratio (scoped / unscoped): CPU time, because wall time on a shared machine mostly measures
the other processes.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub.core.scope import DEFAULT_SCOPE  # noqa: E402
from hub.registry.areas import AreaRegistry  # noqa: E402
from hub.registry.devices import DeviceRegistry  # noqa: E402
from hub.registry.entities import EntityRegistry  # noqa: E402
from hub.registry.restore import RestoreStateStore  # noqa: E402
from hub.storage.engine import create_engine, default_sqlite_url, migrate, session_factory  # noqa: E402
from hub.storage.models import utcnow  # noqa: E402
from hub.storage.scoped import scoped_sessions  # noqa: E402


async def one_round(kind: str, entities: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(default_sqlite_url(Path(tmp)))
        await migrate(engine)
        sessions = scoped_sessions(engine, DEFAULT_SCOPE) if kind == "scoped" else session_factory(engine)
        times: dict[str, float] = {}

        async def timed(step: str, work: Callable[[], Awaitable[object]]) -> None:
            began = time.process_time()
            await work()
            times[step] = time.process_time() - began

        areas = AreaRegistry(sessions)
        devices = DeviceRegistry(sessions, area_registry=areas)
        registry = EntityRegistry(sessions, device_registry=devices, area_registry=areas)

        async def create() -> None:
            async with areas.writer.batch():
                for number in range(entities):
                    device = await devices.get_or_create(integration="mqtt", identifiers=[("mqtt", f"n{number}")])
                    await registry.get_or_create("sensor", "mqtt", f"u{number}", device_id=device.id)

        async def load() -> None:
            fresh_areas = AreaRegistry(sessions)
            fresh_devices = DeviceRegistry(sessions, area_registry=fresh_areas)
            fresh = EntityRegistry(sessions, device_registry=fresh_devices, area_registry=fresh_areas)
            await fresh_areas.load()
            await fresh_devices.load()
            await fresh.load()

        store = RestoreStateStore(sessions)
        now = utcnow()
        rows = [(f"sensor.u{n}", "1.5", {"unit_of_measurement": "W"}, now, now) for n in range(entities)]
        await timed("registry create (batched)", create)
        await timed("registry load", load)
        await timed("restore save_many", lambda: store.save_many(rows))
        await timed("restore load", store.load)

        async def updates() -> None:
            for number in range(0, entities, 10):
                await registry.update(f"sensor.u{number}", name=f"Renamed {number}")

        await timed(f"registry update x{len(range(0, entities, 10))}", updates)
        await engine.dispose()
        return times


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entities", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    results: dict[str, dict[str, list[float]]] = {"unscoped": {}, "scoped": {}}
    for _ in range(args.rounds):
        for kind in ("unscoped", "scoped"):  # interleaved: a noisy machine hits both alike
            for step, seconds in (await one_round(kind, args.entities)).items():
                results[kind].setdefault(step, []).append(seconds)
    print(f"{args.entities} entities, {args.rounds} rounds, median CPU seconds")
    print(f"{'step':<28} {'unscoped':>9} {'scoped':>9} {'ratio':>6}")
    for step in results["unscoped"]:
        before = statistics.median(results["unscoped"][step])
        after = statistics.median(results["scoped"][step])
        print(f"{step:<28} {before:>9.3f} {after:>9.3f} {after / before:>6.2f}")


if __name__ == "__main__":
    asyncio.run(main())
