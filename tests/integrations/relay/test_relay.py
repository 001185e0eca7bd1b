"""Relays under command control: confirmed by the device's echo, timed out, queued while offline, limited."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from hub.core.clock import ManualClock
from hub.core.context import Context
from hub.exceptions import ServiceValidationError
from integrations.relay import manager_of
from integrations.relay.models import RelayCommandRow
from tests.integrations.mqtt.conftest import settled, wait_event, wait_state

pytestmark = pytest.mark.services

NODE = "node-7"
BASE = f"devices/{NODE}"


def relay_config(node: str = NODE, manufacturer: str = "powerhub") -> dict[str, Any]:
    """What our firmware announces for relay1 (firmware/discovery.py), expanded."""
    return {
        "~": f"devices/{node}",
        "name": "Relay 1",
        "uniq_id": f"{node}_relay1",
        "obj_id": f"{node.replace('-', '_')}_relay1",
        "avty_t": "~/status",
        "cmd_t": "~/relay1/set",
        "stat_t": "~/relay1/state",
        "pl_on": "ON",
        "pl_off": "OFF",
        "dev": {"ids": [node], "name": "Kitchen", "mf": manufacturer, "mdl": "PZEM-004T v3 node"},
    }




@pytest.fixture
async def setup(start_mqtt_hub: Any, device: Any, prefix: str, mosquitto_server: Any, tmp_path: Any) -> Any:
    """A hub with mqtt + relay, one firmware relay discovered, online and off."""
    from tests.integrations.mqtt.conftest import mqtt_config

    yaml = mqtt_config(mosquitto_server.url, prefix) + "relay:\n  timeout: 5\n  queue_ttl: 60\n  switches:\n    - entity_id: switch.node_7_relay1\n      min_on_time: 30\n    - unique_id: node-7_relay2\n      max_toggles_per_minute: 2\n"
    runtime = await start_mqtt_hub(yaml=yaml)
    hub = runtime.hub
    await device.listen(f"{BASE}/relay1/set")
    await device.publish(f"{BASE}/status", "online", retain=True)
    await device.publish(f"{BASE}/relay1/state", "OFF", retain=True)
    await device.config("switch/node-7/relay1/config", relay_config())
    await wait_state(hub, "switch.node_7_relay1", "off")
    manager = manager_of(hub)
    clock = ManualClock(1_700_000_000)
    manager.clock = clock
    return runtime, hub, manager, clock


async def rows(hub: Any) -> list[RelayCommandRow]:
    await manager_of(hub).store.flush()
    async with hub.db() as session:
        return list((await session.execute(select(RelayCommandRow).order_by(RelayCommandRow.created_at))).scalars())


async def test_state_changes_only_when_the_device_confirms(setup: Any, device: Any) -> None:
    runtime, hub, manager, clock = setup
    user = await hub.auth.add_user("ann", "password123", "user")
    await hub.services.call("switch", "turn_on", target={"entity_id": "switch.node_7_relay1"}, context=Context(user_id=user.id))
    message = await device.expect(f"{BASE}/relay1/set")
    assert message.payload == b"ON"
    assert hub.states.get("switch.node_7_relay1").state == "off"  # not optimistic
    [pending] = (c for c in manager.get("switch.node_7_relay1").inflight)
    assert pending.status in ("sent", "acknowledged")

    await device.publish(f"{BASE}/relay1/state", "ON", retain=True)
    state = await wait_state(hub, "switch.node_7_relay1", "on")
    assert state.context.user_id == user.id
    [row] = await rows(hub)
    assert (row.command, row.status, row.user_id, row.error) == ("on", "confirmed", user.id, None)
    assert row.context_id == state.context.id
    assert row.sent_at is not None and row.confirmed_at is not None
    [entry] = await hub.auth.audit.entries(action="relay_command")
    assert entry.user_id == user.id and entry.result == "sent"
    assert f"context={row.context_id}" in entry.target and "switch.node_7_relay1 on" in entry.target


async def test_no_echo_times_out_with_an_event(setup: Any, device: Any) -> None:
    runtime, hub, manager, clock = setup
    failed = asyncio.ensure_future(wait_event(hub, "relay_command_failed"))
    await hub.services.call("switch", "turn_on", target={"entity_id": "switch.node_7_relay1"})
    await device.expect(f"{BASE}/relay1/set")
    await clock.advance(4.9)
    assert not failed.done()
    await clock.advance(0.2)
    event = await failed
    assert event.data["entity_id"] == "switch.node_7_relay1" and event.data["command"] == "on"
    assert "no confirmation" in event.data["reason"] and event.data["status"] == "timed_out"
    assert hub.states.get("switch.node_7_relay1").state == "off"
    [row] = await rows(hub)
    assert row.status == "timed_out"


async def test_a_device_reporting_the_other_state_fails_the_command(setup: Any, device: Any) -> None:
    runtime, hub, manager, clock = setup
    failed = asyncio.ensure_future(wait_event(hub, "relay_command_failed"))
    await hub.services.call("switch", "turn_on", target={"entity_id": "switch.node_7_relay1"})
    await device.expect(f"{BASE}/relay1/set")
    await device.publish(f"{BASE}/relay1/state", "OFF")  # a stuck relay reads back off
    await settled(hub)
    await asyncio.sleep(0.05)  # noqa: ASYNC251 - let the broker deliver the echo before time moves
    await clock.advance(5.1)
    event = await failed
    assert event.data["status"] == "failed" and "reported off instead of on" in event.data["reason"]


async def test_offline_device_gets_the_queued_command_when_it_returns(setup: Any, device: Any) -> None:
    runtime, hub, manager, clock = setup
    await device.publish(f"{BASE}/status", "offline", retain=True)
    await wait_state(hub, "switch.node_7_relay1", "unavailable")
    await hub.services.call("switch", "turn_on", target={"entity_id": "switch.node_7_relay1"})
    [queued] = manager.get("switch.node_7_relay1").queue
    assert queued.status == "queued"
    assert [r.status for r in await rows(hub)] == ["queued"]

    await device.publish(f"{BASE}/status", "online", retain=True)
    message = await device.expect(f"{BASE}/relay1/set")
    assert message.payload == b"ON"
    await device.publish(f"{BASE}/relay1/state", "ON", retain=True)
    await wait_state(hub, "switch.node_7_relay1", "on")
    assert [r.status for r in await rows(hub)] == ["confirmed"]


async def test_queued_commands_expire_after_their_ttl(setup: Any, device: Any) -> None:
    runtime, hub, manager, clock = setup
    await device.publish(f"{BASE}/status", "offline", retain=True)
    await wait_state(hub, "switch.node_7_relay1", "unavailable")
    failed = asyncio.ensure_future(wait_event(hub, "relay_command_failed"))
    await hub.services.call("switch", "turn_on", target={"entity_id": "switch.node_7_relay1"})
    await clock.advance(61)
    event = await failed
    assert event.data["status"] == "expired" and "queue_ttl" in event.data["reason"]
    await device.publish(f"{BASE}/status", "online", retain=True)
    await wait_state(hub, "switch.node_7_relay1", "off")
    assert [r.status for r in await rows(hub)] == ["expired"]


async def test_safety_limits_refuse_with_a_clear_reason(setup: Any, device: Any) -> None:
    runtime, hub, manager, clock = setup
    target = {"entity_id": "switch.node_7_relay1"}
    await hub.services.call("switch", "turn_on", target=target)
    await device.expect(f"{BASE}/relay1/set")
    await device.publish(f"{BASE}/relay1/state", "ON", retain=True)
    await wait_state(hub, "switch.node_7_relay1", "on")
    await clock.advance(10)
    with pytest.raises(ServiceValidationError, match=r"must stay on for at least 30 s \(min_on_time\); try again in 20.0 s"):
        await hub.services.call("switch", "turn_off", target=target)
    assert hub.states.get("switch.node_7_relay1").state == "on"
    await clock.advance(21)
    await hub.services.call("switch", "turn_off", target=target)
    assert (await device.expect(f"{BASE}/relay1/set")).payload == b"OFF"
    await device.publish(f"{BASE}/relay1/state", "OFF", retain=True)
    await wait_state(hub, "switch.node_7_relay1", "off")
    statuses = [r.status for r in await rows(hub)]
    assert statuses == ["confirmed", "failed", "confirmed"]
    [refused] = [e for e in await hub.auth.audit.entries(action="relay_command") if e.result == "refused"]
    assert "switch.node_7_relay1 off" in refused.target


async def test_too_many_toggles_per_minute_are_refused(setup: Any, device: Any) -> None:
    runtime, hub, manager, clock = setup
    config = relay_config()
    config.update(name="Relay 2", uniq_id="node-7_relay2", obj_id="node_7_relay2", cmd_t="~/relay2/set", stat_t="~/relay2/state")
    await device.listen(f"{BASE}/relay2/set")
    await device.publish(f"{BASE}/relay2/state", "OFF", retain=True)
    await device.config("switch/node-7/relay2/config", config)
    await wait_state(hub, "switch.node_7_relay2", "off")
    target = {"entity_id": "switch.node_7_relay2"}
    for payload in ("ON", "OFF"):
        await hub.services.call("switch", "toggle", target=target)
        assert (await device.expect(f"{BASE}/relay2/set")).payload == payload.encode()
        await device.publish(f"{BASE}/relay2/state", payload, retain=True)
        await wait_state(hub, "switch.node_7_relay2", payload.lower())
        await clock.advance(20)
    with pytest.raises(ServiceValidationError, match=r"switched 2 times in the last minute \(max_toggles_per_minute 2\); try again in 20.0 s"):
        await hub.services.call("switch", "turn_on", target=target)
    await hub.services.call("switch", "turn_off", target=target)  # no change: not limited
    await clock.advance(20)
    await hub.services.call("switch", "turn_on", target=target)
    assert [m for m in [await device.expect(f"{BASE}/relay2/set") for _ in range(2)]][-1].payload == b"ON"


async def test_device_command_endpoint_goes_through_the_same_path(setup: Any, device: Any) -> None:
    runtime, hub, manager, clock = setup
    user = await hub.auth.add_user("bob", "password123", "user")
    viewer = await hub.auth.add_user("vic", "password123", "read-only")
    token = await hub.auth.create_long_lived_token(user.id, "t")
    viewer_token = await hub.auth.create_long_lived_token(viewer.id, "t")
    device_id = manager.get("switch.node_7_relay1").entity.device_id
    url = f"{runtime.url}/api/v1/devices/{device_id}/command"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        async with http.post(url, json={"command": "toggle", "relay": "relay1"}) as response:
            assert response.status == 202
            body = await response.json()
        assert body["command"] == "toggle" and body["status"] in ("sent", "acknowledged") and body["relay"] == "relay1"
        assert (await device.expect(f"{BASE}/relay1/set")).payload == b"ON"
        await device.publish(f"{BASE}/relay1/state", "ON", retain=True)
        await wait_state(hub, "switch.node_7_relay1", "on")
        async with http.post(url, json={"command": "off"}) as response:
            assert response.status == 409  # min_on_time
            assert "min_on_time" in (await response.json())["message"]
        async with http.post(url, json={"command": "dim"}) as response:
            assert response.status == 400
        async with http.post(url, json={"command": "on", "relay": "relay9"}) as response:
            assert response.status == 404
        async with http.post(f"{runtime.url}/api/v1/devices/nope/command", json={"command": "on"}) as response:
            assert response.status == 404
        async with http.post(url, json={"command": "on"}, headers={"Authorization": f"Bearer {viewer_token}"}) as response:
            assert response.status == 403
    [row, refused] = await rows(hub)
    assert row.status == "confirmed" and row.user_id == user.id and refused.status == "failed"


async def test_only_firmware_or_listed_switches_are_adopted(setup: Any, device: Any, prefix: str) -> None:
    runtime, hub, manager, clock = setup
    other = relay_config("plug-1", manufacturer="ACME")
    await device.config("switch/plug-1/relay1/config", other)
    await device.publish("devices/plug-1/status", "online", retain=True)
    await wait_state(hub, "switch.plug_1_relay1")
    assert manager.get("switch.plug_1_relay1") is None
    assert manager.get("switch.node_7_relay1").settings.min_on_time == 30
    # An unlisted switch keeps plain MQTT behaviour: the command is published, no lifecycle.
    await hub.services.call("switch", "turn_on", target={"entity_id": "switch.plug_1_relay1"})
    assert await rows(hub) == []
