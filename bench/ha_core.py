"""The core benchmark's workload run on Home Assistant's own core, for a side-by-side figure.

Run with a Python that has Home Assistant installed (not this project's venv), e.g.:
    python3 -m venv /tmp/havenv && /tmp/havenv/bin/pip install homeassistant==2024.1.6
    .venv/bin/python bench/core.py --compare-ha /tmp/havenv/bin/python
It prints one JSON object with the medians, measured exactly as bench/core.py measures ours.
"""

from __future__ import annotations

import asyncio
import gc
import json
import statistics
import sys
import tempfile
import time

from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.event import async_track_state_change_event

ENTITIES = 1_000
CHANGES = 200
EVENTS = 200_000


async def new_hass() -> HomeAssistant:
    try:
        return HomeAssistant(tempfile.mkdtemp())
    except TypeError:  # older releases took no config_dir
        hass = HomeAssistant()  # type: ignore[call-arg]
        hass.config.config_dir = tempfile.mkdtemp()
        return hass


async def state_writes(trackers: bool) -> float:
    hass = await new_hass()
    count = 0

    @callback
    def on_change(event):  # type: ignore[no-untyped-def]
        nonlocal count
        count += 1

    hass.bus.async_listen(EVENT_STATE_CHANGED, on_change)
    ids = [f"sensor.power_{i}" for i in range(ENTITIES)]
    if trackers:
        noop = callback(lambda event: None)
        for entity_id in ids:
            async_track_state_change_event(hass, [entity_id], noop)
    attrs = {"unit_of_measurement": "W", "device_class": "power"}
    values = [str(v) for v in range(CHANGES)]
    set_state = hass.states.async_set
    gc.collect()
    start = time.perf_counter()
    for value in values:
        for entity_id in ids:
            set_state(entity_id, value, attrs)
    elapsed = time.perf_counter() - start
    await hass.async_block_till_done()
    assert count == ENTITIES * CHANGES, count
    return ENTITIES * CHANGES / elapsed


async def event_fires(listeners: int) -> float:
    hass = await new_hass()
    count = 0

    @callback
    def on_event(event):  # type: ignore[no-untyped-def]
        nonlocal count
        count += 1

    for _ in range(listeners):
        hass.bus.async_listen("bench_event", on_event)
    fire = hass.bus.async_fire
    data = {"value": 1}
    gc.collect()
    start = time.perf_counter()
    for _ in range(EVENTS):
        fire("bench_event", data)
    elapsed = time.perf_counter() - start
    await hass.async_block_till_done()
    assert count == EVENTS * listeners
    return EVENTS / elapsed


async def main(runs: int) -> None:
    cases = {
        "state_writes": lambda: state_writes(False),
        "state_writes_trackers": lambda: state_writes(True),
        "events_one_listener": lambda: event_fires(1),
        "events_no_listener": lambda: event_fires(0),
    }
    result = {}
    for name, case in cases.items():
        result[name] = statistics.median([await case() for _ in range(runs)])
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5))
