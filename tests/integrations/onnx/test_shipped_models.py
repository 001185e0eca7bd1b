"""The shipped models on simulated household power: a fault raises the anomaly, an automation notifies.

The readings come from scripts/synthetic_power.py (the simulator the models learnt from) and
are written as states with their own timestamps, one a minute, so the test controls time.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
import pytest

from hub.core.bus import callback
from hub.core.hub import Hub
from hub.core.services import ServiceCall
from integrations.onnx import setup
from integrations.onnx.model import SHIPPED
from tests.integrations.onnx.conftest import feed, synthetic_power

WINDOW = 60  # the anomaly model's window: one hour of one-minute means
ANOMALY = {
    "name": "Kitchen",
    "model": "anomaly_power.onnx",
    "inputs": "sensor.kitchen_power",
    "window": {"span": "01:00:00", "step": 60},
    "features": ["raw", "time_of_day"],
    "run": {"on_change": True},
    "output": "anomaly_score",
    "threshold": {"above": 0},
}
HOME, FAULT_AT, FAULT_MINUTES = 301, 10 * 60, 4 * 60  # a test home; a fault at 10:00 on its first day

has_automations = pytest.mark.skipif(
    importlib.util.find_spec("automations.integration") is None, reason="the automation engine is not installed"
)


def readings(kind: str | None, begin: int, end: int) -> tuple[np.ndarray, float]:
    """Return minutes [begin, end) of the test home's first day (a fault from 10:00) and when they start."""
    sim = synthetic_power()
    faults = [(FAULT_AT, FAULT_MINUTES, kind)] if kind else []
    home = sim.household(HOME, 1, faults)
    return home.watts[begin:end], float(home.start + begin * sim.STEP)


async def anomaly_history(hub: Hub, kind: str | None, begin: int = 8 * 60 + 55, end: int = 11 * 60 + 5) -> list[tuple[int, str]]:
    """Feed the home's readings from minute begin to end; return (minute of the day, state) of each anomaly change."""
    changes: list[tuple[int, str]] = []
    minute = [0]

    @callback
    def remember(event: Any) -> None:
        changes.append((minute[0], event.data["new_state"].state))

    hub.states.track("binary_sensor.kitchen_anomaly", remember)
    await setup(hub, [ANOMALY])
    watts, start = readings(kind, begin, end)
    for index, value in enumerate(watts):
        minute[0] = begin + index
        await feed(hub, "sensor.kitchen_power", [value], start + index * 60)
    return changes


def test_models_are_small_and_documented() -> None:
    for name in ("anomaly_power.onnx", "forecast_power.onnx"):
        assert (SHIPPED / name).stat().st_size < 1_000_000
    card = (SHIPPED / "MODEL_CARD.md").read_text()
    assert "precision" in card and "recall" in card and "MAE" in card


async def test_normal_day_keeps_the_anomaly_off(hub: Hub) -> None:
    changes = await anomaly_history(hub, None, 5 * 60, 12 * 60)
    # Unavailable for the first hour (collecting), then off, and never on, 06:00 to 12:00.
    assert [state for _, state in changes] == ["unavailable", "off"]
    score = float(hub.states.get("sensor.kitchen").state)
    assert score < 0


@pytest.mark.parametrize("kind", ["stuck_relay", "fridge_stuck_on", "baseline_jump"])
async def test_fault_turns_the_anomaly_on_within_the_window(hub: Hub, kind: str) -> None:
    changes = await anomaly_history(hub, kind)
    on = [minute for minute, state in changes if state == "on"]
    assert on, f"{kind} was not detected: {changes}"
    # A minute's bucket closes with the next reading: the window holds only faulty minutes
    # once the reading WINDOW + 1 minutes after the fault began has arrived.
    assert FAULT_AT <= on[0] <= FAULT_AT + WINDOW + 1, f"{kind} detected {on[0] - FAULT_AT} minutes after it began"


@has_automations
async def test_anomaly_notifies_through_the_blueprint(hub: Hub) -> None:
    from tests.automations.conftest import setup_automations

    sent: list[ServiceCall] = []

    async def notify(call: ServiceCall) -> None:
        sent.append(call)

    hub.services.register("notify", "phone", notify)
    issues = await setup_automations(
        hub,
        """
        - alias: Kitchen anomaly
          use_blueprint:
            path: powerhub/anomaly_notify.yaml
            input:
              anomaly_sensor: binary_sensor.kitchen_anomaly
              notify_action: notify.phone
              on_for: 0
        """,
    )
    assert issues == []
    changes = await anomaly_history(hub, "stuck_relay")
    await hub.block_till_done()
    assert any(state == "on" for _, state in changes)
    assert len(sent) == 1
    message = sent[0].data["message"]
    assert sent[0].data["title"] == "Unusual power use"
    assert message.startswith("Kitchen anomaly since ")
    assert "(model anomaly_power.onnx)" in message


async def test_forecast_after_a_day_of_hourly_readings(hub: Hub) -> None:
    sim = synthetic_power()
    home = sim.household(HOME, 3)
    hourly = home.watts.reshape(-1, 60).mean(axis=1)
    await setup(
        hub,
        [
            {
                "name": "Kitchen next hour",
                "model": "forecast_power.onnx",
                "inputs": "sensor.kitchen_power",
                "window": {"span": "24:00:00", "step": 3600},
                "features": ["raw", "time_of_day", "day_of_week"],
                "run": {"on_change": True},
                "unit_of_measurement": "W",
                "precision": 0,
            }
        ],
    )
    await feed(hub, "sensor.kitchen_power", hourly[:24], float(home.start), step=3600)
    assert hub.states.get("sensor.kitchen_next_hour").state == "unavailable"
    errors = []
    for hour in range(24, 48):
        await feed(hub, "sensor.kitchen_power", hourly[hour : hour + 1], float(home.start + hour * 3600), step=3600)
        predicted = float(hub.states.get("sensor.kitchen_next_hour").state)
        errors.append(abs(predicted - hourly[hour]))
    naive = np.abs(hourly[24:48] - hourly[23:47])
    assert np.mean(errors) < np.mean(naive)  # better than "the last hour again" on a day it never saw
