"""Budgets by their names, with use from history and a projection of the period's end.

A kitchen that drew 1 kW for a week: the projection without a forecast continues the same
hours of the last days; with the forecast model it takes the model's rolled-forward forecast.
History the live count missed (a backfill) catches the budget up and fires its thresholds.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hub.core.bus import callback
from hub.recorder import get_recorder
from integrations.energy import api
from integrations.onnx import RUNNERS
from tests.hubs import write_config

pytestmark = pytest.mark.timeout(90)
HOUR = 3600.0

KITCHEN = """
from hub import hookimpl
from hub.core.entity import SensorEntity


class Sensor(SensorEntity):
    def __init__(self, name, unique_id, unit, device_class, state_class, value):
        self.name = name
        self.unique_id = unique_id
        self.native_value = value
        self.unit_of_measurement = unit
        self.device_class = device_class
        self.state_class = state_class
        self.device_info = {"identifiers": [["kitchen", "node"]], "name": "Kitchen node"}


@hookimpl
async def setup_integration(hub, config):
    await hub.entities.add(Sensor("Kitchen energy", "kitchen_energy", "kWh", "energy", "total_increasing", None), "kitchen")
    await hub.entities.add(Sensor("Kitchen power", "kitchen_power", "W", "power", "measurement", 1000.0), "kitchen")
"""

CONFIG = """
homeassistant:
  time_zone: UTC
  currency: EUR
recorder:
  commit_interval: 0.05
kitchen:
onnx:
  - name: Kitchen next hour
    model: forecast_power.onnx
    inputs: sensor.kitchen_power
    window: {span: "24:00:00", step: 3600}
    features: [raw, time_of_day, day_of_week]
    unit_of_measurement: W
energy:
  tariffs: {grid: 0.30}
  budgets:
    - {name: kitchen_day, period: day, kwh: 40, meters: [sensor.kitchen_energy], forecast: sensor.kitchen_next_hour}
    - {name: house_month, period: month, cost: 1000}
    - {name: tiny_month, period: month, kwh: 0.01}
"""


async def test_budgets_show_use_from_history_and_a_projection(start_hub: Any, tmp_path: Path) -> None:
    runtime = await start_hub(write_config(tmp_path / "config", CONFIG, {"kitchen": KITCHEN}))
    hub = runtime.hub
    fired: list[dict[str, Any]] = []

    @callback
    def threshold(event: Any) -> None:
        fired.append(dict(event.data))

    hub.bus.listen("energy_budget_threshold", threshold)
    # A week of 1 kW: the counter climbs 1 kWh an hour; readings every 5 minutes up to now.
    now = time.time()
    first = (now // 300) * 300 - 8 * 86400
    stamps = [first + i * 300 for i in range(int((now - first) // 300) + 1)]
    energy = [(t, 500.0 + (t - first) / HOUR) for t in stamps]
    power = [(t, 1000.0) for t in stamps]
    for entity_id, points in (("sensor.kitchen_energy", energy), ("sensor.kitchen_power", power)):
        await hub.services.call("recorder", "backfill", {"entity_id": entity_id, "points": points}, return_response=True)
    await get_recorder(hub).flush()
    hub.bus.fire("telemetry_backfilled", {"node_id": "node", "entities": {"power": "sensor.kitchen_power"},
                                          "first_ts": first, "last_ts": stamps[-1], "readings": len(stamps), "points": 0})
    hub.states.set("sensor.kitchen_energy", f"{energy[-1][1]:.4f}", dict(hub.states.get("sensor.kitchen_energy").attributes))

    budgets = {b["budget"]: b for b in await api.energy_budgets(hub)}
    now = time.time()
    midnight = now // 86400 * 86400
    month_start = datetime(*time.gmtime(now)[:2], 1, tzinfo=UTC).timestamp()
    # A reading counts the use since the one before it, in the day it was taken.
    before_today = max(t for t in stamps if t < midnight)
    hours_today, hours_left_today = (stamps[-1] - before_today) / HOUR, (midnight + 86400 - now) / HOUR

    day = budgets["kitchen_day"]
    assert day["title"] == "Kitchen day budget" and day["unit"] == "kWh"
    assert day["used"] == pytest.approx(hours_today, abs=0.01)
    assert day["limit"] == 40 and day["meters"] == ["sensor.kitchen_energy"]
    projection = day["projection"]
    assert projection["method"] == "forecast"
    # The forecast model's hours, each at its share of the hour still to come.
    forecast = await hub.services.call("onnx", "forecast", {"entity_id": "sensor.kitchen_next_hour", "steps": 30},
                                       return_response=True)
    expected = day["used_kwh"]
    for item in forecast["sensor.kitchen_next_hour"]["forecast"]:
        start = datetime.fromisoformat(item["datetime"]).timestamp()
        share = (min(start + HOUR, midnight + 86400) - max(start, now)) / HOUR
        if share > 0:
            expected += item["value"] / 1000 * share
    assert projection["kwh"] == pytest.approx(expected, rel=0.01)
    assert projection["cost"] == pytest.approx(projection["kwh"] * 0.30, rel=0.01)
    assert projection["forecast_hours"] == pytest.approx(hours_left_today, abs=1.01)
    assert "as forecast by Kitchen next hour" in projection["explanation"]

    month = budgets["house_month"]
    assert month["title"] == "House month budget" and month["unit"] == "EUR" and month["measure"] == "cost"
    history_hours = (stamps[-1] - max([t for t in stamps if t < month_start] or [first])) / HOUR
    assert month["used"] == pytest.approx(history_hours * 0.30, abs=0.05)
    hours_left = (next_month(now) - now) / HOUR
    # No forecast: every hour left as the same hour of the last days, here 1 kWh at 0.30.
    assert month["projection"]["method"] == "history"
    assert month["projection"]["value"] == pytest.approx(month["used"] + hours_left * 0.30, abs=0.1)
    assert month["projection"]["kwh"] == pytest.approx(month["used_kwh"] + hours_left, abs=0.3)
    assert "estimated from the same hours of the last 7 days" in month["projection"]["explanation"]

    # The live count never saw the backfilled week; it caught up, and the thresholds fired once.
    assert [e["threshold"] for e in fired if e["budget"] == "tiny_month"] == [50, 80, 100]
    assert float(hub.states.get("sensor.tiny_month_budget").state) > 100
    again = await api.energy_budgets(hub)
    assert [e["threshold"] for e in fired if e["budget"] == "tiny_month"] == [50, 80, 100]
    assert {b["budget"] for b in again} == {"kitchen_day", "house_month", "tiny_month"}


async def test_a_backfill_while_history_catches_up_keeps_the_projection_s_method(start_hub: Any, tmp_path: Path) -> None:
    """A node's buffer backfilled while the downsampler runs and the forecast model refills its window.

    The budgets page asked in between shows the forecast as it does afterwards: neither the tiers
    catching up on late points nor the model reading the backfill makes a budget flip to another
    method. Both are held at the moment of the race (the tiers' run in its first read, the
    model's refill in its read of history) and let go in turn.
    """
    runtime = await start_hub(write_config(tmp_path / "config", CONFIG, {"kitchen": KITCHEN}))
    hub = runtime.hub
    recorder = get_recorder(hub)
    tiers, backend = recorder.tiers, recorder.backend
    assert tiers is not None
    (runner,) = hub.runtime.get(RUNNERS)
    await tiers.downsample()  # after the scheduled first run, if it was still going
    # The minute tier's first run after an upgrade reads back two days: held in its first read.
    tiers.watermarks["minute"] -= 2 * 86400
    entities_between, read_states = backend.entities_between, backend.read_states
    tiers_reading, tiers_go = asyncio.Event(), asyncio.Event()
    refill_reading, refill_go = asyncio.Event(), asyncio.Event()

    async def held_run(start: float, end: float) -> list[str]:
        tiers_reading.set()
        await tiers_go.wait()
        return await entities_between(start, end)

    async def held_refill(entity_ids: Any, start: float, end: float, *, include_start: bool = False) -> Any:
        if end > time.time() and not refill_go.is_set():  # the model reads up to a second ahead; usage() to now
            refill_reading.set()
            await refill_go.wait()
        return await read_states(entity_ids, start, end, include_start=include_start)

    backend.entities_between = held_run  # type: ignore[method-assign]
    backend.read_states = held_refill  # type: ignore[method-assign]
    run = asyncio.ensure_future(tiers.downsample())
    await tiers_reading.wait()
    now = time.time()
    first = (now // 300) * 300 - 8 * 86400
    stamps = [first + i * 300 for i in range(int((now - first) // 300) + 1)]
    energy = [(t, 500.0 + (t - first) / HOUR) for t in stamps]
    power = [(t, 1000.0) for t in stamps]
    for entity_id, points in (("sensor.kitchen_energy", energy), ("sensor.kitchen_power", power)):
        await hub.services.call("recorder", "backfill", {"entity_id": entity_id, "points": points}, return_response=True)
    await recorder.flush()
    assert tiers.hour_tier_until() <= first  # the late week is read raw until the tiers have it
    hub.bus.fire("telemetry_backfilled", {"node_id": "node", "entities": {"power": "sensor.kitchen_power"},
                                          "first_ts": first, "last_ts": stamps[-1], "readings": len(stamps), "points": 0})
    await refill_reading.wait()
    assert runner.waiting_for_history
    asked = asyncio.ensure_future(api.energy_budgets(hub))
    await asyncio.wait({asked}, timeout=1)  # the page asks while the model's window is being refilled
    refill_go.set()
    during = {b["budget"]: b for b in await asked}
    forecast = await hub.services.call("onnx", "forecast", {"entity_id": "sensor.kitchen_next_hour", "steps": 30},
                                       return_response=True)
    now = time.time()
    midnight = now // 86400 * 86400
    day = during["kitchen_day"]["projection"]
    assert day["method"] == "forecast" and "as forecast by Kitchen next hour" in day["explanation"]
    expected = during["kitchen_day"]["used_kwh"]
    for item in forecast["sensor.kitchen_next_hour"]["forecast"]:
        start = datetime.fromisoformat(item["datetime"]).timestamp()
        share = (min(start + HOUR, midnight + 86400) - max(start, now)) / HOUR
        if share > 0:
            expected += item["value"] / 1000 * share
    assert day["kwh"] == pytest.approx(expected, rel=0.01)
    assert during["house_month"]["projection"]["method"] == "history"

    tiers_go.set()
    await run
    await tiers.downsample()  # the next scheduled run takes the late week into every tier
    assert tiers.hour_tier_until() > first
    after = {b["budget"]: b for b in await api.energy_budgets(hub)}
    for name in ("kitchen_day", "house_month"):
        assert after[name]["projection"]["method"] == during[name]["projection"]["method"], name
        assert after[name]["used"] == pytest.approx(during[name]["used"], rel=0.01, abs=0.01), name
        assert after[name]["projection"]["value"] == pytest.approx(during[name]["projection"]["value"], rel=0.02), name


def next_month(now: float) -> float:
    year, month = time.gmtime(now)[:2]
    year, month = (year, month + 1) if month < 12 else (year + 1, 1)
    return datetime(year, month, 1, tzinfo=UTC).timestamp()


async def test_a_backfilled_node_buffer_updates_the_budget_sensors_within_seconds(start_hub: Any, tmp_path: Path) -> None:
    """The demo's first day (or a node back from an outage) is in the budgets at once, not minutes later."""
    runtime = await start_hub(write_config(tmp_path / "config", CONFIG, {"kitchen": KITCHEN}))
    hub = runtime.hub
    fired: list[dict[str, Any]] = []
    hub.bus.listen("energy_budget_threshold", callback(lambda event: fired.append(dict(event.data))))
    if time.time() % 86400 < 60:
        await asyncio.sleep(60)  # just after midnight (UTC): let the day have something to count
    now = time.time()
    midnight = now // 86400 * 86400
    stamps = [midnight + i * 10 for i in range(int((now - midnight) // 10) + 1)]
    points = [(t, 100.0 + (t - midnight) / HOUR) for t in stamps]
    await hub.services.call("recorder", "backfill", {"entity_id": "sensor.kitchen_energy", "points": points},
                            return_response=True)
    assert float(hub.states.get("sensor.tiny_month_budget").state) == 0
    # telemetry_backfill fires this for each batch a node uploaded.
    hub.bus.fire("telemetry_backfilled", {"node_id": "node", "entities": {"energy": "sensor.kitchen_energy"},
                                          "first_ts": stamps[0], "last_ts": stamps[-1], "readings": len(stamps),
                                          "points": len(stamps)})
    deadline = time.monotonic() + 10
    while float(hub.states.get("sensor.tiny_month_budget").state) == 0:
        assert time.monotonic() < deadline, "the budget did not catch up with the backfilled history"
        await asyncio.sleep(0.1)
    used = (stamps[-1] - stamps[0]) / HOUR
    assert float(hub.states.get("sensor.kitchen_day_budget").state) == pytest.approx(100 * used / 40, abs=0.1)
    assert [e["threshold"] for e in fired if e["budget"] == "tiny_month"] == [50, 80, 100]
