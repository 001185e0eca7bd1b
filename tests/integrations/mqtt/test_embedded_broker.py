"""The embedded broker a new user gets when the config names none."""

from __future__ import annotations

import shutil
import socket

import aiomqtt
import pytest

from integrations.mqtt import runtime_of
from tests.integrations.mqtt.conftest import wait_state


async def _discover_through(hub, port: int) -> None:
    async with aiomqtt.Client("127.0.0.1", port) as device:
        await device.publish("homeassistant/sensor/emb/config", '{"name": "Emb", "state_topic": "emb/s"}', qos=1, retain=True)
        await wait_state(hub, "sensor.emb")
        await device.publish("emb/s", "7", qos=1)
        await wait_state(hub, "sensor.emb", "7")


@pytest.mark.skipif(shutil.which("mosquitto") is None and not shutil.os.path.exists("/usr/sbin/mosquitto"), reason="mosquitto not installed")
async def test_embedded_mosquitto_takes_a_free_port_when_busy(start_mqtt_hub):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        hub = (await start_mqtt_hub(yaml=f"mqtt:\n  embedded:\n    port: {port}\n")).hub
        runtime = runtime_of(hub)
        assert runtime.broker is not None and runtime.broker.port != port
        assert runtime.broker._process is not None  # a managed mosquitto process
        await wait_state(hub, "binary_sensor.mqtt_broker_connected", "on")
        await _discover_through(hub, runtime.broker.port)


async def test_embedded_amqtt(start_mqtt_hub):
    hub = (await start_mqtt_hub(yaml="mqtt:\n  embedded:\n    port: 0\n    engine: amqtt\n")).hub
    runtime = runtime_of(hub)
    assert runtime.broker is not None and runtime.broker._amqtt is not None
    await wait_state(hub, "binary_sensor.mqtt_broker_connected", "on")
    await _discover_through(hub, runtime.broker.port)
