"""GET/PUT /api/v1/devices/{id}/config with our firmware (simulated) and a device that refuses, on a real broker."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.integrations.mqtt.conftest import wait_state

pytestmark = pytest.mark.services


async def call(http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
    async with http.request(method, url, **kwargs) as response:
        return response.status, await response.json()


@pytest.fixture
async def hub_and_admin(start_mqtt_hub: Any, mosquitto_server: Any, prefix: str) -> AsyncIterator[Any]:
    from tests.integrations.mqtt.conftest import mqtt_config

    runtime = await start_mqtt_hub(yaml=mqtt_config(mosquitto_server.url, prefix) + "relay:\n  timeout: 5\n")
    hub = runtime.hub
    admin = await hub.auth.add_user("ada", "password123", "admin")
    token = await hub.auth.create_long_lived_token(admin.id, "t")
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        yield runtime, hub, http


@pytest.fixture
async def node(hub_and_admin: Any, mosquitto_server: Any, prefix: str, tmp_path: Path) -> AsyncIterator[Any]:
    """Our firmware under the simulator, discovered; its device's URL."""
    from firmware.sim.fleet import Fleet

    runtime, hub, http = hub_and_admin
    fleet = Fleet(mosquitto_server.url, 1, tmp_path / "nodes", interval=0.2, prefix=f"n{uuid.uuid4().hex[:6]}",
                  discovery_prefix=prefix)
    sim = fleet.nodes[0]
    stop = threading.Event()
    thread = threading.Thread(target=fleet.run, args=(stop, 0.02), daemon=True)
    thread.start()
    try:
        slug = sim.node_id.replace("-", "_")
        await wait_state(hub, f"switch.{slug}_relay1", "on")
        device_id = hub.entities.get(f"switch.{slug}_relay1").device_id
        url = f"{runtime.url}/api/v1/devices/{device_id}/config"
        for _ in range(250):
            status, body = await call(http, "GET", url)
            if body["supported"]:
                break
            await asyncio.sleep(0.02)
        yield runtime, hub, http, url, sim
    finally:
        stop.set()
        await asyncio.get_running_loop().run_in_executor(None, thread.join, 10)
        fleet.close()


async def test_the_firmware_declares_applies_keeps_and_echoes_its_settings(node: Any) -> None:
    runtime, hub, http, url, sim = node
    status, body = await call(http, "GET", url)
    assert status == 200 and body["supported"] is True
    entries = {e["key"]: e for e in body["entries"]}
    assert entries["telemetry_interval"] == {"key": "telemetry_interval", "value": 0.2, "type": "float", "min": 0.1,
                                             "max": 3600, "unit": "s", "description": "Seconds between two readings"}
    assert entries["power_on_state"]["type"] == "enum" and entries["power_on_state"]["value"] == "restore"
    assert entries["batch_size"]["type"] == "int"

    change = {"entries": [{"key": "telemetry_interval", "value": 2, "type": "float"},
                          {"key": "power_on_state", "value": "off"}, {"key": "name", "value": "Boiler room"}]}
    status, result = await call(http, "PUT", f"{url}?wait=10", json=change)
    assert status == 200 and result["success"] is True, result
    assert result["command"]["command"] == "configure" and result["command"]["status"] == "confirmed"
    assert json.loads(result["newState"])["telemetry_interval"] == 2
    assert sim.node.config["telemetry_interval"] == 2 and sim.node.config["power_on_state"] == "off"
    status, body = await call(http, "GET", url)
    assert {e["key"]: e["value"] for e in body["entries"]}["telemetry_interval"] == 2
    # The node kept them on flash: after a reboot it comes back with them, relays off.
    from firmware import settings

    saved = settings.load(sim.node.settings_path)
    assert saved["telemetry_interval"] == 2.0 and saved["power_on_state"] == "off" and saved["_applied"] == result["command"]["id"]
    device = hub.device_registry.get(result["command"]["device_id"])
    await wait_state(hub, next(e.entity_id for e in hub.entity_registry.entries_for_device(device.id)), lambda s: True)
    assert (await call(http, "GET", url.rsplit("/", 1)[0]))[1]["name"] == "Boiler room"  # announced again


async def test_a_change_the_declaration_does_not_allow_is_refused_naming_the_key(node: Any) -> None:
    runtime, hub, http, url, sim = node
    cases = [
        ({"entries": [{"key": "colour", "value": "red"}]}, "Unknown configuration key 'colour'"),
        ({"entries": [{"key": "batch_size", "value": 2.5}]}, "'batch_size' is an int"),
        ({"entries": [{"key": "telemetry_interval", "value": 0}]}, "'telemetry_interval' must be from 0.1 to 3600"),
        ({"entries": [{"key": "power_on_state", "value": "maybe"}]}, "must be one of restore, off, on"),
        ({"entries": [{"key": "batch_size", "value": 5, "type": "string"}]}, "declared as int, not string"),
        ({"entries": []}, "at least one entry"),
        ({"values": {"batch_size": 5}}, "Expected {\"entries\""),
    ]
    for body, words in cases:
        status, answer = await call(http, "PUT", url, json=body)
        assert status == 400 and words in answer["message"], (body, answer)
    assert sim.node.config["batch_size"] == 50  # nothing was sent


async def test_a_device_that_refuses_fails_the_command_with_its_reason(hub_and_admin: Any, device: Any, mosquitto_server: Any) -> None:
    runtime, hub, http = hub_and_admin
    base = "devices/plug-3"
    await device.listen(f"{base}/config/set")
    await device.publish(f"{base}/status", "online", retain=True)
    await device.config("switch/plug-3/relay/config", {"~": base, "name": "Plug", "uniq_id": "plug-3_relay", "obj_id": "plug", "cmd_t": "~/set",
                                                       "stat_t": "~/state", "avty_t": "~/status", "dev": {"ids": ["plug-3"], "name": "Plug"}})
    await device.publish(f"{base}/state", "OFF", retain=True)
    await device.publish(f"{base}/config/state", {"declared": {"child_lock": {"type": "bool"}}, "values": {"child_lock": False},
                                                  "applied": None}, retain=True)
    await wait_state(hub, "switch.plug", "off")
    url = f"{runtime.url}/api/v1/devices/{hub.entities.get('switch.plug').device_id}/config"
    for _ in range(250):
        if (await call(http, "GET", url))[1]["supported"]:
            break
        await asyncio.sleep(0.02)
    status, answer = await call(http, "PUT", url, json={"entries": [{"key": "child_lock", "value": "yes"}]})
    assert status == 400 and "'child_lock' is a bool" in answer["message"]

    async def refuse() -> None:
        message = await device.expect(f"{base}/config/set")
        sent = json.loads(message.payload)
        await device.publish(f"{base}/config/state", {"declared": {"child_lock": {"type": "bool"}}, "values": {"child_lock": False},
                                                      "applied": None, "refused": sent["id"], "reason": "locked by the installer"},
                             retain=True)

    refusing = asyncio.ensure_future(refuse())
    status, result = await call(http, "PUT", f"{url}?wait=5", json={"entries": [{"key": "child_lock", "value": True}]})
    await refusing
    assert status == 200 and result["success"] is False
    assert result["command"]["status"] == "failed" and "locked by the installer" in result["command"]["error"]
    # The change was retained: a device that connects later still finds it.
    import aiomqtt

    async with aiomqtt.Client(mosquitto_server.host, mosquitto_server.port, identifier="late-plug") as late:
        await late.subscribe(f"{base}/config/set")
        retained = await asyncio.wait_for(anext(aiter(late.messages)), 5)
    assert retained.retain and json.loads(retained.payload) == {"id": result["command"]["id"], "values": {"child_lock": True}}
    # Viewers and users may read the configuration but not change it.
    user = await hub.auth.add_user("ulla", "password123", "user")
    headers = {"Authorization": f"Bearer {await hub.auth.create_long_lived_token(user.id, 't')}"}
    assert (await call(http, "GET", url, headers=headers))[0] == 200
    assert (await call(http, "PUT", url, headers=headers, json={"entries": [{"key": "child_lock", "value": True}]}))[0] == 403


async def test_a_device_without_a_declaration_says_so(hub_and_admin: Any, device: Any) -> None:
    runtime, hub, http = hub_and_admin
    await device.publish("devices/bare/status", "online", retain=True)
    await device.config("sensor/bare/t/config", {"name": "Bare", "uniq_id": "bare_t", "obj_id": "bare", "stat_t": "devices/bare/t",
                                                 "dev": {"ids": ["bare"], "name": "Bare"}})
    await device.publish("devices/bare/t", "21", retain=True)
    await wait_state(hub, "sensor.bare", "21")
    url = f"{runtime.url}/api/v1/devices/{hub.entities.get('sensor.bare').device_id}/config"
    assert await call(http, "GET", url) == (200, {"device_id": url.split("/")[-2], "supported": False, "entries": []})
    status, answer = await call(http, "PUT", url, json={"entries": [{"key": "x", "value": 1}]})
    assert status == 409 and "declares no configuration" in answer["message"]
    await device.publish("devices/bare/config/state", "not json", retain=True)
    await asyncio.sleep(0.2)
    assert (await call(http, "GET", url))[1]["supported"] is False


async def test_ota_installs_a_signed_image_and_reports_a_refused_one(hub_and_admin: Any, mosquitto_server: Any, prefix: str,
                                                                     tmp_path: Path) -> None:
    from aiohttp import web

    from firmware.ota import pack, sign
    from firmware.sim.fleet import Fleet, device_key

    runtime, hub, http = hub_and_admin
    image = pack([("VERSION", b"1.1.0\n")])
    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=image)

    app = web.Application()
    app.router.add_get("/image.bin", serve)
    server = web.AppRunner(app)
    await server.setup()
    site = web.TCPSite(server, "127.0.0.1", 0)
    await site.start()
    image_url = f"http://127.0.0.1:{server.addresses[0][1]}/image.bin"
    master = bytes(range(32))
    fleet = Fleet(mosquitto_server.url, 1, tmp_path / "nodes", interval=0.5, prefix=f"n{uuid.uuid4().hex[:6]}",
                  discovery_prefix=prefix, ota_master=master)
    sim = fleet.nodes[0]
    stop = threading.Event()
    thread = threading.Thread(target=fleet.run, args=(stop, 0.02), daemon=True)
    thread.start()
    try:
        slug = sim.node_id.replace("-", "_")
        await wait_state(hub, f"switch.{slug}_relay1", "on")
        url = f"{runtime.url}/api/v1/devices/{hub.entities.get(f'switch.{slug}_relay1').device_id}/commands"
        wrong = {"url": image_url, "size": len(image), "hmac": sign(b"not this node's key", image)}
        status, result = await call(http, "POST", f"{url}?wait=10", json={"command": "ota", "parameters": wrong})
        assert status == 200 and result["success"] is False and "bad signature" in result["command"]["error"], result
        assert sim.reboots == 0
        for bad, words in (({**wrong, "url": "ftp://x"}, "http:// URL"), ({**wrong, "size": 0}, "size"),
                           ({**wrong, "hmac": "zz"}, "64 hex digits")):
            status, answer = await call(http, "POST", url, json={"command": "ota", "parameters": bad})
            assert status == 400 and words in answer["message"]
        right = {**wrong, "hmac": sign(device_key(master, sim.node_id), image)}
        status, result = await call(http, "POST", f"{url}?wait=10", json={"command": "ota", "parameters": right})
        assert status == 200 and result["success"] is True and result["newState"] == "installed", result
        for _ in range(250):
            if sim.reboots == 1:
                break
            await asyncio.sleep(0.02)
        assert sim.reboots == 1 and (sim.root / "VERSION").read_bytes() == b"1.1.0\n"
    finally:
        stop.set()
        await asyncio.get_running_loop().run_in_executor(None, thread.join, 10)
        fleet.close()
        await server.cleanup()


async def test_ota_is_only_for_nodes_running_our_firmware(hub_and_admin: Any, device: Any) -> None:
    runtime, hub, http = hub_and_admin
    await device.publish("devices/other/t", "21", retain=True)
    await device.config("sensor/other/t/config", {"name": "Other", "uniq_id": "other_t", "obj_id": "other", "stat_t": "devices/other/t",
                                                  "dev": {"ids": ["other"], "name": "Other", "mf": "Acme"}})
    await wait_state(hub, "sensor.other", "21")
    url = f"{runtime.url}/api/v1/devices/{hub.entities.get('sensor.other').device_id}/commands"
    status, answer = await call(http, "POST", url, json={"command": "ota", "parameters": {"url": "http://x/i", "size": 1, "hmac": "a" * 64}})
    assert status == 400 and "offers no 'ota' command" in answer["message"]
