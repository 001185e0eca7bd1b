"""An integration sensor turns a simulated PZEM node's power (W) into energy (kWh) over a real Mosquitto.

The node runs the real firmware on a simulated meter; the meter, the node and the hub share one
manual clock, so an hour of readings every 10 s takes a few seconds. The hub's Riemann sum must
match the energy counter the meter keeps itself within 1 %.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from firmware.sim.fleet import Fleet
from hub.core.clock import ManualClock
from tests.compat.conftest import until
from tests.hubs import write_config

pytestmark = pytest.mark.services
INTERVAL = 10
READINGS = 360  # one hour


async def test_integration_sensor_matches_the_node_energy_counter_over_an_hour(tmp_path: Path, start_hub: Any, mosquitto_server: Any) -> None:
    prefix = f"ha{uuid.uuid4().hex[:8]}"
    nodes = f"n{uuid.uuid4().hex[:6]}"
    started = float(int(time.time()))
    now = [started]
    fleet = Fleet(mosquitto_server.url, 3, tmp_path / "nodes", interval=INTERVAL, prefix=nodes, discovery_prefix=prefix,
                  clock=lambda: now[0], wall=lambda: int(now[0]))
    heater = fleet.nodes[2]  # the heater profile: a thermostat cycling ~1.5 kW on and off
    slug = heater.node_id.replace("-", "_")
    config = write_config(tmp_path / "config", f"""\
        mqtt:
          broker: {mosquitto_server.url}
          discovery_prefix: {prefix}
        sensor:
          - platform: integration
            source: sensor.{slug}_power
            name: Heater energy
            unit_prefix: k
            round: 4
        """)
    try:
        runtime = await start_hub(config)
        hub = runtime.hub
        clock = ManualClock(started)
        hub.clock = clock
        power, energy, integral = f"sensor.{slug}_power", f"sensor.{slug}_energy", "sensor.heater_energy"

        def reported(entity_id: str) -> bool:
            state = hub.states.get(entity_id)
            return state is not None and state.last_reported_timestamp == now[0] and state.state != "unavailable"

        async def reading(at: float) -> None:
            now[0] = at
            await clock.set_time(at)
            heater.step()
            await until(lambda: reported(power) and reported(energy), f"the reading at +{at - started:.0f} s")

        # Connect and announce; the entities exist once discovery ran.
        heater.step()
        await until(lambda: hub.states.get(power) is not None and hub.states.get(energy) is not None, "the node's discovery")
        await reading(started + INTERVAL)
        # Measure both from this reading on (the node's first reading may or may not have reached the
        # entity, which discovery was still creating).
        first_counter = float(hub.states.get(energy).state)
        first_integral = _number(hub.states.get(integral))
        for index in range(2, READINGS + 2):
            await reading(started + index * INTERVAL)
        counted = float(hub.states.get(energy).state) - first_counter
        integrated = _number(hub.states.get(integral)) - first_integral

        assert counted > 0.2, f"the heater used {counted} kWh in an hour"
        assert integrated == pytest.approx(counted, rel=0.01)
        state = hub.states.get(integral)
        assert state.attributes["unit_of_measurement"] == "kWh"
        assert state.attributes["device_class"] == "energy" and state.attributes["state_class"] == "total"
        assert state.attributes["source"] == power
    finally:
        fleet.close()


def _number(state: Any) -> float:
    try:
        return float(state.state)
    except (AttributeError, ValueError):
        return 0.0
