"""A PZEM-004T bus on the hub's serial port, against meters emulated on a pseudo-terminal."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import voluptuous as vol

from hub.core.states import State
from integrations.pzem.config import CONFIG_SCHEMA
from tests.hubs import write_config
from tests.integrations.pzem.emulator import EmulatedMeter, PtyBus


@pytest.fixture
def bus() -> Iterator[PtyBus]:
    kitchen = EmulatedMeter(1)
    heater = EmulatedMeter(2, voltage_dv=2290, current_ma=123, power_dw=282, energy_wh=5, frequency_dhz=499, pf_centi=50, alarm=False)
    emulated = PtyBus(kitchen, heater)
    yield emulated
    emulated.close()


async def start(start_hub: Callable[..., Any], tmp_path: Path, port: str, extra: str = "") -> Any:
    config = write_config(tmp_path / "config", f"""\
        pzem:
          port: {port}
          scan_interval: 0.1
          timeout: 0.1
          retries: 1
          unavailable_after: 2
          meters:
            - address: 1
              name: Kitchen
            - address: 2
              name: Heater
        """)
    runtime = await start_hub(config)
    return runtime.hub


async def until(hub: Any, entity_id: str, check: Callable[[State], bool], timeout: float = 5.0) -> State:
    """Wait (on polls, not a fixed sleep) until the entity's state passes check."""
    deadline = time.monotonic() + timeout
    while True:
        state = hub.states.get(entity_id)
        if state is not None and check(state):
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"{entity_id} never passed the check; it is {state}")
        await asyncio.sleep(0.02)


async def test_reads_several_meters_with_the_datasheet_scaling(start_hub: Any, tmp_path: Path, bus: PtyBus) -> None:
    hub = await start(start_hub, tmp_path, bus.port)
    power = await until(hub, "sensor.kitchen_power", lambda s: s.state not in ("unavailable", "unknown"))
    values = {key: float(hub.states.get(f"sensor.kitchen_{key}").state) for key in ("voltage", "current", "power", "energy", "frequency", "power_factor")}
    # 32-bit registers come low word first: 70.000 A and 16,100.5 W need the high word.
    assert values == {"voltage": 230.1, "current": 70.0, "power": 16100.5, "energy": 123.456, "frequency": 50.0, "power_factor": 0.99}
    assert power.attributes["unit_of_measurement"] == "W" and power.attributes["device_class"] == "power"
    assert power.attributes["state_class"] == "measurement" and power.attributes["address"] == 1
    energy = hub.states.get("sensor.kitchen_energy").attributes
    assert (energy["unit_of_measurement"], energy["device_class"], energy["state_class"]) == ("kWh", "energy", "total_increasing")
    assert hub.states.get("binary_sensor.kitchen_power_alarm").state == "on"
    await until(hub, "sensor.heater_power", lambda s: s.state == "28.2")
    assert hub.states.get("sensor.heater_current").state == "0.123"
    assert hub.states.get("sensor.heater_energy").state == "0.005"
    assert hub.states.get("binary_sensor.heater_power_alarm").state == "off"
    assert {frame[0] for frame in bus.requests} == {1, 2}  # each meter asked by its own address


async def test_crc_errors_are_retried_and_counted(start_hub: Any, tmp_path: Path, bus: PtyBus) -> None:
    hub = await start(start_hub, tmp_path, bus.port)
    await until(hub, "sensor.kitchen_power", lambda s: s.state == "16100.5")
    bus.meters[1].power_dw = 1000
    bus.meters[1].garble = 1  # one reply with a wrong CRC: the retry reads the meter
    state = await until(hub, "sensor.kitchen_power", lambda s: s.state == "100.0")
    assert state.attributes["retried"] >= 1 and state.attributes["crc_errors"] == 0

    bus.meters[1].garble = 10**6  # every reply garbled: the poll fails, CRC errors are counted
    state = await until(hub, "sensor.kitchen_power", lambda s: s.state == "unavailable")
    assert hub.states.get("sensor.kitchen_voltage").state == "unavailable"
    bus.meters[1].garble = 0
    state = await until(hub, "sensor.kitchen_power", lambda s: s.state == "100.0")
    assert state.attributes["crc_errors"] >= 2 and "CRC" in state.attributes["last_error"]


async def test_a_silent_meter_goes_unavailable_and_comes_back(start_hub: Any, tmp_path: Path, bus: PtyBus, caplog: Any) -> None:
    hub = await start(start_hub, tmp_path, bus.port)
    await until(hub, "sensor.heater_power", lambda s: s.state == "28.2")
    bus.meters[2].silent = True
    state = await until(hub, "sensor.heater_power", lambda s: s.state == "unavailable")
    assert hub.states.get("sensor.kitchen_power").state == "16100.5"  # the other meter reads on
    assert "failed 2 polls in a row, now unavailable" in caplog.text and "no reply from PZEM at address 2" in caplog.text
    bus.meters[2].silent = False
    state = await until(hub, "sensor.heater_power", lambda s: s.state == "28.2")
    assert state.attributes["timeouts"] >= 2 and "no reply" in state.attributes["last_error"]


async def test_reset_energy_by_button_and_by_service(start_hub: Any, tmp_path: Path, bus: PtyBus) -> None:
    hub = await start(start_hub, tmp_path, bus.port)
    await until(hub, "sensor.kitchen_energy", lambda s: s.state == "123.456")
    await hub.services.call("button", "press", target={"entity_id": "button.kitchen_reset_energy"})
    assert bus.meters[1].resets == 1 and bus.meters[2].resets == 0
    assert hub.states.get("sensor.kitchen_energy").state == "0.0"  # read again right after the reset
    assert hub.states.get("button.kitchen_reset_energy").state not in ("unknown", "unavailable")

    await hub.services.call("pzem", "reset_energy", {"address": 2})
    assert bus.meters[2].resets == 1 and hub.states.get("sensor.heater_energy").state == "0.0"
    await hub.services.call("pzem", "reset_energy", target={"entity_id": "sensor.kitchen_power"})
    assert bus.meters[1].resets == 2
    with pytest.raises(Exception, match=r"needs a meter.*\(1, 2\)"):
        await hub.services.call("pzem", "reset_energy", {"address": 9})


async def test_a_missing_port_is_reported_not_fatal(start_hub: Any, tmp_path: Path, caplog: Any) -> None:
    hub = await start(start_hub, tmp_path, str(tmp_path / "ttyUSB9"))
    await until(hub, "sensor.kitchen_power", lambda s: "Heater) on" in caplog.text and "now unavailable: cannot open" in caplog.text)
    assert hub.states.get("sensor.kitchen_power").state == "unavailable"
    assert caplog.text.count("Cannot open serial port") == 1  # said once, retried quietly


def test_config_names_the_bad_field() -> None:
    with pytest.raises(vol.Invalid, match=r"meters\[1\].address 1 is used twice"):
        CONFIG_SCHEMA({"port": "/dev/ttyUSB0", "meters": [{"address": 1}, {"address": 1}]})
    with pytest.raises(vol.Invalid, match="address"):
        CONFIG_SCHEMA({"port": "/dev/ttyUSB0", "meters": [{"address": 300}]})
    assert CONFIG_SCHEMA({"port": "/dev/ttyUSB0"})["meters"] == [{"address": 0xF8}]
