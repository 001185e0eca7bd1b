"""Template entities (template: and the legacy platform: template), as Home Assistant documents them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from hub.core.clock import ManualClock
from hub.core.hub import Hub
from integrations import template
from integrations.platforms import setup_platforms
from tests.automations.conftest import Recorder, load_yaml_text


@pytest.fixture
def clock(hub: Hub) -> ManualClock:
    manual = ManualClock(datetime(2024, 6, 1, 12, 0, tzinfo=UTC))
    hub.clock = manual
    return manual


async def setup(hub: Hub, text: str) -> None:
    await template.setup_integration(hub, load_yaml_text(text))
    await hub.block_till_done()


def state(hub: Hub, entity_id: str) -> Any:
    found = hub.states.get(entity_id)
    return None if found is None else found.state


async def test_state_based_sensor_and_binary_sensor_with_delays(hub: Hub, clock: ManualClock) -> None:
    hub.states.set("sensor.kitchen_power", "1200.5", {"unit_of_measurement": "W"})
    hub.states.set("sensor.office_power", "300", {"unit_of_measurement": "W"})
    await setup(hub, """
        - sensor:
            - name: House power
              unit_of_measurement: W
              device_class: power
              state_class: measurement
              state: "{{ states('sensor.kitchen_power') | float(0) + states('sensor.office_power') | float(0) }}"
              attributes:
                rooms: "{{ 2 }}"
            - name: Broken
              state: "{{ states('sensor.kitchen_power') | float }}"
              availability: "{{ has_value('sensor.kitchen_power') }}"
          binary_sensor:
            - name: Kitchen busy
              state: "{{ states('sensor.kitchen_power') | float(0) > 1000 }}"
              delay_off: "00:01:00"
        """)
    house = hub.states.get("sensor.house_power")
    assert house.state == "1500.5"
    assert dict(house.attributes) == {"rooms": 2, "unit_of_measurement": "W", "device_class": "power", "state_class": "measurement", "friendly_name": "House power"}
    assert state(hub, "binary_sensor.kitchen_busy") == "on"

    hub.states.set("sensor.kitchen_power", "10")
    assert state(hub, "sensor.house_power") == "310.0"
    assert state(hub, "binary_sensor.kitchen_busy") == "on"  # delay_off: still on
    await clock.advance(59)
    assert state(hub, "binary_sensor.kitchen_busy") == "on"
    await clock.advance(1)
    assert state(hub, "binary_sensor.kitchen_busy") == "off"

    hub.states.set("sensor.kitchen_power", "unavailable")
    assert state(hub, "sensor.broken") == "unavailable"


async def test_trigger_based_sensor_and_auto_off(hub: Hub, clock: ManualClock) -> None:
    await setup(hub, """
        - triggers:
            - trigger: event
              event_type: doorbell
          binary_sensor:
            - name: Doorbell rang
              state: "true"
              auto_off: 5
          sensor:
            - name: Last visitor
              state: "{{ trigger.event.data.who }}"
        """)
    assert state(hub, "sensor.last_visitor") == "unknown"
    hub.bus.fire("doorbell", {"who": "postman"})
    await hub.block_till_done()
    assert state(hub, "sensor.last_visitor") == "postman"
    assert state(hub, "binary_sensor.doorbell_rang") == "on"
    await clock.advance(5)
    assert state(hub, "binary_sensor.doorbell_rang") == "off"


async def test_switch_number_select_button_run_their_actions(hub: Hub, clock: ManualClock) -> None:
    calls = Recorder(hub)
    hub.states.set("input_boolean.heater", "off")
    await setup(hub, """
        - switch:
            - name: Heater
              state: "{{ is_state('input_boolean.heater', 'on') }}"
              turn_on: {action: test.record, data: {turn: "on"}}
              turn_off: {action: test.record, data: {turn: "off"}}
          number:
            - name: Target
              state: "{{ 21 }}"
              step: 0.5
              min: 5
              max: 30
              set_value: {action: test.record, data: {value: "{{ value }}"}}
          select:
            - name: Mode
              options: "{{ ['eco', 'comfort'] }}"
              state: "eco"
              select_option: {action: test.record, data: {option: "{{ option }}"}}
          button:
            - name: Boost
              press: {action: test.record, data: {pressed: true}}
        """)
    assert state(hub, "switch.heater") == "off"
    assert hub.states.get("number.target").attributes["step"] == 0.5
    assert hub.states.get("select.mode").attributes["options"] == ["eco", "comfort"]
    await hub.services.call("switch", "turn_on", {"entity_id": "switch.heater"}, blocking=True)
    await hub.services.call("number", "set_value", {"entity_id": "number.target", "value": 22.5}, blocking=True)
    await hub.services.call("select", "select_option", {"entity_id": "select.mode", "option": "comfort"}, blocking=True)
    await hub.services.call("button", "press", {"entity_id": "button.boost"}, blocking=True)
    assert calls.data == [{"turn": "on"}, {"value": 22.5}, {"option": "comfort"}, {"pressed": True}]


async def test_legacy_template_sensor_binary_sensor_and_switch(hub: Hub, clock: ManualClock) -> None:
    calls = Recorder(hub)
    hub.states.set("sensor.power", "2500")
    await setup_platforms(hub, "sensor", load_yaml_text("""
        - platform: template
          sensors:
            power_kw:
              friendly_name: Power (kW)
              unit_of_measurement: kW
              value_template: "{{ (states('sensor.power') | float / 1000) | round(2) }}"
              attribute_templates:
                source: sensor.power
        """))
    await setup_platforms(hub, "binary_sensor", [{"platform": "template", "sensors": {"overload": {"value_template": "{{ states('sensor.power') | float > 2000 }}"}}}])
    await setup_platforms(hub, "switch", [{"platform": "template", "switches": {"fan": {"turn_on": {"action": "test.record"}, "turn_off": {"action": "test.record"}}}}])
    power = hub.states.get("sensor.power_kw")
    assert power.state == "2.5"
    assert dict(power.attributes) == {"source": "sensor.power", "unit_of_measurement": "kW", "friendly_name": "Power (kW)"}
    assert hub.states.get("binary_sensor.overload").attributes["friendly_name"] == "overload"
    assert state(hub, "binary_sensor.overload") == "on"
    await hub.services.call("switch", "turn_on", {"entity_id": "switch.fan"}, blocking=True)
    assert state(hub, "switch.fan") == "on"  # optimistic without a value_template
    assert len(calls.calls) == 1


async def test_bad_blocks_are_reported_with_file_and_line(hub: Hub) -> None:
    issues = await template.check_integration_config(hub, load_yaml_text("""
        - sensor:
            - name: No state
              unit: W
        - bogus:
            - name: x
        """, "configuration.yaml"))
    assert [issue.format() for issue in issues] == [
        "configuration.yaml:3: template[0].unit: extra keys not allowed: 'unit' is not a valid option; required key not provided: 'state'",
        "configuration.yaml:5: template[1].bogus: extra keys not allowed: 'bogus' is not a valid option (expected binary_sensor, button, number, select, sensor, switch or triggers)",
    ]
