"""The `mqtt: client:` option: each backend is really the one in use, a wrong name is refused."""

from __future__ import annotations

import pytest
import voluptuous as vol

from integrations.mqtt import runtime_of
from integrations.mqtt.config import CONFIG_SCHEMA
from tests.integrations.mqtt.conftest import wait_state

pytestmark = pytest.mark.services


async def test_configured_backend_is_used(start_mqtt_hub, device, mqtt_client_backend):
    hub = (await start_mqtt_hub()).hub
    runtime = runtime_of(hub)
    assert runtime is not None
    assert runtime.client.settings.backend == mqtt_client_backend
    assert type(runtime.client._client).__module__ == f"integrations.mqtt.client_{mqtt_client_backend}"
    # And it carries traffic both ways: a QoS 1 state in, a QoS 1 command out.
    await device.listen("plug/set")
    await device.config("switch/plug/config", {"name": "Plug", "state_topic": "plug/state", "command_topic": "plug/set", "qos": 1})
    await wait_state(hub, "switch.plug")  # discovered and subscribed
    await device.publish("plug/state", "ON")
    await wait_state(hub, "switch.plug", "on")
    await hub.services.call("switch", "turn_off", {"entity_id": "switch.plug"}, blocking=True)
    assert (await device.expect("plug/set")).payload == b"OFF"


def test_unknown_client_is_refused():
    with pytest.raises(vol.Invalid) as error:
        CONFIG_SCHEMA({"client": "mosquitto"})
    assert error.value.path == ["client"]
    assert CONFIG_SCHEMA({"client": "paho"})["client"] == "paho"


async def test_qos_2_and_retained_states_arrive(start_mqtt_hub, device):
    # QoS 0/1 take the client's own PUBLISH parser on gmqtt, QoS 2 the library's handshake.
    kept = f"{device.prefix}/retained"  # a topic of this test's own: retained messages outlive it
    await device.publish(kept, "7", retain=True)
    hub = (await start_mqtt_hub()).hub
    await device.config("sensor/exact/config", {"name": "Exact", "state_topic": "meter/exact", "qos": 2})
    await device.config("sensor/kept/config", {"name": "Kept", "state_topic": kept, "qos": 1})
    await wait_state(hub, "sensor.kept", "7")  # the retained value, sent on subscribe
    await wait_state(hub, "sensor.exact")
    for value in ("1", "2", "3"):
        await device.publish("meter/exact", value, qos=2)
    await wait_state(hub, "sensor.exact", "3")
