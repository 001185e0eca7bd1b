"""Model sensors are ready at start: their windows are filled from the recorder's history.

`unavailable` only while history really lacks the window; a node's offline buffer that
reaches history later fills the window again; `onnx.forecast` rolls a model forward.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from hub import bootstrap
from hub.core.clock import ManualClock
from hub.core.hub import Hub
from hub.recorder import get_recorder
from integrations.onnx import setup
from tests.hubs import write_config
from tests.integrations.onnx.conftest import T0, feed, sensor_conf, synthetic_power

pytestmark = pytest.mark.timeout(90)

KITCHEN = """
from hub import hookimpl
from hub.core.entity import SensorEntity


class Power(SensorEntity):
    def __init__(self):
        self.name = "Kitchen power"
        self.unique_id = "kitchen_power"
        self.native_value = 120.0
        self.unit_of_measurement = "W"
        self.device_class = "power"
        self.state_class = "measurement"


@hookimpl
async def setup_integration(hub, config):
    await hub.entities.add(Power(), "kitchen")
"""

CONFIG = """
homeassistant:
  time_zone: UTC
recorder:
  commit_interval: 0.05
kitchen:
onnx:
  - name: Kitchen
    model: anomaly_power.onnx
    inputs: sensor.kitchen_power
    window: {span: "01:00:00", step: 60}
    features: [raw, time_of_day]
    output: anomaly_score
    threshold: {above: 0}
"""


def household_minutes(now: float, minutes: int) -> list[tuple[float, float]]:
    """Return a simulated kitchen's one-minute power readings for the `minutes` before now."""
    sim = synthetic_power()
    home = sim.household(301, 2, [])
    # The same time of day in the simulated home as now, so the model sees a normal hour.
    offset = int((now % 86400) // 60) + 1440 - minutes
    watts = home.watts[offset:offset + minutes]
    first = (now // 60) * 60 - minutes * 60
    return [(first + i * 60, float(w)) for i, w in enumerate(watts)]


async def backfill(hub: Hub, entity_id: str, points: list[tuple[float, float]]) -> None:
    await hub.services.call("recorder", "backfill", {"entity_id": entity_id, "points": points}, return_response=True)
    await get_recorder(hub).flush()


async def test_after_a_restart_with_an_hour_of_history_the_anomaly_sensor_has_a_value_within_5_s(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config", CONFIG, {"kitchen": KITCHEN})
    data = tmp_path / "data"
    first = await bootstrap.start(config, data, port=0)
    try:
        await backfill(first.hub, "sensor.kitchen_power", household_minutes(time.time(), 65))
    finally:
        await bootstrap.stop(first)

    began = time.monotonic()
    again = await bootstrap.start(config, data, port=0)
    try:
        await wait_state_numeric(again.hub, "sensor.kitchen", 5.0)
        took = time.monotonic() - began
        state = again.hub.states.get("sensor.kitchen")
        assert took < 5.0, f"the anomaly sensor had a value only after {took:.1f} s"
        assert state.attributes["model"] == "anomaly_power.onnx"
        assert again.hub.states.get("binary_sensor.kitchen_anomaly").state in ("on", "off")
    finally:
        await bootstrap.stop(again)


async def wait_state_numeric(hub: Hub, entity_id: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        state = hub.states.get(entity_id)
        if state is not None and state.state not in ("unavailable", "unknown"):
            float(state.state)
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{entity_id} is still {state.state if state else None}: {dict(state.attributes) if state else {}}")
        await asyncio.sleep(0.05)


async def test_unavailable_only_while_history_lacks_the_window_and_a_backfill_fills_it(start_hub: Any, tmp_path: Path) -> None:
    config = write_config(tmp_path / "config", CONFIG, {"kitchen": KITCHEN})
    runtime = await start_hub(config)
    hub = runtime.hub
    now = time.time()
    minutes = household_minutes(now, 65)
    # Twenty minutes in history: the window really is not full yet, and the sensor says how far it is.
    await backfill(hub, "sensor.kitchen_power", minutes[-20:])
    await bootstrap.stop(runtime)
    runtime = await start_hub(config, tmp_path / "data")
    hub = runtime.hub
    await wait_attribute(hub, "sensor.kitchen", "reason", lambda reason: reason.startswith("collecting samples"))
    state = hub.states.get("sensor.kitchen")
    assert state.state == "unavailable"
    collected = int(state.attributes["reason"].split()[2])
    assert 19 <= collected <= 22, state.attributes["reason"]

    # The node comes back and uploads the hour it buffered: the window is filled again at once.
    await backfill(hub, "sensor.kitchen_power", minutes[:-20])
    hub.bus.fire("telemetry_backfilled", {"node_id": "kitchen", "readings": 45, "points": 45,
                                          "entities": {"power": "sensor.kitchen_power"},
                                          "first_ts": minutes[0][0], "last_ts": minutes[-21][0]})
    await wait_state_numeric(hub, "sensor.kitchen", 5.0)


async def wait_attribute(hub: Hub, entity_id: str, name: str, wanted: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        state = hub.states.get(entity_id)
        if state is not None and name in state.attributes and wanted(state.attributes[name]):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{entity_id}: {state}")
        await asyncio.sleep(0.05)


async def test_forecast_rolls_the_model_forward_on_its_own_predictions(hub: Hub) -> None:
    clock = ManualClock(T0)
    hub.clock = clock
    [runner] = await setup(hub, [sensor_conf(window={"span": "00:04:00", "step": 60}, run={"every": 60})])
    await feed(hub, "sensor.power", [1, 2, 3, 4], T0)
    await clock.advance(4 * 60 + 1)
    await hub.block_till_done()
    assert hub.states.get("sensor.power_sum").state == "10.0"
    response = await hub.services.call("onnx", "forecast", {"entity_id": "sensor.power_sum", "steps": 3},
                                       return_response=True)
    # The sum of the last four minutes, each prediction joining the window: 1+2+3+4, 2+3+4+10, 3+4+10+19.
    result = response["sensor.power_sum"]
    assert [item["value"] for item in result["forecast"]] == pytest.approx([10.0, 19.0, 36.0])
    assert [item["datetime"] for item in result["forecast"]] == [
        "2024-01-01T00:04:00+00:00", "2024-01-01T00:05:00+00:00", "2024-01-01T00:06:00+00:00"]
    assert result["step"] == 60
    assert runner.inferences == 1  # the forecast leaves the sensor's own runs alone

    with pytest.raises(Exception, match="not a model sensor"):
        await hub.services.call("onnx", "forecast", {"entity_id": "sensor.power", "steps": 2}, return_response=True)
    await setup(hub, [sensor_conf(name="Samples", unique_id="samples")])
    with pytest.raises(Exception, match="time-span window"):
        await hub.services.call("onnx", "forecast", {"entity_id": "sensor.samples", "steps": 2}, return_response=True)


async def test_shipped_forecast_model_is_ready_at_start_from_a_day_of_history(start_hub: Any, tmp_path: Path) -> None:
    config = write_config(tmp_path / "config", CONFIG.replace("""  - name: Kitchen
    model: anomaly_power.onnx
    inputs: sensor.kitchen_power
    window: {span: "01:00:00", step: 60}
    features: [raw, time_of_day]
    output: anomaly_score
    threshold: {above: 0}""", """  - name: Kitchen next hour
    model: forecast_power.onnx
    inputs: sensor.kitchen_power
    window: {span: "24:00:00", step: 3600}
    features: [raw, time_of_day, day_of_week]
    unit_of_measurement: W"""), {"kitchen": KITCHEN})
    runtime = await start_hub(config)
    now = time.time()
    day = [(now - 25 * 3600 + i * 300, 150.0 + 100 * ((i // 12) % 2)) for i in range(25 * 12)]
    await backfill(runtime.hub, "sensor.kitchen_power", day)
    await bootstrap.stop(runtime)
    again = await start_hub(config, tmp_path / "data")
    await wait_state_numeric(again.hub, "sensor.kitchen_next_hour", 5.0)
    response = await again.hub.services.call("onnx", "forecast", {"entity_id": "sensor.kitchen_next_hour", "steps": 6},
                                             return_response=True)
    values = [item["value"] for item in response["sensor.kitchen_next_hour"]["forecast"]]
    assert len(values) == 6 and all(0 < v < 1000 for v in values)
    assert values[0] == pytest.approx(float(again.hub.states.get("sensor.kitchen_next_hour").state), abs=0.01)

