"""Availability modes, JSON attributes and device-based discovery."""

from __future__ import annotations

import pytest

from tests.integrations.mqtt.conftest import wait_removed, wait_state

pytestmark = pytest.mark.services


def _switch(mode: str) -> dict:
    return {
        "name": f"Sw {mode}",
        "command_topic": f"a/{mode}/set",
        "state_topic": f"a/{mode}/state",
        "availability_mode": mode,
        "availability": [
            {"topic": f"a/{mode}/avail1"},
            {"topic": f"a/{mode}/avail2", "payload_available": "yes", "payload_not_available": "no"},
        ],
    }


async def test_availability_all_any_latest(start_mqtt_hub, device):
    hub = (await start_mqtt_hub()).hub
    for mode in ("all", "any", "latest"):
        await device.config(f"switch/{mode}/config", _switch(mode))
        await wait_state(hub, f"switch.sw_{mode}", "unavailable")

    for mode in ("all", "any", "latest"):
        await device.publish(f"a/{mode}/avail1", "online", retain=True)
    await wait_state(hub, "switch.sw_any", "unknown")  # available, no state received yet
    await wait_state(hub, "switch.sw_latest", "unknown")
    assert hub.states.get("switch.sw_all").state == "unavailable"  # one of two said nothing yet

    for mode in ("all", "any", "latest"):
        await device.publish(f"a/{mode}/avail2", "yes")
    await wait_state(hub, "switch.sw_all", "unknown")

    for mode in ("all", "any", "latest"):
        await device.publish(f"a/{mode}/avail2", "no")
    await wait_state(hub, "switch.sw_all", "unavailable")
    await wait_state(hub, "switch.sw_latest", "unavailable")
    assert hub.states.get("switch.sw_any").state != "unavailable"


async def test_availability_template_and_json_attributes(start_mqtt_hub, device):
    hub = (await start_mqtt_hub()).hub
    await device.config(
        "sensor/z2m/temp/config",
        {
            "name": "Temp",
            "state_topic": "z2m/dev",
            "value_template": "{{ value_json.temperature }}",
            "json_attributes_topic": "z2m/dev",
            "json_attributes_template": "{{ {'battery': value_json.battery} | tojson }}",
            "availability": [{"topic": "z2m/bridge/state", "value_template": "{{ value_json.state }}"}],
        },
    )
    await wait_state(hub, "sensor.temp", "unavailable")
    # Retained, as Zigbee2MQTT publishes it: it reaches the entity however fast its subscription is.
    await device.publish("z2m/bridge/state", {"state": "online"}, retain=True)
    await wait_state(hub, "sensor.temp", "unknown")
    await device.publish("z2m/dev", {"temperature": 21.5, "battery": 90})
    state = await wait_state(hub, "sensor.temp", "21.5")
    assert state.attributes["battery"] == 90


async def test_device_based_discovery(start_mqtt_hub, device):
    hub = (await start_mqtt_hub()).hub
    payload = {
        "dev": {"ids": "ea334450945afc", "name": "Kitchen", "mf": "Bla electronics", "mdl": "xya", "sw": "1.0"},
        "o": {"name": "bla2mqtt", "sw": "2.1", "url": "https://bla2mqtt.example.com/support"},
        "cmps": {
            "some_unique_component_id1": {"p": "sensor", "dev_cla": "temperature", "unit_of_measurement": "°C",
                                          "val_tpl": "{{ value_json.temperature }}", "unique_id": "temp01ae_t"},
            "some_unique_id2": {"p": "sensor", "dev_cla": "humidity", "unit_of_measurement": "%",
                                "val_tpl": "{{ value_json.humidity }}", "unique_id": "temp01ae_h"},
        },
        "state_topic": "sensorBedroom/state",
        "qos": 1,
    }
    await device.config("device/kitchen/config", payload)
    await wait_state(hub, "sensor.kitchen_temperature")
    await wait_state(hub, "sensor.kitchen_humidity")
    await device.publish("sensorBedroom/state", {"temperature": 23.2, "humidity": 43.7})
    await wait_state(hub, "sensor.kitchen_temperature", "23.2")
    await wait_state(hub, "sensor.kitchen_humidity", "43.7")

    # A component reduced to its platform is removed; the other stays.
    payload["cmps"]["some_unique_id2"] = {"p": "sensor"}
    await device.config("device/kitchen/config", payload)
    await wait_removed(hub, "sensor.kitchen_humidity")
    assert hub.states.get("sensor.kitchen_temperature") is not None

    # An empty payload removes every component and the device.
    await device.config("device/kitchen/config", "")
    await wait_removed(hub, "sensor.kitchen_temperature")
    assert hub.device_registry.get_by_identifier("mqtt", "ea334450945afc") is None
