"""The devices page shows a device's retained discovery configs, read through the MQTT
integration's runtime: none (and no query of MQTT's table) when MQTT does not run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from integrations.frontend.devices import discovery_payloads
from integrations.mqtt import runtime_of
from tests.integrations.mqtt.conftest import device, mqtt_config, prefix, start_mqtt_hub, wait_state  # noqa: F401
from tests.hubs import write_config

METER = {
    "name": "Power", "unique_id": "shed_power", "state_topic": "shed/power",
    "device": {"identifiers": ["shed"], "name": "Shed meter"},
}


@pytest.mark.services
async def test_discovery_payloads_of_a_device(start_mqtt_hub: Any, device: Any, mosquitto_server: Any, prefix: str) -> None:
    runtime = await start_mqtt_hub(yaml=mqtt_config(mosquitto_server.url, prefix) + "frontend:\n")
    hub = runtime.hub
    await device.config("sensor/shed/power/config", METER)
    await wait_state(hub, "sensor.shed_meter_power")
    await runtime_of(hub).store.flush()
    shed = hub.device_registry.get_by_identifier("mqtt", "shed")
    payloads = await discovery_payloads(hub, shed)
    assert [p["topic"] for p in payloads] == [f"{prefix}/sensor/shed/power/config"]
    assert payloads[0]["component"] == "sensor"


async def test_no_discovery_payloads_without_mqtt(tmp_path: Path, start_hub: Any) -> None:
    config = write_config(tmp_path / "config", "frontend:\n")
    hub = (await start_hub(config)).hub
    node = await hub.device_registry.get_or_create(integration="mqtt", identifiers=[["mqtt", "shed"]], name="Shed")
    assert await discovery_payloads(hub, node) == []
