"""The mqtt trigger platform, through a real automation."""

from __future__ import annotations

import asyncio
import textwrap

import pytest

from hub.core.services import ServiceCall
from tests.integrations.mqtt.conftest import mqtt_config, settled

pytestmark = pytest.mark.services


async def test_mqtt_trigger_in_an_automation(start_mqtt_hub, device, mosquitto_server, prefix):
    automation = textwrap.dedent(
        """\
        automation:
          - id: power_alarm
            alias: Power alarm
            triggers:
              - trigger: mqtt
                topic: "tele/+/SENSOR"
                value_template: "{{ value_json.ENERGY.Power > 2000 }}"
                payload: "True"
            actions:
              - action: test.record
                data:
                  topic: "{{ trigger.topic }}"
                  power: "{{ trigger.payload_json.ENERGY.Power }}"
                  platform: "{{ trigger.platform }}"
        """
    )
    hub = (await start_mqtt_hub(yaml=mqtt_config(mosquitto_server.url, prefix) + automation)).hub
    seen: list[dict] = []
    done = asyncio.get_running_loop().create_future()

    async def record(call: ServiceCall) -> None:
        seen.append(dict(call.data))
        if not done.done():
            done.set_result(None)

    hub.services.register("test", "record", record)
    await settled(hub)
    await device.publish("tele/plug1/SENSOR", {"ENERGY": {"Power": 150}})
    await device.publish("tele/plug2/SENSOR", "not json")
    await device.publish("tele/plug3/SENSOR", {"ENERGY": {"Power": 2500}})
    await asyncio.wait_for(done, 5)
    assert seen == [{"topic": "tele/plug3/SENSOR", "power": 2500, "platform": "mqtt"}]
