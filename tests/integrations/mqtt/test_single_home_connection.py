"""A single-home hub is untouched by the homes' shared connection: its own client, its own client id."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.mqtt import runtime_of, shared
from integrations.mqtt.client import MqttClient
from tests.integrations.mqtt.conftest import wait_state

pytestmark = pytest.mark.services


async def test_a_single_home_hub_has_its_own_connection_with_the_client_id_it_names(
        start_mqtt_hub: Any, mosquitto_server: Any) -> None:
    hub = (await start_mqtt_hub("client_id: barn-hub\n")).hub
    await wait_state(hub, "binary_sensor.mqtt_broker_connected", "on")
    mqtt = runtime_of(hub)
    assert mqtt is not None
    assert type(mqtt.client) is MqttClient  # not a home's client over the process's shared connection
    assert mqtt.client.settings.client_id == "barn-hub"
    assert mqtt.client.confine is None
    assert shared.connections() == []
