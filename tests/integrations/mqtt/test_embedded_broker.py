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


@pytest.mark.skipif(shutil.which("mosquitto") is None and not shutil.os.path.exists("/usr/sbin/mosquitto"), reason="mosquitto not installed")
async def test_a_killed_embedded_broker_is_restarted_shown_and_reconnected_within_half_a_second(start_mqtt_hub, mqtt_client_backend):
    import asyncio
    import os
    import signal
    import time

    from hub.core.bus import callback

    hub = (await start_mqtt_hub(yaml="mqtt:\n  embedded:\n    port: 0\n")).hub
    broker = runtime_of(hub).broker
    assert broker is not None and broker._process is not None
    await wait_state(hub, "binary_sensor.mqtt_broker_connected", "on")
    await wait_state(hub, "binary_sensor.mqtt_embedded_broker", "on")
    seen: list[tuple[str, str, float]] = []

    @callback
    def changed(event) -> None:
        new = event.data["new_state"]
        if new is not None and new.entity_id in ("binary_sensor.mqtt_embedded_broker", "binary_sensor.mqtt_broker_connected"):
            seen.append((new.entity_id, new.state, time.monotonic()))

    undo = hub.bus.listen("state_changed", changed)
    try:
        os.kill(broker._process.pid, signal.SIGKILL)
        deadline = time.monotonic() + 20
        # Once the hub saw it exit, its listening socket is gone (a probe right after the kill
        # could still be accepted by the dying process).
        while "off" not in [state for seen_id, state, _ in seen if seen_id == "binary_sensor.mqtt_embedded_broker"]:
            assert time.monotonic() < deadline, "the hub did not notice the broker exit"
            await asyncio.sleep(0.001)
        # When does the broker accept connections again? Probe its port as a device would.
        accepting = None
        while accepting is None and time.monotonic() < deadline:
            try:
                _reader, writer = await asyncio.open_connection("127.0.0.1", broker.port)
                accepting = time.monotonic()
                writer.close()
            except OSError:
                await asyncio.sleep(0.005)
        assert accepting is not None, "the embedded broker was not restarted"

        def states(entity_id: str) -> list[str]:
            return [state for seen_id, state, _ in seen if seen_id == entity_id]

        while time.monotonic() < deadline and not (
            states("binary_sensor.mqtt_embedded_broker")[-1:] == ["on"] and states("binary_sensor.mqtt_broker_connected")[-2:] == ["off", "on"]
        ):
            await asyncio.sleep(0.01)
    finally:
        undo()
    embedded = [state for entity_id, state, _ in seen if entity_id == "binary_sensor.mqtt_embedded_broker"]
    assert embedded == ["off", "on"]  # the hub's state showed the broker down, then up again
    assert hub.states.get("binary_sensor.mqtt_embedded_broker").attributes["restarts"] == 1
    reconnected = [at for entity_id, state, at in seen if entity_id == "binary_sensor.mqtt_broker_connected" and state == "on"]
    assert reconnected, "the hub did not reconnect"
    await _discover_through(hub, broker.port)
    late = reconnected[-1] - accepting
    assert late < 0.5, f"{mqtt_client_backend}: reconnected {late:.2f} s after the broker accepted"


def test_reconnect_delays_first_fast_then_backoff_with_jitter_capped_while_refused():
    from integrations.mqtt.client import ConnectionSettings, MqttClient

    client = MqttClient.__new__(MqttClient)
    client.settings = ConnectionSettings(host="127.0.0.1", port=1)
    first = [client._retry_delay(1, refused=False) for _ in range(200)]
    assert max(first) <= 0.05 and min(first) >= 0.025  # the first retry comes fast
    assert len({round(d, 6) for d in first}) > 100  # jitter: hubs do not retry in step
    later = [client._retry_delay(8, refused=False) for _ in range(200)]
    assert min(later) > 1.0 and max(later) <= 0.05 * 2**7  # backoff once the broker keeps failing
    assert max(client._retry_delay(n, refused=True) for n in range(1, 30) for _ in range(20)) <= 0.4
