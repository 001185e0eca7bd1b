"""Discovery payloads as Tasmota, ESPHome, Zigbee2MQTT and Home Assistant's docs publish them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integrations.mqtt.conftest import wait_state

pytestmark = pytest.mark.services

FIXTURES = Path(__file__).parent / "fixtures"
NAMES = sorted(path.stem for path in FIXTURES.glob("*.json"))
AVAILABILITY_TOPICS = ("LWT", "status", "bridge/state")


def test_there_are_enough_real_payloads():
    sources = {json.loads((FIXTURES / f"{name}.json").read_text())["source"].split(" (")[0] for name in NAMES}
    assert len(NAMES) >= 12 and len(sources) >= 4


@pytest.mark.parametrize("name", NAMES)
async def test_real_payload(start_mqtt_hub, device, name):
    fixture = json.loads((FIXTURES / f"{name}.json").read_text())
    hub = (await start_mqtt_hub()).hub
    configs = [(t, p) for t, p in fixture["messages"] if t.endswith("/config")]
    others = [(t, p) for t, p in fixture["messages"] if not t.endswith("/config")]
    for topic, payload in configs:
        await device.publish(device.prefix + topic.removeprefix("homeassistant"), payload, retain=True)
    for entity_id in fixture["expect"]:
        await wait_state(hub, entity_id)
    for topic, payload in others:
        await device.publish(topic, payload, retain=topic.endswith(AVAILABILITY_TOPICS))
    for entity_id, expected in fixture["expect"].items():
        state = await wait_state(hub, entity_id, expected["state"])
        for key, value in expected.get("attributes", {}).items():
            assert state.attributes.get(key) == value, (entity_id, key)
    if "command" in fixture:
        service, entity_id, topic, payload = fixture["command"]
        domain, _, action = service.partition(".")
        await device.listen(topic)
        data = {"entity_id": entity_id}
        if action == "select_option":
            data["option"] = payload
        elif action == "set_value":
            data["value"] = float(payload)
        await hub.services.call(domain, action, data, blocking=True)
        assert (await device.expect(topic)).payload.decode() == payload
