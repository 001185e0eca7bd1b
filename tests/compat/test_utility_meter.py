"""`utility_meter:` in Home Assistant's format: cycles with offsets, tariffs, reset and calibrate."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from hub.core.clock import ManualClock
from hub.core.hub import Hub
from integrations import utility_meter
from tests.automations.conftest import load_yaml_text


@pytest.fixture
def clock(hub: Hub) -> ManualClock:
    manual = ManualClock(datetime(2024, 6, 1, 12, 0, tzinfo=UTC))
    hub.clock = manual
    return manual


def state(hub: Hub, entity_id: str) -> Any:
    found = hub.states.get(entity_id)
    return None if found is None else found.state


def reading(hub: Hub, value: str) -> None:
    hub.states.set("sensor.heater_energy", value, {"unit_of_measurement": "kWh", "device_class": "energy"})


async def test_daily_meter_with_an_offset_and_tariffs(hub: Hub, clock: ManualClock) -> None:
    reading(hub, "100.0")
    await utility_meter.setup_integration(hub, load_yaml_text("""
        heater_daily:
          source: sensor.heater_energy
          name: Heater today
          cycle: daily
          offset: {hours: 6}
        heater_tariffs:
          source: sensor.heater_energy
          tariffs: [peak, offpeak]
        """))
    await hub.block_till_done()
    today = hub.states.get("sensor.heater_today")
    assert today.state == "unknown"  # until the source's first reading after start
    # Current HA's attributes (no source, meter_period or cron pattern any more); next_reset in local time.
    assert today.attributes["next_reset"] == "2024-06-02T06:00:00+00:00"
    assert not {"source", "meter_period", "cron pattern"} & set(today.attributes)
    assert today.attributes["status"] == "collecting" and today.attributes["state_class"] == "total_increasing"
    assert state(hub, "select.heater_tariffs") == "peak"
    assert hub.states.get("select.heater_tariffs").attributes["options"] == ["peak", "offpeak"]
    assert hub.states.get("sensor.heater_tariffs_offpeak").attributes["status"] == "paused"

    reading(hub, "101.5")
    today = hub.states.get("sensor.heater_today")
    assert today.state == "1.5"
    assert today.attributes["unit_of_measurement"] == "kWh" and today.attributes["device_class"] == "energy"
    assert state(hub, "sensor.heater_tariffs_peak") == "1.5"
    assert state(hub, "sensor.heater_tariffs_offpeak") == "unknown"

    await hub.services.call("select", "select_option", {"entity_id": "select.heater_tariffs", "option": "offpeak"}, blocking=True)
    reading(hub, "102.0")
    assert state(hub, "sensor.heater_tariffs_peak") == "1.5"
    assert state(hub, "sensor.heater_tariffs_offpeak") == "0.5"
    # A drop of the source (a meter reset) is not negative use.
    reading(hub, "0.5")
    assert state(hub, "sensor.heater_today") == "2.0"
    reading(hub, "1.0")
    assert state(hub, "sensor.heater_today") == "2.5"

    # 06:00 the next day: the cycle ends.
    await clock.set_time(datetime(2024, 6, 2, 6, 0, tzinfo=UTC))
    today = hub.states.get("sensor.heater_today")
    assert today.state == "0" and today.attributes["last_period"] == "2.5"
    assert today.attributes["last_reset"] == "2024-06-02T06:00:00+00:00"
    assert today.attributes["next_reset"] == "2024-06-03T06:00:00+00:00"
    assert state(hub, "sensor.heater_tariffs_offpeak") == "1.0"  # no cycle: never reset by time

    # reset through the select resets every tariff; calibrate sets a value.
    await hub.services.call("utility_meter", "reset", {"entity_id": "select.heater_tariffs"}, blocking=True)
    assert state(hub, "sensor.heater_tariffs_peak") == "0"
    assert state(hub, "sensor.heater_tariffs_offpeak") == "0"
    assert hub.states.get("sensor.heater_tariffs_offpeak").attributes["last_period"] == "1.0"
    await hub.services.call("utility_meter", "calibrate", {"entity_id": "sensor.heater_today", "value": "7.25"}, blocking=True)
    assert state(hub, "sensor.heater_today") == "7.25"


async def test_net_consumption_and_delta_values(hub: Hub, clock: ManualClock) -> None:
    hub.states.set("sensor.grid", "10", {"unit_of_measurement": "kWh"})
    hub.states.set("sensor.pulses", "0", {"unit_of_measurement": "Wh"})
    await utility_meter.setup_integration(hub, load_yaml_text("""
        grid_net:
          source: sensor.grid
          cycle: none
          net_consumption: true
        pulse_total:
          source: sensor.pulses
          delta_values: true
          cycle: hourly
        """))
    hub.states.set("sensor.grid", "12", {"unit_of_measurement": "kWh"})
    hub.states.set("sensor.grid", "9", {"unit_of_measurement": "kWh"})
    net = hub.states.get("sensor.grid_net")
    assert net.state == "-1" and net.attributes["state_class"] == "total"
    assert "next_reset" not in net.attributes  # cycle: none
    for value in ("5", "7", "3"):
        hub.states.set("sensor.pulses", value, {"unit_of_measurement": "Wh"})
    assert state(hub, "sensor.pulse_total") == "15"
    hub.states.set("sensor.pulses", "unavailable")
    assert state(hub, "sensor.pulse_total") == "unavailable"


def test_check_config_refuses_bad_meters() -> None:
    import voluptuous as vol

    with pytest.raises(vol.Invalid, match="either 'cycle' or 'cron'"):
        utility_meter.CONFIG_SCHEMA(load_yaml_text("m:\n  source: sensor.x\n  cycle: daily\n  cron: '0 6 * * *'\n"))
    with pytest.raises(vol.Invalid, match="cron pattern"):
        utility_meter.CONFIG_SCHEMA(load_yaml_text("m:\n  source: sensor.x\n  cron: 'every day'\n"))
    with pytest.raises(vol.Invalid):
        utility_meter.CONFIG_SCHEMA(load_yaml_text("m:\n  source: sensor.x\n  cycle: fortnightly\n"))


async def test_meters_and_integrals_survive_a_restart(tmp_path: Any, start_hub: Any) -> None:
    from hub import bootstrap
    from tests.hubs import write_config

    config = write_config(tmp_path / "config", """\
        input_number:
          energy: {min: 0, max: 100000, step: 0.001, unit_of_measurement: kWh}
          power: {min: 0, max: 10000, unit_of_measurement: W}
        utility_meter:
          energy_daily:
            source: input_number.energy
            cycle: daily
            tariffs: [peak, offpeak]
        sensor:
          - platform: integration
            source: input_number.power
            name: Heater energy
            method: left
        """)
    data = tmp_path / "data"
    runtime = await start_hub(config, data)
    hub = runtime.hub
    await hub.services.call("input_number", "set_value", {"entity_id": "input_number.energy", "value": 10}, blocking=True)
    await hub.services.call("input_number", "set_value", {"entity_id": "input_number.energy", "value": 12.5}, blocking=True)
    await hub.services.call("select", "select_option", {"entity_id": "select.energy_daily", "option": "offpeak"}, blocking=True)
    await hub.services.call("input_number", "set_value", {"entity_id": "input_number.energy", "value": 13}, blocking=True)
    # From the input's initial 0: 12.5 kWh at peak, then 0.5 kWh off-peak (HA counts the first step too).
    assert state(hub, "sensor.energy_daily_peak") == "12.5" and state(hub, "sensor.energy_daily_offpeak") == "0.5"
    clock = ManualClock(hub.clock.time())
    hub.clock = clock
    await hub.services.call("input_number", "set_value", {"entity_id": "input_number.power", "value": 3600}, blocking=True)
    await clock.advance(10)
    await hub.services.call("input_number", "set_value", {"entity_id": "input_number.power", "value": 0}, blocking=True)
    assert state(hub, "sensor.heater_energy") == "10.000"  # 3600 W for 10 s: 10 Wh
    await bootstrap.stop(runtime)

    hub = (await start_hub(config, data)).hub
    assert state(hub, "sensor.energy_daily_peak") == "12.5"
    assert state(hub, "sensor.energy_daily_offpeak") == "0.5"
    assert state(hub, "select.energy_daily") == "offpeak"
    assert state(hub, "sensor.heater_energy") == "10.000"
    # Counting goes on from the restored totals.
    await hub.services.call("input_number", "set_value", {"entity_id": "input_number.energy", "value": 14}, blocking=True)
    assert state(hub, "sensor.energy_daily_offpeak") == "1.5"
