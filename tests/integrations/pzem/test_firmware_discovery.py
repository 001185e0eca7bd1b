"""Meters of our node firmware, announced over MQTT discovery, get the right classes and units."""

from __future__ import annotations

import json
from typing import Any

import pytest

from firmware.config import validate
from firmware.discovery import messages
from tests.integrations.mqtt.conftest import wait_state

pytestmark = pytest.mark.services

EXPECTED = {
    "power": ("W", "power", "measurement", "1520.5"),
    "energy": ("kWh", "energy", "total_increasing", "12.345"),
    "voltage": ("V", "voltage", "measurement", "229.8"),
    "current": ("A", "current", "measurement", "6.617"),
    "frequency": ("Hz", "frequency", "measurement", "50.0"),
    "power_factor": (None, "power_factor", "measurement", "1.0"),
}


async def test_firmware_discovery_gives_each_reading_its_classes(start_mqtt_hub: Any, device: Any, prefix: str, mosquitto_server: Any) -> None:
    runtime = await start_mqtt_hub()
    hub = runtime.hub
    config = validate({
        "node_id": "garage-1", "name": "Garage", "discovery_prefix": prefix,
        "mqtt": {"host": mosquitto_server.host}, "relays": [{"name": "relay1", "pin": 5}],
    })
    await device.publish("devices/garage-1/status", "online", retain=True)
    for topic, payload in messages(config):
        await device.publish(topic, payload, retain=True)
    await wait_state(hub, "switch.garage_1_relay1")
    reading = {"voltage": 229.8, "current": 6.617, "power": 1520.5, "energy": 12.345, "frequency": 50.0, "power_factor": 1.0, "alarm": False, "ts": 1}
    await device.publish("devices/garage-1/state", json.dumps(reading))
    for key, (unit, device_class, state_class, value) in EXPECTED.items():
        state = await wait_state(hub, f"sensor.garage_1_{key}", value)
        attributes = state.attributes
        assert attributes.get("unit_of_measurement") == unit, key
        assert (attributes["device_class"], attributes["state_class"]) == (device_class, state_class), key
    assert hub.states.get("sensor.garage_1_power").attributes["friendly_name"] == "Garage Power"
