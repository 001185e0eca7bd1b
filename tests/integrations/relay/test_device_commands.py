"""POST/GET /api/v1/devices/{id}/commands on a real broker: every command a device declares, its lifecycle, ?wait, rate limits."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from hub.core.clock import ManualClock
from integrations.relay import manager_of
from tests.integrations.mqtt.conftest import settled, wait_state

from .test_relay import relay_config

pytestmark = pytest.mark.services

NODE = "node-9"
BASE = f"devices/{NODE}"
DEVICE = {"ids": [NODE], "name": "Boiler", "mf": "powerhub", "mdl": "PZEM-004T v3 node", "sw": "1.2.0", "hw": "rev B"}


def entity(object_id: str, **extra: Any) -> dict[str, Any]:
    return {"~": BASE, "uniq_id": f"{NODE}_{object_id}", "obj_id": f"node_9_{object_id}", "avty_t": "~/status",
            "dev": DEVICE, **extra}


@pytest.fixture
async def node(start_mqtt_hub: Any, device: Any, prefix: str, mosquitto_server: Any) -> Any:
    """A node with a relay, a number, a select, a restart button and an RSSI sensor; a user's session."""
    from tests.integrations.mqtt.conftest import mqtt_config

    runtime = await start_mqtt_hub(yaml=mqtt_config(mosquitto_server.url, prefix) + "relay:\n  timeout: 5\n")
    hub = runtime.hub
    for topic in ("relay1/set", "limit/set", "mode/set", "restart/set"):
        await device.listen(f"{BASE}/{topic}")
    await device.publish(f"{BASE}/status", "online", retain=True)
    await device.publish(f"{BASE}/relay1/state", "OFF", retain=True)
    await device.publish(f"{BASE}/limit/state", "2000", retain=True)
    await device.publish(f"{BASE}/mode/state", "eco", retain=True)
    await device.publish(f"{BASE}/rssi", "-61", retain=True)
    await device.config(f"switch/{NODE}/relay1/config", {**relay_config(NODE), "dev": DEVICE})
    await device.config(f"number/{NODE}/limit/config", entity("limit", name="Power limit", cmd_t="~/limit/set",
                                                                stat_t="~/limit/state", min=0, max=3000, step=10))
    await device.config(f"select/{NODE}/mode/config", entity("mode", name="Mode", cmd_t="~/mode/set",
                                                              stat_t="~/mode/state", options=["eco", "boost"]))
    await device.config(f"button/{NODE}/restart/config", entity("restart", name="Restart", cmd_t="~/restart/set",
                                                                 dev_cla="restart"))
    await device.config(f"sensor/{NODE}/rssi/config", entity("rssi", name="RSSI", stat_t="~/rssi", dev_cla="signal_strength",
                                                              unit_of_meas="dBm", ent_cat="diagnostic"))
    for entity_id, state in (("switch.node_9_relay1", "off"), ("number.node_9_limit", "2000"),
                             ("select.node_9_mode", "eco"), ("button.node_9_restart", None), ("sensor.node_9_rssi", "-61")):
        await wait_state(hub, entity_id, state)
    await settled(hub)
    manager = manager_of(hub)
    manager.clock = ManualClock(1_700_000_000)
    user = await hub.auth.add_user("ann", "password123", "user")
    token = await hub.auth.create_long_lived_token(user.id, "t")
    device_id = hub.entities.get("number.node_9_limit").device_id
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        yield runtime, hub, manager, http, f"{runtime.url}/api/v1/devices/{device_id}", user


async def call(http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
    async with http.request(method, url, **kwargs) as response:
        return response.status, await response.json()


async def test_the_device_shows_versions_rssi_and_what_it_can_do(node: Any) -> None:
    runtime, hub, manager, http, url, user = node
    status, body = await call(http, "GET", url)
    assert status == 200
    assert (body["firmware_version"], body["hardware_version"], body["rssi"], body["online"]) == ("1.2.0", "rev B", -61.0, True)
    commands = {(c["command"], c["entity_id"]): c.get("parameters") for c in body["capabilities"]["commands"]}
    assert commands[("set_value", "number.node_9_limit")] == {"value": {"type": "float", "min": 0, "max": 3000, "step": 10}}
    assert commands[("select_option", "select.node_9_mode")] == {"option": {"type": "enum", "options": ["eco", "boost"]}}
    assert ("reboot", "button.node_9_restart") in commands and ("toggle", "switch.node_9_relay1") in commands
    assert {"entity_id": "sensor.node_9_rssi", "device_class": "signal_strength", "unit": "dBm", "diagnostic": True} in body["capabilities"]["metrics"]


async def test_set_value_waits_for_the_device_echo(node: Any, device: Any) -> None:
    runtime, hub, manager, http, url, user = node

    async def echo() -> None:
        message = await device.expect(f"{BASE}/limit/set")
        await device.publish(f"{BASE}/limit/state", message.payload.decode(), retain=True)

    echoing = asyncio.ensure_future(echo())
    status, body = await call(http, "POST", f"{url}/commands?wait=5", json={"command": "set_value", "parameters": {"value": 1500}})
    await echoing
    assert status == 200 and body["success"] is True and body["newState"] == "1500"
    command = body["command"]
    assert (command["command"], command["status"], command["parameters"]) == ("set_value", "confirmed", {"value": 1500})
    assert hub.states.get("number.node_9_limit").state == "1500"
    status, stored = await call(http, "GET", f"{url}/commands/{command['id']}")
    assert status == 200 and stored["status"] == "confirmed" and stored["user_id"] == user.id and stored["new_state"] == "1500"
    status, listed = await call(http, "GET", f"{url}/commands")
    assert [c["id"] for c in listed] == [command["id"]]
    [entry] = await hub.auth.audit.entries(action="device_command")
    assert entry.user_id == user.id and "number.node_9_limit set_value" in entry.target


async def test_the_same_value_again_is_confirmed_by_the_unchanged_echo(node: Any, device: Any) -> None:
    runtime, hub, manager, http, url, user = node

    async def echo() -> None:
        message = await device.expect(f"{BASE}/limit/set")
        await device.publish(f"{BASE}/limit/state", message.payload.decode().removesuffix(".0"), retain=True)

    echoing = asyncio.ensure_future(echo())
    status, body = await call(http, "POST", f"{url}/commands?wait=5", json={"command": "set_value", "parameters": {"value": 2000}})
    await echoing
    assert status == 200 and body["success"] is True and body["newState"] == "2000", body


async def test_select_relay_and_reboot_each_take_their_path(node: Any, device: Any) -> None:
    runtime, hub, manager, http, url, user = node
    status, body = await call(http, "POST", f"{url}/commands", json={"command": "select_option", "parameters": {"option": "boost"}})
    assert status == 202 and body["status"] in ("queued", "sent", "acknowledged")
    assert (await device.expect(f"{BASE}/mode/set")).payload == b"boost"
    await device.publish(f"{BASE}/mode/state", "boost", retain=True)
    await wait_state(hub, "select.node_9_mode", "boost")

    async def relay_echo() -> None:
        assert (await device.expect(f"{BASE}/relay1/set")).payload == b"ON"
        await device.publish(f"{BASE}/relay1/state", "ON", retain=True)

    echoing = asyncio.ensure_future(relay_echo())
    status, body = await call(http, "POST", f"{url}/commands?wait=5", json={"command": "on", "parameters": {"relay": "relay1"}})
    await echoing
    assert (status, body["success"], body["newState"]) == (200, True, "on")

    status, body = await call(http, "POST", f"{url}/commands?wait=5", json={"command": "reboot"})
    assert (status, body["success"]) == (200, True)
    assert (await device.expect(f"{BASE}/restart/set")).payload == b"PRESS"
    statuses = [c["status"] for c in (await call(http, "GET", f"{url}/commands"))[1]]
    assert statuses == ["confirmed", "confirmed", "confirmed"]


async def test_bad_commands_are_refused_naming_what_is_wrong(node: Any) -> None:
    runtime, hub, manager, http, url, user = node
    cases = [
        ({"command": "set_value", "parameters": {"value": 9000}}, 400, "outside 0 - 3000"),
        ({"command": "set_value", "parameters": {"value": "hot"}}, 400, "must be a number"),
        ({"command": "set_value"}, 400, "needs parameters.value"),
        ({"command": "select_option", "parameters": {"option": "turbo"}}, 400, "one of eco, boost"),
        ({"command": "set_value", "parameters": {"value": 5, "entity_id": "number.other"}}, 404, "No entity 'number.other'"),
        ({"command": "explode"}, 400, "Expected"),
        ({"command": "on", "parameters": "relay1"}, 400, "'parameters' must be a JSON object"),
        ({"command": "on", "parameters": {"relay": ["relay1"]}}, 400, "parameters.relay must be a string"),
    ]
    for body, expected, words in cases:
        status, answer = await call(http, "POST", f"{url}/commands", json=body)
        assert status == expected and words in answer["message"], (body, answer)
    status, answer = await call(http, "POST", f"{url}/commands?wait=99", json={"command": "reboot"})
    assert status == 400 and "between 0 and 30" in answer["message"]
    assert (await call(http, "GET", f"{url}/commands/nope"))[0] == 404
    assert (await call(http, "GET", f"{url}/commands?limit=0"))[0] == 400


async def test_no_echo_times_out_and_offline_commands_expire(node: Any, device: Any) -> None:
    runtime, hub, manager, http, url, user = node
    status, sent = await call(http, "POST", f"{url}/commands", json={"command": "set_value", "parameters": {"value": 100}})
    await device.expect(f"{BASE}/limit/set")
    await manager.clock.advance(5.1)
    status, stored = await call(http, "GET", f"{url}/commands/{sent['id']}")
    assert stored["status"] == "timed_out" and "no confirmation" in stored["error"]

    await device.publish(f"{BASE}/status", "offline", retain=True)
    await wait_state(hub, "number.node_9_limit", "unavailable")
    status, queued = await call(http, "POST", f"{url}/commands", json={"command": "set_value", "parameters": {"value": 200}})
    assert status == 202 and queued["status"] == "queued"
    await manager.clock.advance(301)
    status, stored = await call(http, "GET", f"{url}/commands/{queued['id']}")
    assert stored["status"] == "expired" and stored["sent_at"] is None


async def test_a_queued_command_goes_out_when_the_device_returns(node: Any, device: Any) -> None:
    runtime, hub, manager, http, url, user = node
    await device.publish(f"{BASE}/status", "offline", retain=True)
    await wait_state(hub, "select.node_9_mode", "unavailable")
    status, queued = await call(http, "POST", f"{url}/commands", json={"command": "select_option", "parameters": {"option": "boost"}})
    assert queued["status"] == "queued"
    await device.publish(f"{BASE}/status", "online", retain=True)
    assert (await device.expect(f"{BASE}/mode/set")).payload == b"boost"
    await device.publish(f"{BASE}/mode/state", "boost", retain=True)
    await wait_state(hub, "select.node_9_mode", "boost")
    for _ in range(100):
        status, stored = await call(http, "GET", f"{url}/commands/{queued['id']}")
        if stored["status"] == "confirmed":
            break
        await asyncio.sleep(0.02)
    assert stored["status"] == "confirmed" and stored["sent_at"] is not None


async def test_25_rapid_commands_are_not_all_accepted(node: Any) -> None:
    runtime, hub, manager, http, url, user = node
    answers = []
    for _ in range(25):
        async with http.post(f"{url}/commands", json={"command": "reboot"}) as response:
            answers.append((response.status, response.headers.get("Retry-After")))
    accepted = [a for a in answers if a[0] == 202]
    limited = [a for a in answers if a[0] == 429]
    assert len(accepted) == 10 and len(limited) == 15  # the default: 10 per device per 10 s
    assert all(retry is not None and int(retry) >= 1 for _, retry in limited)
    # The old route shares the device's budget.
    async with http.post(url.replace("/commands", "") + "/command", json={"command": "on"}) as response:
        assert response.status == 429
    await manager.clock.advance(1.0)  # one token back
    assert (await call(http, "POST", f"{url}/commands", json={"command": "reboot"}))[0] == 202
    refused = await hub.auth.audit.entries(action="device_command")
    assert sum(1 for entry in refused if entry.result == "refused") >= 15


async def test_every_answer_fits_the_openapi_document(node: Any, device: Any) -> None:
    from tests.api.openapi_check import check_answer

    runtime, hub, manager, http, url, user = node
    status, document = await call(http, "GET", f"{runtime.url}/api/v1/openapi.json")
    assert status == 200 and document["openapi"] == "3.1.0"
    device_id = url.rsplit("/", 1)[1]
    one, many = "/api/v1/devices/{device_id}", "/api/v1/devices/{device_id}/commands"
    asked = [
        ("get", "/api/v1/devices", "/api/v1/devices", None),
        ("get", one, "", None),
        ("patch", one, "", {"location": "cellar"}),
        ("patch", one, "", {"colour": "red"}),
        ("get", "/api/v1/devices/{device_id}", "/api/v1/devices/nope", None),
        ("post", many, "/commands", {"command": "select_option", "parameters": {"option": "boost"}}),
        ("post", many, "/commands?wait=0.2", {"command": "set_value", "parameters": {"value": 10}}),
        ("post", many, "/commands?wait=5", {"command": "reboot"}),
        ("post", many, "/commands", {"command": "set_value", "parameters": {"value": -1}}),
        ("post", "/api/v1/devices/{device_id}/command", "/command", {"command": "on"}),
        ("get", many, "/commands", None),
        ("get", "/api/v1/devices/{device_id}/commands/{command_id}", "/commands/nope", None),
    ]
    owner = await hub.auth.add_user("olga", "password123", "owner")
    admin = {"Authorization": f"Bearer {await hub.auth.create_long_lived_token(owner.id, 't')}"}
    for method, path, suffix, body in asked:
        target = suffix if suffix.startswith("/api") else f"{url}{suffix}"
        target = f"{runtime.url}{target}" if target.startswith("/api") else target
        status, answer = await call(http, method.upper(), target, json=body, headers=admin if method == "patch" else None)
        check_answer(document, path, method, status, answer)
    status, [command, *_] = await call(http, "GET", f"{url}/commands")
    status, answer = await call(http, "GET", f"{url}/commands/{command['id']}")
    check_answer(document, "/api/v1/devices/{device_id}/commands/{command_id}", "get", status, answer)
    assert device_id in url
    # Read-only users and the rate limit answer as described too.
    viewer = await hub.auth.add_user("vic", "password123", "read-only")
    headers = {"Authorization": f"Bearer {await hub.auth.create_long_lived_token(viewer.id, 't')}"}
    status, answer = await call(http, "POST", f"{url}/commands", json={"command": "reboot"}, headers=headers)
    check_answer(document, many, "post", status, answer)
    assert status == 403
    for _ in range(12):
        status, answer = await call(http, "POST", f"{url}/commands", json={"command": "reboot"})
    assert status == 429
    check_answer(document, many, "post", status, answer)


async def test_every_device_route_opens_with_the_same_checks(node: Any) -> None:
    """Role, unknown device, ?wait= and a body that is not JSON answer alike on /command, /commands and /config."""
    runtime, hub, _manager, http, url, _user = node
    viewer = await hub.auth.add_user("val", "password123", "read-only")
    admin = await hub.auth.add_user("ada", "password123", "admin")
    as_viewer = {"Authorization": f"Bearer {await hub.auth.create_long_lived_token(viewer.id, 't')}"}
    as_admin = {"Authorization": f"Bearer {await hub.auth.create_long_lived_token(admin.id, 't')}"}
    writes = [("POST", "/command", {"command": "on"}, None), ("POST", "/commands", {"command": "reboot"}, None),
              ("PUT", "/config", {"entries": [{"key": "x", "value": 1}]}, as_admin)]
    for method, suffix, body, headers in writes:
        status, answer = await call(http, method, f"{url}{suffix}", json=body, headers=as_viewer)
        assert (status, answer["message"].startswith("403: Forbidden (")) == (403, True), (suffix, answer)
        status, answer = await call(http, method, f"{url}{suffix}?wait=soon", json=body, headers=headers)
        assert status == 400 and "'wait'" in answer["message"], (suffix, answer)
        status, answer = await call(http, method, f"{url}{suffix}?wait=31", json=body, headers=headers)
        assert status == 400 and "between 0 and 30" in answer["message"], (suffix, answer)
        status, answer = await call(http, method, f"{url}{suffix}", data=b"{not json", headers=headers)
        assert (status, answer) == (400, {"message": "Invalid JSON specified."}), suffix
    # A user who may control but not configure is told so, not that the device is missing.
    status, answer = await call(http, "PUT", f"{url}/config", json={"entries": []})
    assert status == 403 and "only admins" in answer["message"]
    unknown = f"{runtime.url}/api/v1/devices/no-such-device"
    for method, suffix, body, headers in [*writes, ("GET", "/commands", None, None), ("GET", "/config", None, None)]:
        status, answer = await call(http, method, f"{unknown}{suffix}", json=body, headers=headers)
        assert (status, answer) == (404, {"message": "Device not found."}), (method, suffix)
