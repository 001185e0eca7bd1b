"""MQTT device triggers on a real Mosquitto: Zigbee2MQTT and Tasmota buttons reach automations."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.compat.conftest import state_of, until
from tests.firmware.conftest import Observer
from tests.hubs import write_config
from tests.integrations.mqtt.conftest import settled

pytestmark = pytest.mark.services

# Event-driven waits: generous, since a loaded machine (CI beside other jobs) is slow, and a
# passing run never waits this long.
WAIT = 30.0

Z2M_CONFIG = {
    "automation_type": "trigger",
    "type": "action",
    "subtype": "arrow_left_click",
    "payload": "arrow_left_click",
    "topic": "zigbee2mqtt/remote/action",
    "device": {"identifiers": ["zigbee2mqtt_0x90fd9ffffedf1266"], "name": "Remote", "manufacturer": "IKEA", "model": "E2001/E2002"},
    "origin": {"name": "Zigbee2MQTT", "sw": "1.40.0"},
}
TASMOTA_CONFIG = {  # abbreviated keys and a value template, as Tasmota sends them
    "atype": "trigger",
    "t": "stat/tasmota_A1B2C3/RESULT",
    "val_tpl": "{{ value_json.Button1.Action }}",
    "pl": "SINGLE",
    "type": "button_short_press",
    "stype": "button_1",
    "dev": {"cns": [["mac", "a4:cf:12:a1:b2:c3"]]},
}


async def test_a_zigbee2mqtt_button_press_fires_a_device_trigger(tmp_path: Path, start_hub: Any, mosquitto_server: Any) -> None:
    prefix = f"ha{uuid.uuid4().hex[:8]}"
    z2m_topic = f"{prefix}/device_automation/0x90fd9ffffedf1266/action_arrow_left_click/config"
    tasmota_topic = f"{prefix}/device_automation/A1B2C3_button_1_SINGLE/config"
    automations = tmp_path / "config" / "automations.yaml"
    config = write_config(tmp_path / "config", f"""\
        mqtt:
          broker: {mosquitto_server.url}
          discovery_prefix: {prefix}
        counter:
          left_clicks:
          single_presses:
        automation: !include automations.yaml
        """)
    # Written the way Home Assistant's automation editor writes a device trigger.
    automations.write_text("""\
- alias: Left click
  triggers:
    - trigger: device
      domain: mqtt
      device_id: not-known-yet
      discovery_id: 0x90fd9ffffedf1266 action_arrow_left_click
      type: action
      subtype: arrow_left_click
  actions:
    - action: counter.increment
      target: {entity_id: counter.left_clicks}
    - event: left_clicked
      event_data: {payload: "{{ trigger.payload }}", platform: "{{ trigger.platform }}", topic: "{{ trigger.topic }}"}
""")
    device = Observer(mosquitto_server.url, "zigbee2mqtt/#")
    try:
        runtime = await start_hub(config)
        hub = runtime.hub
        fired: list[dict[str, Any]] = []
        hub.bus.listen("left_clicked", lambda event: fired.append(dict(event.data)))
        device.publish(z2m_topic, json.dumps(Z2M_CONFIG), retain=True)
        registry = hub.require_device_registry()
        remote = await until(lambda: next((d for d in registry if d.name == "Remote"), None), "the remote in the device registry",
                             timeout=WAIT)
        # The trigger's subscription is acknowledged by the broker before the button is pressed: a
        # press before that is not delivered (QoS 0 to a filter the broker does not know yet).
        await settled(hub, timeout=WAIT)

        device.publish("zigbee2mqtt/remote/action", "arrow_right_click")  # another button: no trigger
        device.publish("zigbee2mqtt/remote/action", "arrow_left_click")
        await until(lambda: state_of(hub, "counter.left_clicks") == "1", "the left click to run the automation", timeout=WAIT)
        await until(lambda: fired, "the event with the trigger's data", timeout=WAIT)
        assert fired == [{"payload": "arrow_left_click", "platform": "mqtt", "topic": "zigbee2mqtt/remote/action"}]

        # A Tasmota button, used by device_id, type and subtype, in an automation added later.
        device.publish(tasmota_topic, json.dumps(TASMOTA_CONFIG), retain=True)
        plug = await until(lambda: next((d for d in registry if ("mac", "a4:cf:12:a1:b2:c3") in {tuple(c) for c in d.connections}), None), "the Tasmota device", timeout=WAIT)
        automations.write_text(automations.read_text() + f"""\
- alias: Single press
  triggers:
    - trigger: device
      domain: mqtt
      device_id: {plug.id}
      type: button_short_press
      subtype: button_1
  actions:
    - action: counter.increment
      target: {{entity_id: counter.single_presses}}
""")
        await hub.services.call("automation", "reload", {}, blocking=True)
        await settled(hub, timeout=WAIT)
        device.publish("stat/tasmota_A1B2C3/RESULT", json.dumps({"Button1": {"Action": "DOUBLE"}}))
        # The new automation subscribes as it attaches; press until the broker delivers one.
        await until(lambda: press_single(device) and state_of(hub, "counter.single_presses") != "0", "the single press", timeout=WAIT)
        presses = int(state_of(hub, "counter.single_presses") or 0)

        # Removing the discovery config removes the trigger: presses no longer run the automation.
        device.publish(z2m_topic, "", retain=True)
        await until(lambda: "0x90fd9ffffedf1266 action_arrow_left_click" not in _triggers(hub), "the trigger's removal", timeout=WAIT)
        device.publish("zigbee2mqtt/remote/action", "arrow_left_click")
        device.publish("stat/tasmota_A1B2C3/RESULT", json.dumps({"Button1": {"Action": "SINGLE"}}))
        await until(lambda: int(state_of(hub, "counter.single_presses") or 0) > presses, "the next single press", timeout=WAIT)
        assert state_of(hub, "counter.left_clicks") == "1"
        assert remote.id != plug.id
    finally:
        device.publish(tasmota_topic, "", retain=True)
        device.close()


def press_single(device: Observer) -> bool:
    device.publish("stat/tasmota_A1B2C3/RESULT", json.dumps({"Button1": {"Action": "SINGLE"}}))
    return True


def _triggers(hub: Any) -> dict[str, Any]:
    from integrations.mqtt.device_trigger import device_triggers

    return device_triggers(hub).triggers
