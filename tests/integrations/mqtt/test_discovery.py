"""Discovery against a real Mosquitto: each component, abbreviations, `~`, updates and removal."""

from __future__ import annotations

import pytest

from tests.integrations.mqtt.conftest import wait_removed, wait_state

pytestmark = pytest.mark.services


async def test_sensor_with_value_template_and_device(start_mqtt_hub, device):
    runtime = await start_mqtt_hub()
    hub = runtime.hub
    await device.config(
        "sensor/node1/power/config",
        {
            "name": "Power",
            "unique_id": "node1_power",
            "state_topic": "node1/tele/SENSOR",
            "value_template": "{{ value_json.ENERGY.Power }}",
            "unit_of_measurement": "W",
            "device_class": "power",
            "state_class": "measurement",
            "device": {"identifiers": ["node1"], "name": "Kitchen meter", "manufacturer": "Acme"},
        },
    )
    state = await wait_state(hub, "sensor.kitchen_meter_power")
    assert state.state == "unknown"
    assert state.attributes["friendly_name"] == "Kitchen meter Power"
    assert state.attributes["unit_of_measurement"] == "W"
    assert state.attributes["state_class"] == "measurement"
    await device.publish("node1/tele/SENSOR", {"ENERGY": {"Power": 231.5}})
    await wait_state(hub, "sensor.kitchen_meter_power", "231.5")
    device_entry = hub.device_registry.get_by_identifier("mqtt", "node1")
    assert device_entry.name == "Kitchen meter" and device_entry.manufacturer == "Acme"
    assert hub.entity_registry.get("sensor.kitchen_meter_power").device_id == device_entry.id


async def test_abbreviations_and_base_topic(start_mqtt_hub, device):
    hub = (await start_mqtt_hub()).hub
    await device.config(
        "switch/plug/config",
        {
            "~": "home/plug",
            "name": "Plug",
            "uniq_id": "plug_1",
            "cmd_t": "~/set",
            "stat_t": "~/state",
            "pl_on": "1",
            "pl_off": "0",
            "avty_t": "~/avail",
            "dev": {"ids": "plug-dev", "mf": "Maker", "mdl": "P1", "sw": "1.2", "name": "Plug dev"},
        },
    )
    await wait_state(hub, "switch.plug_dev_plug", "unavailable")
    await device.publish("home/plug/avail", "online")
    await wait_state(hub, "switch.plug_dev_plug", "unknown")
    await device.publish("home/plug/state", "1")
    await wait_state(hub, "switch.plug_dev_plug", "on")
    entry = hub.device_registry.get_by_identifier("mqtt", "plug-dev")
    assert (entry.manufacturer, entry.model, entry.sw_version) == ("Maker", "P1", "1.2")
    await device.listen("home/plug/set")
    await hub.services.call("switch", "turn_off", {"entity_id": "switch.plug_dev_plug"}, blocking=True)
    message = await device.expect("home/plug/set")
    assert message.payload == b"0"


async def test_each_component(start_mqtt_hub, device):
    hub = (await start_mqtt_hub()).hub
    await device.config("binary_sensor/door/config", {"name": "Door", "state_topic": "d/door", "device_class": "door"})
    await device.config("number/limit/config", {"name": "Limit", "command_topic": "d/limit/set", "state_topic": "d/limit", "min": 0, "max": 50, "step": 0.5})
    await device.config("select/mode/config", {"name": "Mode", "command_topic": "d/mode/set", "state_topic": "d/mode", "options": ["eco", "boost"]})
    await device.config("text/label/config", {"name": "Label", "command_topic": "d/label/set", "state_topic": "d/label", "max": 5, "pattern": "[a-z]*"})
    await device.config("button/reboot/config", {"name": "Reboot", "command_topic": "d/reboot", "payload_press": "REBOOT"})
    await device.config("light/lamp/config", {"name": "Lamp", "command_topic": "d/lamp/set", "state_topic": "d/lamp", "brightness_command_topic": "d/lamp/bri/set", "brightness_state_topic": "d/lamp/bri"})
    for entity_id in ("binary_sensor.door", "number.limit", "select.mode", "text.label", "button.reboot", "light.lamp"):
        await wait_state(hub, entity_id)

    await device.publish("d/door", "ON")
    await wait_state(hub, "binary_sensor.door", "on")
    await device.publish("d/limit", "12.5")
    await wait_state(hub, "number.limit", "12.5")
    assert hub.states.get("number.limit").attributes["max"] == 50
    await device.publish("d/mode", "boost")
    await wait_state(hub, "select.mode", "boost")
    await device.publish("d/label", "abc")
    await wait_state(hub, "text.label", "abc")
    await device.publish("d/lamp", "ON")
    await device.publish("d/lamp/bri", "128")
    state = await wait_state(hub, "light.lamp", lambda s: s.state == "on" and s.attributes.get("brightness") == 128)
    assert state.attributes["color_mode"] == "brightness"

    await device.listen("d/#")
    await hub.services.call("number", "set_value", {"entity_id": "number.limit", "value": 20}, blocking=True)
    assert (await device.expect("d/limit/set")).payload == b"20"
    await hub.services.call("select", "select_option", {"entity_id": "select.mode", "option": "eco"}, blocking=True)
    assert (await device.expect("d/mode/set")).payload == b"eco"
    await hub.services.call("text", "set_value", {"entity_id": "text.label", "value": "xyz"}, blocking=True)
    assert (await device.expect("d/label/set")).payload == b"xyz"
    await hub.services.call("button", "press", {"entity_id": "button.reboot"}, blocking=True)
    assert (await device.expect("d/reboot")).payload == b"REBOOT"
    await hub.services.call("light", "turn_on", {"entity_id": "light.lamp", "brightness": 255}, blocking=True)
    assert (await device.expect("d/lamp/bri/set")).payload == b"255"
    assert (await device.expect("d/lamp/set")).payload == b"ON"


async def test_update_in_place_and_removal(start_mqtt_hub, device):
    hub = (await start_mqtt_hub()).hub
    config = {"name": "Temp", "unique_id": "t1", "state_topic": "t/1", "unit_of_measurement": "°C",
              "device": {"identifiers": ["dev-t"], "name": "Probe"}}
    await device.config("sensor/t1/config", config)
    await wait_state(hub, "sensor.probe_temp")
    await device.publish("t/1", "20.5")
    await wait_state(hub, "sensor.probe_temp", "20.5")

    # Renamed device, new topic: same entity_id, new friendly name, follows the new topic.
    updated = {**config, "state_topic": "t/1b", "device": {"identifiers": ["dev-t"], "name": "Garden probe"}}
    await device.config("sensor/t1/config", updated)
    await wait_state(hub, "sensor.probe_temp", lambda s: s.attributes.get("friendly_name") == "Garden probe Temp")
    assert hub.device_registry.get_by_identifier("mqtt", "dev-t").name == "Garden probe"
    await device.publish("t/1b", "21.0")
    await wait_state(hub, "sensor.probe_temp", "21.0")

    await device.config("sensor/t1/config", "")
    await wait_removed(hub, "sensor.probe_temp")
    assert hub.states.get("sensor.probe_temp") is None
    assert "sensor.probe_temp" not in hub.entity_registry
    assert hub.device_registry.get_by_identifier("mqtt", "dev-t") is None

