"""Core benchmark: state writes and event fires per second (medians of several runs).

Run: .venv/bin/python bench/core.py [--runs 5] [--compare-ha /path/to/python-with-homeassistant]

Figures printed:
- state writes/s: 1,000 entities x 200 changes with one state_changed listener
- the same with 1,000 per-entity trackers registered (one per entity)
- events fired/s with one listener, and with none
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import statistics
import subprocess
import time
from pathlib import Path

from hub.core.bus import callback
from hub.core.hub import Hub

ENTITIES = 1_000
CHANGES = 200
EVENTS = 200_000


async def state_writes(trackers: bool) -> float:
    hub = Hub()
    count = 0

    @callback
    def on_change(event):  # type: ignore[no-untyped-def]
        nonlocal count
        count += 1

    hub.bus.listen("state_changed", on_change)
    ids = [f"sensor.power_{i}" for i in range(ENTITIES)]
    if trackers:
        seen = 0

        @callback
        def on_tracked(event):  # type: ignore[no-untyped-def]
            nonlocal seen
            seen += 1

        for entity_id in ids:
            hub.states.track(entity_id, on_tracked)
    set_state = hub.states.set
    attrs = {"unit_of_measurement": "W", "device_class": "power"}
    values = [str(v) for v in range(CHANGES)]
    gc.collect()
    start = time.perf_counter()
    for value in values:
        for entity_id in ids:
            set_state(entity_id, value, attrs)
    elapsed = time.perf_counter() - start
    assert count == ENTITIES * CHANGES, count
    await hub.stop()
    return ENTITIES * CHANGES / elapsed


async def event_fires(listeners: int) -> float:
    hub = Hub()
    count = 0

    @callback
    def on_event(event):  # type: ignore[no-untyped-def]
        nonlocal count
        count += 1

    for _ in range(listeners):
        hub.bus.listen("bench_event", on_event)
    fire = hub.bus.fire
    data = {"value": 1}
    gc.collect()
    start = time.perf_counter()
    for _ in range(EVENTS):
        fire("bench_event", data)
    elapsed = time.perf_counter() - start
    assert count == EVENTS * listeners
    await hub.stop()
    return EVENTS / elapsed


CASES = {
    "state_writes": "state writes/s (1 state_changed listener)",
    "state_writes_trackers": "state writes/s (+1,000 per-entity trackers)",
    "events_one_listener": "events fired/s (1 listener)",
    "events_no_listener": "events fired/s (no listener)",
}


async def main(runs: int, ha_python: str | None) -> None:
    cases = {
        "state_writes": lambda: state_writes(False),
        "state_writes_trackers": lambda: state_writes(True),
        "events_one_listener": lambda: event_fires(1),
        "events_no_listener": lambda: event_fires(0),
    }
    ours = {}
    for name, case in cases.items():
        results = [await case() for _ in range(runs)]
        ours[name] = statistics.median(results)
        print(f"{CASES[name]:48s} median {ours[name]:>12,.0f}  (runs: {', '.join(f'{r:,.0f}' for r in results)})")
    if ha_python:
        script = Path(__file__).with_name("ha_core.py")
        output = subprocess.run([ha_python, str(script), str(runs)], capture_output=True, text=True, check=True)
        theirs = json.loads(output.stdout.strip().splitlines()[-1])
        print("\nside by side (medians, same machine, same run):")
        print(f"{'':48s} {'ours':>12s} {'Home Assistant':>15s} {'ratio':>7s}")
        for name, label in CASES.items():
            print(f"{label:48s} {ours[name]:>12,.0f} {theirs[name]:>15,.0f} {ours[name] / theirs[name]:>6.1f}x")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'peak RSS':48s} {rss:>10.1f} MB   pid {os.getpid()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--compare-ha", metavar="PYTHON", help="a Python with homeassistant installed")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.runs, arguments.compare_ha))
