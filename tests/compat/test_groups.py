"""Old-style groups follow Home Assistant's state rules."""

from __future__ import annotations

from hub.core.hub import Hub
from integrations import group


async def test_group_states_follow_home_assistants_rules(hub: Hub) -> None:
    hub.states.set("switch.kettle", "off")
    hub.states.set("light.kitchen", "off")
    hub.states.set("device_tracker.anna", "not_home")
    hub.states.set("person.ben", "home")
    hub.states.set("sensor.power", "15")
    await group.setup_integration(hub, group.CONFIG_SCHEMA({
        "kitchen": {"name": "Kitchen", "entities": ["switch.kettle", "light.kitchen"]},
        "people": {"entities": "device_tracker.anna, person.ben"},
        "everyone_home": {"entities": ["device_tracker.anna", "person.ben"], "all": True},
        "mixed": {"entities": ["switch.kettle", "person.ben"]},
        "readings": {"entities": ["sensor.power"]},
        "of_groups": {"entities": ["group.kitchen"]},
    }))
    kitchen = hub.states.get("group.kitchen")
    assert kitchen.state == "off"
    assert dict(kitchen.attributes) == {"entity_id": ["switch.kettle", "light.kitchen"], "order": 0, "friendly_name": "Kitchen"}
    assert hub.states.get("group.people").state == "home"
    assert hub.states.get("group.people").attributes["friendly_name"] == "people"
    assert hub.states.get("group.everyone_home").state == "not_home"
    assert hub.states.get("group.mixed").state == "on"
    assert hub.states.get("group.readings").state == "unknown"
    assert hub.states.get("group.of_groups").state == "off"

    hub.states.set("light.kitchen", "on")
    assert hub.states.get("group.kitchen").state == "on"
    assert hub.states.get("group.of_groups").state == "on"
    hub.states.set("device_tracker.anna", "home")
    assert hub.states.get("group.everyone_home").state == "home"
    # expand() opens groups, as in templates.
    from hub.templating import Template

    assert Template("{{ expand('group.kitchen') | map(attribute='entity_id') | list }}", hub).render() == ["light.kitchen", "switch.kettle"]


async def test_sensor_and_binary_sensor_group_platforms(hub: Hub) -> None:
    from integrations.platforms import setup_platforms
    from tests.automations.conftest import load_yaml_text

    power = {"unit_of_measurement": "W", "device_class": "power", "state_class": "measurement"}
    hub.states.set("sensor.heater", "1500", power)
    hub.states.set("sensor.fridge", "80.5", power)
    hub.states.set("binary_sensor.kitchen_window", "off")
    hub.states.set("binary_sensor.hall_window", "off")
    await setup_platforms(hub, "sensor", load_yaml_text("""
        - platform: group
          name: House power
          type: sum
          entities: [sensor.heater, sensor.fridge]
        - platform: group
          type: max
          ignore_non_numeric: true
          entities: [sensor.heater, sensor.fridge]
        """))
    await setup_platforms(hub, "binary_sensor", load_yaml_text("""
        - platform: group
          name: Any window open
          device_class: window
          entities: [binary_sensor.kitchen_window, binary_sensor.hall_window]
        - platform: group
          name: All windows open
          all: true
          entities: [binary_sensor.kitchen_window, binary_sensor.hall_window]
        """))
    house = hub.states.get("sensor.house_power")
    assert house.state == "1580.5"
    assert house.attributes["unit_of_measurement"] == "W" and house.attributes["device_class"] == "power"
    assert house.attributes["state_class"] == "measurement"
    assert house.attributes["entity_id"] == ["sensor.heater", "sensor.fridge"]
    biggest = hub.states.get("sensor.sensor_group_max")
    assert biggest.state == "1500.0" and biggest.attributes["max_entity_id"] == "sensor.heater"
    # A member without a number: unknown without ignore_non_numeric, left out with it.
    hub.states.set("sensor.heater", "unavailable")
    assert hub.states.get("sensor.house_power").state == "unknown"
    assert hub.states.get("sensor.sensor_group_max").state == "80.5"
    hub.states.set("sensor.fridge", "unavailable")
    assert hub.states.get("sensor.house_power").state == "unavailable"

    assert hub.states.get("binary_sensor.any_window_open").state == "off"
    hub.states.set("binary_sensor.hall_window", "on")
    assert hub.states.get("binary_sensor.any_window_open").state == "on"
    assert hub.states.get("binary_sensor.all_windows_open").state == "off"
    hub.states.set("binary_sensor.kitchen_window", "unknown")
    assert hub.states.get("binary_sensor.any_window_open").state == "on"
    assert hub.states.get("binary_sensor.all_windows_open").state == "unknown"
    assert hub.states.get("binary_sensor.any_window_open").attributes["device_class"] == "window"
