"""Core benchmark: state writes and event fires per second (medians of several runs).

Run: .venv/bin/python bench/core.py [--runs 5]

Figures printed:
- state writes/s: 1,000 entities x 200 changes with one state_changed listener
- the same with 1,000 per-entity trackers registered (one per entity)
- events fired/s with one listener, and with none
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import resource
import statistics
import time

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


async def main(runs: int) -> None:
    cases = {
        "state writes/s (1 state_changed listener)": lambda: state_writes(False),
        "state writes/s (+1,000 per-entity trackers)": lambda: state_writes(True),
        "events fired/s (1 listener)": lambda: event_fires(1),
        "events fired/s (no listener)": lambda: event_fires(0),
    }
    for label, case in cases.items():
        results = [await case() for _ in range(runs)]
        print(f"{label:48s} median {statistics.median(results):>12,.0f}  (runs: {', '.join(f'{r:,.0f}' for r in results)})")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'peak RSS':48s} {rss:>10.1f} MB   pid {os.getpid()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(main(parser.parse_args().runs))
