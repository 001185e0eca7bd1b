"""Registry writes of a discovery storm: CPU seconds to register devices and their entities in batches.

    .venv/bin/python bench/registry_writes.py                    # 5,000 entities of 500 devices, 3 runs
    .venv/bin/python bench/registry_writes.py --entities 1000 --runs 5

As MQTT discovery does at a cold start: per device one get_or_create in the device registry,
then ten in the entity registry, inside the registry writer's batches of 100 entities (one
transaction each), on a fresh SQLite file. Prints wall and CPU seconds (the process's,
including SQLite's thread) per run; on a loaded machine trust the CPU column.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub.core.scope import DEFAULT_SCOPE  # noqa: E402 - after the path: the bench runs from a checkout
from hub.registry.devices import DeviceRegistry  # noqa: E402
from hub.registry.entities import EntityRegistry  # noqa: E402
from hub.storage.engine import create_engine, migrate  # noqa: E402
from hub.storage.scoped import scoped_sessions  # noqa: E402

PER_DEVICE = 10
BATCH = 100  # entities per batch, as discovery's lingering batches


async def run_once(entities: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="bench-registry-") as tmp:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp}/hub.db")
        await migrate(engine, [])
        sessions = scoped_sessions(engine, DEFAULT_SCOPE)
        devices = DeviceRegistry(sessions)
        registry = EntityRegistry(sessions, device_registry=devices)
        await devices.load()
        await registry.load()
        began, cpu = time.perf_counter(), time.process_time()
        for first in range(0, entities // PER_DEVICE, BATCH // PER_DEVICE):
            async with registry.writer.batch():
                for n in range(first, first + BATCH // PER_DEVICE):
                    device = await devices.get_or_create(integration="mqtt", identifiers=[("mqtt", f"node{n}")],
                                                         name=f"Node {n}", manufacturer="powerhub")
                    for k in range(PER_DEVICE):
                        await registry.get_or_create("sensor", "mqtt", f"node{n}_{k}", suggested_object_id=f"node_{n}_power_{k}",
                                                     device_id=device.id, original_name=f"Power {k}", unit_of_measurement="W")
        result = time.perf_counter() - began, time.process_time() - cpu
        await engine.dispose()
    return result


async def main(args: argparse.Namespace) -> None:
    print(f"{args.entities:,} entities of {args.entities // PER_DEVICE:,} devices, batches of {BATCH}, SQLite")
    for run in range(1, args.runs + 1):
        wall, cpu = await run_once(args.entities)
        print(f"run {run}: {wall:6.3f} s wall {cpu:6.3f} s CPU ({cpu / args.entities * 1e6:.0f} us CPU per entity)", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entities", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
