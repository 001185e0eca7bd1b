"""Service call benchmark: calls/s of switch.turn_on by entity_id, device_id and area_id target.

Run: .venv/bin/python bench/service_calls.py [--runs 5] [--calls 20000]

A hub with SQLite registries (in a temporary folder), 1,000 switches on 100 devices in 10 areas.
Figures printed (medians of --runs):
- calls/s aimed at one entity_id (the path every automation action takes)
- calls/s aimed at one device_id (10 switches each)
- calls/s aimed at one area_id (100 switches each), when the hub has areas
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# This folder holds scripts named like packages they measure: keep bench/ off the import path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

from hub.bootstrap import open_storage  # noqa: E402
from hub.core.entity import SwitchEntity  # noqa: E402
from hub.core.hub import Hub, HubConfig  # noqa: E402
from hub.storage.engine import default_sqlite_url  # noqa: E402

SWITCHES, DEVICES, AREAS = 1_000, 100, 10


class Plug(SwitchEntity):
    def __init__(self, number: int) -> None:
        self.name = f"Plug {number}"
        self.unique_id = f"plug-{number}"
        self.device_info = {"identifiers": [["bench", f"node-{number % DEVICES}"]], "name": f"Node {number % DEVICES}"}
        self.is_on = False

    async def turn_on(self, **kwargs: Any) -> None:
        self.is_on = True


async def _hub(folder: Path) -> tuple[Hub, Any, str, str | None]:
    hub = Hub(HubConfig(config_dir=folder, data_dir=folder))
    engine = await open_storage(hub, default_sqlite_url(folder))
    for number in range(SWITCHES):
        await hub.entities.add(Plug(number), "bench")
    device = next(iter(hub.require_device_registry()))
    area_id = None
    areas = getattr(hub, "area_registry", None)
    if areas is not None:
        for index in range(AREAS):
            await areas.create(f"Room {index}")
        for index, node in enumerate(list(hub.require_device_registry())):
            await hub.require_device_registry().update(node.id, area_id=f"room_{index % AREAS}")
        area_id = "room_0"
    return hub, engine, device.id, area_id


async def _rate(hub: Hub, target: dict[str, Any], calls: int) -> float:
    began = time.perf_counter()
    for _ in range(calls):
        await hub.services.call("switch", "turn_on", target=target)
    return calls / (time.perf_counter() - began)


async def main(runs: int, calls: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        hub, engine, device_id, area_id = await _hub(Path(folder))
        targets = {"entity_id": {"entity_id": "switch.plug_7"}, "device_id": {"device_id": device_id}}
        if area_id is not None:
            targets["area_id"] = {"area_id": area_id}
        figures: dict[str, list[float]] = {name: [] for name in targets}
        for _ in range(runs):
            for name, target in targets.items():
                figures[name].append(await _rate(hub, target, calls // (10 if name != "entity_id" else 1)))
        for name, rates in figures.items():
            print(f"switch.turn_on by {name:9}: {statistics.median(rates):10,.0f} calls/s (median of {runs})")
        await hub.stop()
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.calls))
