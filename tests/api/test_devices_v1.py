"""The device API /api/v1/devices and the realtime socket /api/v1/realtime."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import aiohttp

from hub.core.bus import EventOrigin

from .conftest import Api


async def request(api: Api, method: str, path: str, role: str = "owner", **kwargs: Any) -> tuple[int, Any]:
    async with api.session.request(method, f"{api.url}{path}", headers=api.headers(role), **kwargs) as response:
        return response.status, await response.json()


async def test_list_and_get_devices(api: Api) -> None:
    status, devices = await request(api, "GET", "/api/v1/devices", "read-only")
    assert status == 200 and len(devices) == 1
    node = devices[0]
    assert node["name"] == "Relay node" and node["manufacturer"] == "Acme" and node["online"] is True
    assert node["identifiers"] == [["testdevices", "node-1"]]
    assert {e["entity_id"] for e in node["entities"]} == {"switch.test_relay", "sensor.test_power"}
    assert (node["firmware_version"], node["hardware_version"], node["model"]) == ("1.0", None, "R1")
    assert node["power"] == 42.0 and node["rssi"] is None and node["location"] is None
    assert {(c["command"], c["entity_id"]) for c in node["capabilities"]["commands"]} == {
        ("on", "switch.test_relay"), ("off", "switch.test_relay"), ("toggle", "switch.test_relay")}
    assert node["capabilities"]["metrics"] == [
        {"entity_id": "sensor.test_power", "device_class": "power", "unit": "W", "diagnostic": False}]
    reported = api.hub.states.get("sensor.test_power").last_reported_timestamp
    assert node["last_seen"] == datetime.fromtimestamp(reported, UTC).isoformat()
    assert await request(api, "GET", f"/api/v1/devices/{node['id']}") == (200, node)
    assert await request(api, "GET", "/api/v1/devices/nope") == (404, {"message": "Device not found."})


async def test_patch_device(api: Api) -> None:
    device_id = next(iter(api.hub.device_registry.devices)).id
    status, body = await request(api, "PATCH", f"/api/v1/devices/{device_id}", json={"area_id": "kitchen"})
    assert status == 400 and "Area 'kitchen' does not exist" in body["message"]
    await api.hub.area_registry.create("Kitchen")
    status, device = await request(api, "PATCH", f"/api/v1/devices/{device_id}",
                                   json={"name_by_user": "Kitchen relay", "area_id": "kitchen"})
    assert status == 200 and device["name"] == "Kitchen relay" and device["area_id"] == "kitchen"
    assert api.hub.device_registry.get(device_id).name_by_user == "Kitchen relay"
    await api.hub.area_registry.create("Hall")
    status, device = await request(api, "PATCH", f"/api/v1/devices/{device_id}",
                                   json={"name": "Boiler relay", "location": "under the stairs", "area": "hall"})
    assert status == 200 and (device["name"], device["location"], device["area_id"]) == (
        "Boiler relay", "under the stairs", "hall")
    assert (await request(api, "GET", f"/api/v1/devices/{device_id}"))[1]["location"] == "under the stairs"
    status, body = await request(api, "PATCH", f"/api/v1/devices/{device_id}", json={"area": "x", "area_id": "y"})
    assert status == 400 and "twice" in body["message"]
    status, body = await request(api, "PATCH", f"/api/v1/devices/{device_id}", json={"location": 5})
    assert status == 400 and "'location'" in body["message"]
    status, body = await request(api, "PATCH", f"/api/v1/devices/{device_id}", json={"model": "X"})
    assert status == 400 and "cannot be changed" in body["message"]
    status, body = await request(api, "PATCH", f"/api/v1/devices/{device_id}", json={"disabled_by": "robot"})
    assert status == 400
    status, _ = await request(api, "PATCH", f"/api/v1/devices/{device_id}", "user", json={"area_id": "x"})
    assert status == 401
    assert (await request(api, "PATCH", "/api/v1/devices/nope", json={"area_id": "x"}))[0] == 404


async def realtime(api: Api, **kwargs: Any) -> aiohttp.ClientWebSocketResponse:
    return await api.session.ws_connect(f"{api.url}/api/v1/realtime", **kwargs)


async def test_realtime_streams_telemetry_status_and_automations(api: Api) -> None:
    ws = await realtime(api, headers=api.headers("read-only"))
    assert await ws.receive_json(timeout=5) == {"type": "auth_ok"}
    await ws.send_json({"action": "subscribe"})
    assert await ws.receive_json(timeout=5) == {"type": "subscribed"}
    device_id = next(iter(api.hub.device_registry.devices)).id
    hub = api.hub
    hub.states.set("sensor.test_power", "123.5", {"unit_of_measurement": "W"})
    telemetry = await ws.receive_json(timeout=5)
    assert telemetry == {"type": "telemetry.live", "device_id": device_id, "entity_id": "sensor.test_power",
                         "value": 123.5, "ts": hub.states.get("sensor.test_power").last_updated_timestamp}
    hub.states.set("sensor.test_power", "unavailable")
    hub.states.set("switch.test_relay", "unavailable")
    assert await ws.receive_json(timeout=5) == {"type": "device.status", "device_id": device_id, "online": False}
    hub.states.set("switch.test_relay", "on")
    assert (await ws.receive_json(timeout=5))["value"] == "on"
    assert await ws.receive_json(timeout=5) == {"type": "device.status", "device_id": device_id, "online": True}
    hub.bus.fire("automation_triggered", {"id": "night_light", "name": "Night light", "entity_id": "automation.night"},
                 EventOrigin.local)
    message = await ws.receive_json(timeout=5)
    assert message["type"] == "automation.trigger" and message["id"] == "night_light" and message["event"] == "triggered"
    hub.bus.fire("device_command", {"device_id": device_id, "command": {"id": "c1", "status": "confirmed"}})
    assert await ws.receive_json(timeout=5) == {"type": "command.status", "device_id": device_id,
                                                "command": {"id": "c1", "status": "confirmed"}}
    # States of entities without a device are not telemetry.
    hub.states.set("sensor.free_floating", "1")
    await ws.send_str("not json")
    assert (await ws.receive_json(timeout=5))["type"] == "error"
    await ws.close()


async def test_realtime_auth_by_first_message_and_refusal(api: Api) -> None:
    ws = await realtime(api)
    await ws.send_json({"action": "auth", "token": api.tokens["user"]})
    assert await ws.receive_json(timeout=5) == {"type": "auth_ok"}
    await ws.close()
    ws = await realtime(api)
    await ws.send_str(json.dumps({"action": "auth", "token": "wrong"}))
    assert await ws.receive_json(timeout=5) == {"type": "auth_invalid"}
    msg = await ws.receive(timeout=5)
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
