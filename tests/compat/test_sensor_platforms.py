"""The calculated sensor platforms (derivative, min_max, threshold, statistics, filter) as HA documents them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from hub.core.clock import ManualClock
from hub.core.hub import Hub
from integrations.platforms import check_platforms, setup_platforms
from tests.automations.conftest import load_yaml_text


@pytest.fixture
def clock(hub: Hub) -> ManualClock:
    manual = ManualClock(datetime(2024, 6, 1, 12, 0, tzinfo=UTC))
    hub.clock = manual
    return manual


async def setup(hub: Hub, domain: str, text: str) -> None:
    await setup_platforms(hub, domain, load_yaml_text(text))
    await hub.block_till_done()


def state(hub: Hub, entity_id: str) -> Any:
    found = hub.states.get(entity_id)
    return None if found is None else found.state


async def reading(hub: Hub, clock: ManualClock, seconds: float, entity_id: str, value: str, unit: str = "kWh") -> None:
    await clock.advance(seconds)
    hub.states.set(entity_id, value, {"unit_of_measurement": unit})


async def test_derivative_turns_an_energy_counter_into_power(hub: Hub, clock: ManualClock) -> None:
    hub.states.set("sensor.meter", "10.0", {"unit_of_measurement": "kWh"})
    await setup(hub, "sensor", """
        - platform: derivative
          source: sensor.meter
          name: Meter power
        - platform: derivative
          source: sensor.meter
          name: Meter watts
          unit_prefix: m        # kWh/h in thousandths: W
          unit_time: h
          round: 1
        - platform: derivative
          source: sensor.meter
          name: Smoothed
          time_window: "00:10:00"
        """)
    assert state(hub, "sensor.meter_power") == "0"
    # 0.5 kWh in 30 min: 1 kW.
    await reading(hub, clock, 1800, "sensor.meter", "10.5")
    power = hub.states.get("sensor.meter_power")
    assert power.state == "1.000"
    assert power.attributes["unit_of_measurement"] == "kWh/h"
    assert power.attributes["source"] == "sensor.meter"
    assert state(hub, "sensor.meter_watts") == "1000.0"
    assert hub.states.get("sensor.meter_watts").attributes["unit_of_measurement"] == "mkWh/h"
    # A step longer than the window gives that step's derivative.
    assert state(hub, "sensor.smoothed") == "1.000"
    # Two 5-minute steps inside the 10-minute window: 2 kW then 4 kW, weighted by half each: 3 kW.
    await reading(hub, clock, 300, "sensor.meter", "10.666666666666666666")
    await reading(hub, clock, 300, "sensor.meter", "11.0")
    assert state(hub, "sensor.meter_power") == "4.000"
    assert state(hub, "sensor.smoothed") == "3.000"
    # Unknown sources are skipped, not turned into zero.
    await reading(hub, clock, 60, "sensor.meter", "unavailable")
    assert state(hub, "sensor.meter_power") == "4.000"


async def test_min_max_follows_its_sources(hub: Hub) -> None:
    hub.states.set("sensor.a", "100", {"unit_of_measurement": "W"})
    hub.states.set("sensor.b", "300", {"unit_of_measurement": "W"})
    await setup(hub, "sensor", """
        - platform: min_max
          entity_ids: [sensor.a, sensor.b]
        - platform: min_max
          name: Total power
          type: sum
          entity_ids: [sensor.a, sensor.b]
        - platform: min_max
          type: mean
          round_digits: 1
          entity_ids: [sensor.a, sensor.b, sensor.c]
        - platform: min_max
          type: last
          entity_ids: [sensor.a, sensor.b]
        """)
    biggest = hub.states.get("sensor.max_sensor")
    assert biggest.state == "300.0"
    assert biggest.attributes["max_entity_id"] == "sensor.b"
    assert biggest.attributes["unit_of_measurement"] == "W"
    assert biggest.attributes["state_class"] == "measurement"
    assert state(hub, "sensor.total_power") == "400.0"
    assert state(hub, "sensor.mean_sensor") == "200.0"

    hub.states.set("sensor.a", "500.25", {"unit_of_measurement": "W"})
    assert state(hub, "sensor.max_sensor") == "500.25"
    assert hub.states.get("sensor.last_sensor").attributes["last_entity_id"] == "sensor.a"
    hub.states.set("sensor.c", "0", {"unit_of_measurement": "W"})
    assert state(hub, "sensor.mean_sensor") == "266.8"
    # sum is unknown while a source is; max leaves it out.
    hub.states.set("sensor.b", "unavailable")
    assert state(hub, "sensor.total_power") == "unknown"
    assert state(hub, "sensor.max_sensor") == "500.25"
    # Mixed units: ERR and unknown.
    hub.states.set("sensor.c", "1", {"unit_of_measurement": "kW"})
    assert state(hub, "sensor.mean_sensor") == "unknown"
    assert hub.states.get("sensor.mean_sensor").attributes["unit_of_measurement"] == "ERR"


async def test_threshold_with_hysteresis(hub: Hub) -> None:
    hub.states.set("sensor.power", "0")
    await setup(hub, "binary_sensor", """
        - platform: threshold
          name: Heater on
          entity_id: sensor.power
          upper: 1000
          hysteresis: 50
        - platform: threshold
          name: Normal voltage
          entity_id: sensor.power
          lower: 10
          upper: 20
        """)
    heater = hub.states.get("binary_sensor.heater_on")
    assert heater.state == "off"
    assert heater.attributes["position"] == "below" and heater.attributes["type"] == "upper"
    hub.states.set("sensor.power", "1040")   # inside the band: stays off
    assert state(hub, "binary_sensor.heater_on") == "off"
    hub.states.set("sensor.power", "1051")
    assert state(hub, "binary_sensor.heater_on") == "on"
    hub.states.set("sensor.power", "960")    # inside the band: stays on
    assert state(hub, "binary_sensor.heater_on") == "on"
    hub.states.set("sensor.power", "949")
    heater = hub.states.get("binary_sensor.heater_on")
    assert heater.state == "off"
    assert heater.attributes["sensor_value"] == 949.0 and heater.attributes["upper"] == 1000.0
    hub.states.set("sensor.power", "15")
    assert state(hub, "binary_sensor.normal_voltage") == "on"
    assert hub.states.get("binary_sensor.normal_voltage").attributes["position"] == "in_range"
    hub.states.set("sensor.power", "25")
    assert state(hub, "binary_sensor.normal_voltage") == "off"
    hub.states.set("sensor.power", "unavailable")
    assert hub.states.get("binary_sensor.heater_on").attributes["position"] == "unknown"
    assert state(hub, "binary_sensor.heater_on") == "off"


def test_check_config_names_a_bad_platform_item(hub: Hub) -> None:
    issues = check_platforms(hub, "binary_sensor", load_yaml_text("""
        - platform: threshold
          entity_id: sensor.power
        """))
    assert len(issues) == 1
    assert "give 'lower', 'upper' or both" in issues[0].format()
    issues = check_platforms(hub, "sensor", load_yaml_text("""
        - platform: derivative
          source: sensor.meter
          unit_time: week
        """))
    assert len(issues) == 1 and "unit_time" in issues[0].format()


async def test_statistics_over_a_buffer_and_an_age(hub: Hub, clock: ManualClock) -> None:
    hub.states.set("sensor.power", "100", {"unit_of_measurement": "W"})
    await setup(hub, "sensor", """
        - platform: statistics
          name: Mean power
          entity_id: sensor.power
          state_characteristic: mean
          sampling_size: 3
        - platform: statistics
          name: Recent max
          entity_id: sensor.power
          state_characteristic: value_max
          max_age: {minutes: 10}
        - platform: statistics
          name: Power variance
          entity_id: sensor.power
          state_characteristic: variance
          sampling_size: 20
          precision: 0
        - platform: statistics
          name: Door open share
          entity_id: binary_sensor.door
          state_characteristic: average_step
          max_age: {hours: 1}
        """)
    mean = hub.states.get("sensor.mean_power")
    assert mean.state == "100.0"
    assert mean.attributes["unit_of_measurement"] == "W" and mean.attributes["state_class"] == "measurement"
    assert mean.attributes["buffer_usage_ratio"] == 0.33 and mean.attributes["source_value_valid"] is True
    assert state(hub, "sensor.power_variance") == "unknown"  # needs two samples

    for value in ("200", "600", "700"):
        await reading(hub, clock, 60, "sensor.power", value, "W")
    assert state(hub, "sensor.mean_power") == "500.0"  # the last three
    assert state(hub, "sensor.recent_max") == "700.0"
    assert state(hub, "sensor.power_variance") == "86667"
    assert hub.states.get("sensor.power_variance").attributes["unit_of_measurement"] == "W²"
    # After ten minutes without a sample, the older ones leave the window one by one.
    await clock.advance(9 * 60 + 1)
    assert state(hub, "sensor.recent_max") == "700.0"
    await clock.advance(3 * 60)
    assert state(hub, "sensor.recent_max") == "unknown"
    # A reading that is not a number is not a sample.
    hub.states.set("sensor.power", "n/a", {"unit_of_measurement": "W"})
    assert hub.states.get("sensor.mean_power").attributes["source_value_valid"] is False
    assert state(hub, "sensor.mean_power") == "500.0"
    hub.states.set("sensor.power", "unavailable")
    assert state(hub, "sensor.mean_power") == "unavailable"

    hub.states.set("binary_sensor.door", "on")
    await clock.advance(15 * 60)
    hub.states.set("binary_sensor.door", "off")
    await clock.advance(45 * 60)
    hub.states.set("binary_sensor.door", "on")
    door = hub.states.get("sensor.door_open_share")
    assert door.state == "25.0" and door.attributes["unit_of_measurement"] == "%"


def test_statistics_refuses_what_ha_refuses(hub: Hub) -> None:
    issues = check_platforms(hub, "sensor", load_yaml_text("""
        - platform: statistics
          entity_id: sensor.power
          state_characteristic: count_on
          sampling_size: 5
        - platform: statistics
          entity_id: sensor.power
          state_characteristic: mean
        """))
    texts = [issue.format() for issue in issues]
    assert len(texts) == 2
    assert "'count_on' is not a characteristic of a numeric sensor" in texts[0]
    assert "give 'max_age', 'sampling_size' or both" in texts[1]


async def test_filter_chain(hub: Hub, clock: ManualClock) -> None:
    hub.states.set("sensor.power", "100", {"unit_of_measurement": "W", "device_class": "power", "state_class": "measurement"})
    await setup(hub, "sensor", """
        - platform: filter
          name: Clean power
          entity_id: sensor.power
          filters:
            - filter: outlier
              window_size: 3
              radius: 50
            - filter: range
              upper_bound: 400
        - platform: filter
          name: Smooth power
          entity_id: sensor.power
          filters:
            - filter: lowpass
              time_constant: 4
              precision: 1
        - platform: filter
          name: Averaged power
          entity_id: sensor.power
          filters:
            - filter: time_simple_moving_average
              window_size: "00:02:00"
        - platform: filter
          name: Throttled power
          entity_id: sensor.power
          filters:
            - filter: throttle
              window_size: 2
        - platform: filter
          name: Slow power
          entity_id: sensor.power
          filters:
            - filter: time_throttle
              window_size: "00:01:30"
        """)
    clean = hub.states.get("sensor.clean_power")
    assert clean.state == "100.0"
    assert clean.attributes["entity_id"] == "sensor.power"
    assert clean.attributes["unit_of_measurement"] == "W" and clean.attributes["device_class"] == "power"
    assert state(hub, "sensor.throttled_power") == "100.0"

    await reading(hub, clock, 60, "sensor.power", "120", "W")
    await reading(hub, clock, 60, "sensor.power", "110", "W")
    # Three raw values in the window: a spike is replaced by their median.
    await reading(hub, clock, 60, "sensor.power", "5000", "W")
    assert state(hub, "sensor.clean_power") == "110.0"
    # Lowpass: 100 -> 0.75*100 + 0.25*120 = 105 -> 0.75*105 + 0.25*110 = 106.25 -> 106.2 ...
    assert state(hub, "sensor.smooth_power") == "1329.7"
    # The moving average over the last two minutes: 120 for 60 s, 110 for 60 s.
    assert state(hub, "sensor.averaged_power") == "115.0"
    # throttle passes 100, 110 (every second state); time_throttle 100 then 110 (90 s later or more).
    assert state(hub, "sensor.throttled_power") == "110.0"
    assert state(hub, "sensor.slow_power") == "110.0"
    # A value beyond the bound, once the outlier filter accepts it, is clamped.
    for value in ("500", "501", "502"):
        await reading(hub, clock, 60, "sensor.power", value, "W")
    assert state(hub, "sensor.clean_power") == "400.0"
    hub.states.set("sensor.power", "unavailable")
    assert state(hub, "sensor.clean_power") == "unavailable"
