"""Outages: the broker killed and restarted, the hub restarted with the broker gone."""

from __future__ import annotations

import asyncio
import time

import aiomqtt
import pytest

from hub.core.bus import callback
from tests.integrations.mqtt.conftest import settled, wait_removed, wait_state

pytestmark = pytest.mark.services


async def _until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_no_qos1_message_lost_when_broker_killed(start_mqtt_hub, device, mosquitto_server):
    hub = (await start_mqtt_hub()).hub
    await device.config("sensor/counter/config", {"name": "Counter", "state_topic": "c/value", "qos": 1})
    await wait_state(hub, "sensor.counter")
    await wait_state(hub, "binary_sensor.mqtt_broker_connected", "on")
    # The broker saves its sessions every second: wait for a save that includes ours.
    saved_after = time.time() + 0.1
    db = mosquitto_server.persistence_dir / "mosquitto.db"
    await _until(lambda: db.exists() and db.stat().st_mtime > saved_after)

    values: list[str] = []

    @callback
    def record(event) -> None:
        if event.data["entity_id"] == "sensor.counter" and event.data["new_state"] is not None:
            values.append(event.data["new_state"].state)

    hub.bus.listen("state_changed", record)
    mosquitto_server.kill()
    await wait_state(hub, "binary_sensor.mqtt_broker_connected", "off")
    assert hub.states.get("sensor.counter").state == "unknown"  # the hub runs on
    await asyncio.to_thread(mosquitto_server.start)
    async with aiomqtt.Client(mosquitto_server.host, mosquitto_server.port, identifier=f"pub-{device.prefix}") as publisher:
        for number in range(1, 51):
            await publisher.publish("c/value", str(number), qos=1)
    await wait_state(hub, "binary_sensor.mqtt_broker_connected", "on")
    await wait_state(hub, "sensor.counter", "50", timeout=15)
    assert values == [str(n) for n in range(1, 51)]


async def test_rediscovery_after_restart_with_broker_gone(start_mqtt_hub, device, mosquitto_server):
    runtime = await start_mqtt_hub()
    hub = runtime.hub
    await device.config("sensor/meter/power/config", {
        "name": "Power", "unique_id": "meter_power", "state_topic": "meter/power", "unit_of_measurement": "W",
        "device": {"identifiers": ["meter"], "name": "Meter"}})
    await device.config("switch/meter/relay/config", {
        "name": "Relay", "unique_id": "meter_relay", "command_topic": "meter/relay/set", "state_topic": "meter/relay",
        "device": {"identifiers": ["meter"], "name": "Meter"}})
    await device.config("sensor/gone/config", {"name": "Gone", "unique_id": "gone_1", "state_topic": "gone/x"})
    await wait_state(hub, "sensor.meter_power")
    await wait_state(hub, "switch.meter_relay")
    await wait_state(hub, "sensor.gone")
    await device.publish("meter/power", "1500")
    await device.publish("meter/relay", "ON")
    await wait_state(hub, "sensor.meter_power", "1500")
    await wait_state(hub, "switch.meter_relay", "on")
    await start_mqtt_hub.stop(runtime)

    # Removed upstream while the hub is down: the persistent session keeps the removal for us.
    await device.config("sensor/gone/config", "")
    mosquitto_server.stop()
    try:
        began = time.monotonic()
        hub = (await start_mqtt_hub()).hub
        # Every entity is back at once, with its last state, though no broker answers.
        assert hub.states.get("sensor.meter_power").state == "1500"
        assert hub.states.get("sensor.meter_power").attributes["friendly_name"] == "Meter Power"
        assert hub.states.get("switch.meter_relay").state == "on"
        assert hub.states.get("binary_sensor.mqtt_broker_connected").state == "off"
        assert time.monotonic() - began < 5
    finally:
        await asyncio.to_thread(mosquitto_server.start)
    await wait_state(hub, "binary_sensor.mqtt_broker_connected", "on", timeout=10)
    await wait_removed(hub, "sensor.gone")
    assert "sensor.gone" not in hub.entity_registry
    # Live again: states and config updates flow.
    await settled(hub)
    async with aiomqtt.Client(mosquitto_server.host, mosquitto_server.port) as publisher:
        await publisher.publish("meter/power", "1600", qos=1)
    await wait_state(hub, "sensor.meter_power", "1600", timeout=10)


async def test_publish_service(start_mqtt_hub, device):
    hub = (await start_mqtt_hub()).hub
    await device.listen("out/#")
    await hub.services.call("mqtt", "publish", {"topic": "out/a", "payload": "hello", "qos": 1}, blocking=True)
    assert (await device.expect("out/a")).payload == b"hello"
    hub.states.set("sensor.x", "42")
    await hub.services.call("mqtt", "publish", {"topic": "out/b", "payload_template": "{{ states('sensor.x') | int + 1 }}"}, blocking=True)
    assert (await device.expect("out/b")).payload == b"43"
    await hub.services.call("mqtt", "publish", {"topic": "out/c", "payload": "b'\\x01\\x02'", "evaluate_payload": True}, blocking=True)
    assert (await device.expect("out/c")).payload == b"\x01\x02"
    with pytest.raises(Exception, match="wildcards"):
        await hub.services.call("mqtt", "publish", {"topic": "out/#", "payload": "x"}, blocking=True)


async def test_birth_message_on_connect(mosquitto_server, start_mqtt_hub, device):
    await device.listen("homeassistant/status")
    await start_mqtt_hub()
    assert (await device.expect("homeassistant/status")).payload == b"online"


async def test_what_happened_while_the_hub_was_away_arrives_at_restart(start_mqtt_hub, device):
    """State topics at QoS 1 by default: the broker keeps readings for the hub; qos: 0 opts out.

    Discovery is QoS 0, so the broker queues no config removal: the hub finds it after connecting.
    """
    runtime = await start_mqtt_hub()
    hub = runtime.hub
    await device.config("sensor/kept/config", {"name": "Kept", "state_topic": "away/kept"})
    await device.config("sensor/lossy/config", {"name": "Lossy", "state_topic": "away/lossy", "qos": 0})
    await device.config("sensor/gone/config", {"name": "Gone", "state_topic": "away/gone"})
    for entity_id in ("sensor.kept", "sensor.lossy", "sensor.gone"):
        await wait_state(hub, entity_id)
    await device.publish("away/kept", "0")
    await device.publish("away/lossy", "0")
    await wait_state(hub, "sensor.kept", "0")
    await wait_state(hub, "sensor.lossy", "0")
    await start_mqtt_hub.stop(runtime)

    for value in ("1", "2", "3"):
        await device.publish("away/kept", value)
        await device.publish("away/lossy", value)
    await device.config("sensor/gone/config", "")  # removed while the hub is away

    hub = (await start_mqtt_hub()).hub
    await wait_state(hub, "sensor.kept", "3", timeout=10)
    await wait_removed(hub, "sensor.gone", timeout=10)
    await device.publish("away/kept", "4")  # a marker: what the broker kept has arrived by now
    await wait_state(hub, "sensor.kept", "4")
    assert hub.states.get("sensor.lossy").state == "unknown"  # QoS 0: the broker kept nothing for it
