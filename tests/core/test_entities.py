"""Entities of each domain and their standard services, through hub.services."""

from __future__ import annotations

from typing import Any

import pytest

from hub.core.context import Context
from hub.core.entity import (
    BinarySensorEntity,
    ButtonEntity,
    NumberEntity,
    SelectEntity,
    SensorEntity,
    SwitchEntity,
    TextEntity,
)
from hub.core.hub import Hub
from hub.exceptions import HubError, ServiceValidationError


class Relay(SwitchEntity):
    def __init__(self, name: str) -> None:
        self.name = name
        self.is_on = False

    async def turn_on(self, **kwargs: Any) -> None:
        self.is_on = True
        self.write_state()

    async def turn_off(self, **kwargs: Any) -> None:
        self.is_on = False
        self.write_state()


class Level(NumberEntity):
    name = "Level"
    native_value = 10.0
    native_min_value = 0
    native_max_value = 50
    native_step = 0.5

    async def set_value(self, value: float) -> None:
        self.native_value = value
        self.write_state()


class Mode(SelectEntity):
    name = "Mode"
    options = ["eco", "normal", "boost"]
    current_option = "normal"

    async def select_option(self, option: str) -> None:
        self.current_option = option
        self.write_state()


class Label(TextEntity):
    name = "Label"
    native_value = "a"
    native_max = 5
    pattern = "[a-z]+"

    async def set_value(self, value: str) -> None:
        self.native_value = value
        self.write_state()


class Reset(ButtonEntity):
    name = "Reset energy"
    presses = 0

    async def press(self) -> None:
        self.presses += 1


async def test_sensor_state_and_standard_attributes(hub: Hub) -> None:
    sensor = SensorEntity()
    sensor.name = "Kitchen power"
    sensor.native_value = 230.5
    sensor.unit_of_measurement = "W"
    sensor.device_class = "power"
    sensor.state_class = "measurement"
    sensor.icon = "mdi:flash"
    await hub.entities.add(sensor, "test")
    state = hub.states.get("sensor.kitchen_power")
    assert state.state == "230.5"
    assert state.attributes == {
        "state_class": "measurement",
        "unit_of_measurement": "W",
        "device_class": "power",
        "icon": "mdi:flash",
        "friendly_name": "Kitchen power",
    }


async def test_unknown_and_unavailable(hub: Hub) -> None:
    sensor = SensorEntity()
    sensor.name = "Voltage"
    await hub.entities.add(sensor, "test")
    assert hub.states.get("sensor.voltage").state == "unknown"
    sensor.available = False
    sensor.write_state()
    assert hub.states.get("sensor.voltage").state == "unavailable"


async def test_binary_sensor_on_off(hub: Hub) -> None:
    door = BinarySensorEntity()
    door.name = "Door"
    door.is_on = True
    await hub.entities.add(door, "test")
    assert hub.states.get("binary_sensor.door").state == "on"


async def test_switch_services_and_context(hub: Hub) -> None:
    await hub.entities.add(Relay("Pump"), "test")
    context = Context(user_id="owner")
    await hub.services.call("switch", "turn_on", {"entity_id": "switch.pump"}, context=context)
    state = hub.states.get("switch.pump")
    assert state.state == "on"
    assert state.context is context
    await hub.services.call("switch", "toggle", target={"entity_id": "switch.pump"})
    assert hub.states.get("switch.pump").state == "off"
    await hub.services.call("switch", "turn_on", target={"entity_id": "all"})
    assert hub.states.get("switch.pump").state == "on"


async def test_homeassistant_services_fan_out_by_domain(hub: Hub) -> None:
    await hub.entities.add(Relay("Pump"), "test")
    await hub.entities.add(Relay("Heater"), "test")
    await hub.services.call("homeassistant", "turn_on", {"entity_id": ["switch.pump", "switch.heater"]})
    assert hub.states.get("switch.pump").state == "on"
    assert hub.states.get("switch.heater").state == "on"
    await hub.services.call("homeassistant", "toggle", {"entity_id": "switch.heater"})
    assert hub.states.get("switch.heater").state == "off"


async def test_number_set_value_checks_range(hub: Hub) -> None:
    await hub.entities.add(Level(), "test")
    await hub.services.call("number", "set_value", {"entity_id": "number.level", "value": "12.5"})
    state = hub.states.get("number.level")
    assert state.state == "12.5"
    assert state.attributes["min"] == 0 and state.attributes["max"] == 50 and state.attributes["step"] == 0.5
    with pytest.raises(ServiceValidationError, match="outside valid range"):
        await hub.services.call("number", "set_value", {"entity_id": "number.level", "value": 99})
    with pytest.raises(ServiceValidationError, match="value"):
        await hub.services.call("number", "set_value", {"entity_id": "number.level"})
    assert hub.states.get("number.level").state == "12.5"


async def test_select_services(hub: Hub) -> None:
    await hub.entities.add(Mode(), "test")
    await hub.services.call("select", "select_option", {"entity_id": "select.mode", "option": "boost"})
    assert hub.states.get("select.mode").state == "boost"
    assert hub.states.get("select.mode").attributes["options"] == ["eco", "normal", "boost"]
    await hub.services.call("select", "select_next", {"entity_id": "select.mode"})
    assert hub.states.get("select.mode").state == "eco"
    await hub.services.call("select", "select_previous", {"entity_id": "select.mode", "cycle": False})
    assert hub.states.get("select.mode").state == "eco"
    await hub.services.call("select", "select_last", {"entity_id": "select.mode"})
    assert hub.states.get("select.mode").state == "boost"
    with pytest.raises(ServiceValidationError, match="not valid"):
        await hub.services.call("select", "select_option", {"entity_id": "select.mode", "option": "turbo"})


async def test_text_set_value_checks_length_and_pattern(hub: Hub) -> None:
    await hub.entities.add(Label(), "test")
    await hub.services.call("text", "set_value", {"entity_id": "text.label", "value": "abc"})
    assert hub.states.get("text.label").state == "abc"
    with pytest.raises(ServiceValidationError, match="too short or too long"):
        await hub.services.call("text", "set_value", {"entity_id": "text.label", "value": "abcdef"})
    with pytest.raises(ServiceValidationError, match="doesn't match pattern"):
        await hub.services.call("text", "set_value", {"entity_id": "text.label", "value": "AB"})


async def test_button_press_records_the_time(hub: Hub) -> None:
    button = Reset()
    await hub.entities.add(button, "test")
    assert hub.states.get("button.reset_energy").state == "unknown"
    await hub.services.call("button", "press", {"entity_id": "button.reset_energy"})
    assert button.presses == 1
    assert hub.states.get("button.reset_energy").state.endswith("+00:00")


async def test_entity_ids_are_unique_and_removal_clears_state(hub: Hub) -> None:
    first = await hub.entities.add(Relay("Pump"), "test")
    second = await hub.entities.add(Relay("Pump"), "test")
    assert (first.entity_id, second.entity_id) == ("switch.pump", "switch.pump_2")
    await hub.entities.remove("switch.pump")
    assert hub.states.get("switch.pump") is None
    assert hub.entities.get("switch.pump") is None


async def test_service_needs_a_target(hub: Hub) -> None:
    await hub.entities.add(Relay("Pump"), "test")
    with pytest.raises(ServiceValidationError, match="needs a target"):
        await hub.services.call("switch", "turn_on")


async def test_write_state_before_add_is_an_error() -> None:
    with pytest.raises(HubError, match="not added to a hub"):
        Relay("x").write_state()
