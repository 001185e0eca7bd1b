"""MQTT discovery where the hub differed from Home Assistant's documented behaviour (real Mosquitto)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integrations.mqtt.conftest import device, prefix, start_mqtt_hub, wait_removed, wait_state  # noqa: F401

pytestmark = pytest.mark.services


async def test_an_entity_of_a_device_without_a_name_is_named_by_itself(start_mqtt_hub: Any, device: Any) -> None:  # noqa: F811
    hub = (await start_mqtt_hub()).hub
    await device.config("sensor/nameless_power/config", {
        "name": "Power", "unique_id": "nameless_power", "state_topic": "nameless/power", "unit_of_measurement": "W",
        "device": {"identifiers": ["nameless-1"]},
    })
    state = await wait_state(hub, "sensor.power")
    assert state.attributes["friendly_name"] == "Power"
    await device.config("sensor/nameless_energy/config", {
        "name": None, "device_class": "energy", "unique_id": "nameless_energy", "state_topic": "nameless/energy",
        "device": {"identifiers": ["nameless-1"]},
    })
    # No entity name and no device name: HA names the entity_id after the platform and unique_id.
    state = await wait_state(hub, "sensor.mqtt_nameless_energy")
    assert "friendly_name" not in state.attributes


async def test_an_update_without_unique_id_changes_the_entity_in_place(start_mqtt_hub: Any, device: Any) -> None:  # noqa: F811
    hub = (await start_mqtt_hub()).hub
    await device.config("sensor/plain/config", {"name": "Plain", "state_topic": "plain/a"})
    await wait_state(hub, "sensor.plain")
    await device.publish("plain/a", "1")
    await wait_state(hub, "sensor.plain", "1")
    await device.config("sensor/plain/config", {"name": "Renamed", "state_topic": "plain/b"})
    await wait_state(hub, "sensor.plain", lambda state: state.attributes.get("friendly_name") == "Renamed")
    assert hub.states.get("sensor.renamed") is None
    await device.publish("plain/b", "2")
    await wait_state(hub, "sensor.plain", "2")
    # A unique_id that appears (or changes) later does not re-create it either.
    await device.config("sensor/plain/config", {"name": "Renamed", "state_topic": "plain/b", "unique_id": "plain_1", "unit_of_measurement": "W"})
    await wait_state(hub, "sensor.plain", lambda state: state.attributes.get("unit_of_measurement") == "W")
    assert [state.entity_id for state in hub.states.all("sensor")] == ["sensor.plain"]


async def test_a_timestamp_sensor_writes_iso_8601_with_a_t(start_mqtt_hub: Any, device: Any) -> None:  # noqa: F811
    hub = (await start_mqtt_hub()).hub
    await device.config("sensor/boot/config", {"name": "Boot", "state_topic": "boot/at", "device_class": "timestamp"})
    await wait_state(hub, "sensor.boot")
    await device.publish("boot/at", "2024-01-05 07:30:00+01:00")
    await wait_state(hub, "sensor.boot", "2024-01-05T06:30:00+00:00")
    await device.publish("boot/at", "2024-01-06T08:00:00Z")
    await wait_state(hub, "sensor.boot", "2024-01-06T08:00:00+00:00")
    await device.publish("boot/at", "not a time")
    await wait_state(hub, "sensor.boot", "unknown")
    await device.publish("boot/at", "2024-01-07 09:00:00")  # no time zone: not written, as in HA
    await device.publish("boot/at", "2024-01-08T10:00:00+00:00")
    await wait_state(hub, "sensor.boot", "2024-01-08T10:00:00+00:00")
