"""Message order the broker produces on (re)connect: a retained discovery, then at once the
retained states and a telemetry field nobody announced, before any entity exists. Nothing is
lost. The handlers are called as the MQTT client calls them, inline, in this order."""

from __future__ import annotations

from typing import Any

import orjson

from hub.core.hub import Hub
from hub.reading_time import Skew
from integrations.easysmart.adapter import Adapter
from integrations.easysmart.protocol import Topics
from integrations.mqtt.subscriptions import Message
from tests.core.conftest import hub as core_hub  # noqa: F401 - the in-memory hub fixture

DISCOVERY = {"device": {"id": "d1", "name": "Heat pump", "firmware": "1.0"},
             "entities": [{"id": "relay", "type": "switch"}, {"id": "power", "unit": "W"}]}


class Outbox:
    """The MQTT runtime API's port as the adapter uses it: subscriptions are made by the test's calls."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    def subscribe(self, topic: str, handler: Any, qos: int = 0) -> Any:
        return lambda: None

    async def publish(self, topic: str, payload: Any, qos: int = 0, retain: bool = False) -> None:
        self.sent.append((topic, payload))


def message(topic: str, payload: Any) -> Message:
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return Message(topic, body, 1, True, 0.0)


async def test_states_that_come_right_after_the_discovery_wait_for_the_entities(core_hub: Hub) -> None:  # noqa: F811
    adapter = Adapter(core_hub, Outbox(), Topics(""), Skew())  # type: ignore[arg-type]
    adapter.on_discovery(message("devices/d1/discovery", DISCOVERY))
    adapter.on_state(message("devices/d1/relay/state", b"ON"))
    adapter.on_telemetry(message("devices/d1/telemetry", {"power": 950, "flow_temp": 35.5}))
    adapter.on_status(message("devices/d1/status", b"online"))
    await core_hub.block_till_done()
    assert core_hub.states.get("switch.heat_pump_relay").state == "on"
    assert core_hub.states.get("sensor.heat_pump_power").state == "950"
    assert core_hub.states.get("sensor.heat_pump_flow_temp").state == "35.5"

    # The same discovery again (a reconnect) changes nothing; a new firmware rebuilds the entities,
    # and the sensor made for the unannounced field stays.
    adapter.on_discovery(message("devices/d1/discovery", DISCOVERY))
    await core_hub.block_till_done()
    assert core_hub.states.get("switch.heat_pump_relay").state == "on"
    newer = {**DISCOVERY, "device": {**DISCOVERY["device"], "firmware": "1.1"}}
    adapter.on_discovery(message("devices/d1/discovery", newer))
    adapter.on_state(message("devices/d1/relay/state", b"OFF"))
    await core_hub.block_till_done()
    assert core_hub.states.get("switch.heat_pump_relay").state == "off"
    assert core_hub.states.get("sensor.heat_pump_flow_temp") is not None

    adapter.on_discovery(message("devices/d1/discovery", b""))
    await core_hub.block_till_done()
    assert core_hub.states.get("switch.heat_pump_relay") is None
    assert core_hub.states.get("sensor.heat_pump_flow_temp") is None
