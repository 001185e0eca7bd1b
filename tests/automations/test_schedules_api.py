"""/api/v1/schedules: weekly schedules made over the API, kept in Home Assistant's storage shape,
switched off and on, refused with JSON pointers, and YAML ones listed but not edited."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp

from hub import bootstrap
from tests.api.conftest import wait_for
from tests.automations.test_scenes_api import _call, _tokens
from tests.hubs import write_config

CONFIG = """
homeassistant:
  name: Test home
  time_zone: UTC
schedule:
  from_yaml:
    name: From YAML
    sunday: [{from: "10:00", to: "12:00"}]
  nightly:
    cron: "0 3 * * *"
    sequence: []
"""
ALWAYS = {day: [{"from": "00:00:00", "to": "24:00:00"}] for day in
          ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")}


async def test_a_schedule_made_over_the_api_runs_is_stored_as_home_assistant_does_and_survives_a_restart(
        tmp_path: Path, start_hub: Any) -> None:
    folder = write_config(tmp_path / "config", CONFIG)
    data = tmp_path / "data"
    runtime = await start_hub(folder, data)
    tokens = await _tokens(runtime)
    base = f"{runtime.url}/api/v1/schedules"
    async with aiohttp.ClientSession() as http:
        status, listed = await _call(http, "GET", base, tokens["read-only"])
        assert status == 200
        assert [(s["id"], s["kind"], s["source"], s["editable"]) for s in listed] == [
            ("from_yaml", "weekly", "yaml", False), ("nightly", "cron", "yaml", False)]

        body = {"name": "Boiler", "icon": "mdi:water-boiler", **ALWAYS}
        assert (await _call(http, "POST", base, tokens["user"], body))[0] == 401
        status, made = await _call(http, "POST", base, tokens["admin"], body)
        assert status == 201, made
        assert (made["id"], made["entity_id"], made["state"], made["enabled"]) == ("boiler", "schedule.boiler", "on", True)
        assert runtime.hub.states.get("schedule.boiler").state == "on"

        stored = json.loads((data / "schedule").read_text())
        assert (stored["key"], stored["version"], stored["minor_version"]) == ("schedule", 1, 1)
        [item] = stored["data"]["items"]
        assert item["id"] == "boiler" and item["monday"] == [{"from": "00:00:00", "to": "24:00:00"}]

        status, off = await _call(http, "POST", f"{base}/boiler/disable", tokens["user"])
        assert (status, off["enabled"], off["state"]) == (200, False, "off")
        assert (await _call(http, "POST", f"{base}/boiler/enable", tokens["read-only"]))[0] == 401

        changed = {"name": "Boiler", "monday": [{"from": "06:00", "to": "07:30", "data": {"mode": "eco"}}]}
        status, updated = await _call(http, "PUT", f"{base}/boiler", tokens["admin"], changed)
        assert status == 200 and updated["monday"] == [{"from": "06:00:00", "to": "07:30:00", "data": {"mode": "eco"}}]
        assert updated["tuesday"] == [] and updated["enabled"] is False

        assert (await _call(http, "PUT", f"{base}/from_yaml", tokens["admin"], changed))[0] == 409
        assert (await _call(http, "DELETE", f"{base}/nightly", tokens["admin"]))[0] == 409
        status, cron_off = await _call(http, "POST", f"{base}/nightly/disable", tokens["user"])
        assert (status, cron_off["enabled"], cron_off["next_event"]) == (200, False, None)
    await bootstrap.stop(runtime)

    runtime = await start_hub(folder, data)
    tokens = await _tokens_again(runtime)
    async with aiohttp.ClientSession() as http:
        status, boiler = await _call(http, "GET", f"{runtime.url}/api/v1/schedules/boiler", tokens)
        assert (status, boiler["enabled"], boiler["monday"][0]["from"]) == (200, False, "06:00:00")
        status, nightly = await _call(http, "GET", f"{runtime.url}/api/v1/schedules/nightly", tokens)
        assert nightly["enabled"] is False and runtime.hub.states.get("schedule.nightly").attributes["enabled"] is False
        assert (await _call(http, "DELETE", f"{runtime.url}/api/v1/schedules/boiler", tokens))[0] == 204
    assert runtime.hub.states.get("schedule.boiler") is None
    assert json.loads((data / "schedule").read_text())["data"]["items"] == []
    audited = {(e.action, e.target, e.result) for e in await runtime.hub.auth.audit.entries(limit=50)}
    assert {("schedule/delete", "schedule.boiler", "ok"), ("schedule/update", "schedule.from_yaml", "refused"),
            ("schedule/delete", "schedule.nightly", "refused")} <= audited


async def _tokens_again(runtime: bootstrap.Runtime) -> dict[str, str]:
    auth = runtime.hub.auth
    user = next(u for u in await auth.list_users() if u.name == "admin")
    return {"Authorization": f"Bearer {await auth.create_long_lived_token(user.id, 'again')}"}


async def test_a_refused_schedule_names_each_field_by_json_pointer(tmp_path: Path, start_hub: Any) -> None:
    runtime = await start_hub(write_config(tmp_path / "config", CONFIG))
    tokens = await _tokens(runtime)
    body = {
        "icon": 5,
        "monday": [{"from": "8:00", "to": "7:00"}, {"from": "x", "to": "09:00", "colour": 1}],
        "tuesday": [{"from": "08:00", "to": "10:00"}, {"from": "09:00", "to": "11:00"}],
        "funday": [],
    }
    async with aiohttp.ClientSession() as http:
        status, answer = await _call(http, "POST", f"{runtime.url}/api/v1/schedules", tokens["admin"], body)
        # An empty or null id is refused, not taken as "make one" (the schema says a slug).
        empty = await _call(http, "POST", f"{runtime.url}/api/v1/schedules", tokens["admin"], {"id": "", "name": "x"})
        null = await _call(http, "POST", f"{runtime.url}/api/v1/schedules", tokens["admin"], {"id": None, "name": "x"})
    for refused in (empty, null):
        assert refused[0] == 400 and [e["pointer"] for e in refused[1]["errors"]] == ["/id"], refused
    assert status == 400
    pointers = {e["pointer"]: e["message"] for e in answer["errors"]}
    assert set(pointers) == {"/funday", "/name", "/icon", "/monday/0/to", "/monday/1/from", "/monday/1/colour",
                             "/tuesday/1/from"}
    assert "after from (08:00:00)" in pointers["/monday/0/to"]
    assert "overlaps the block 08:00:00-10:00:00" in pointers["/tuesday/1/from"]


async def test_an_automation_follows_a_schedule_made_over_the_api_and_switches_a_relay(
        tmp_path: Path, start_hub: Any) -> None:
    from tests.api.conftest import DEVICES  # noqa: PLC0415

    folder = write_config(tmp_path / "config", """
        homeassistant:
          time_zone: UTC
        testdevices:
        schedule:
        automation:
          - id: relay_follows_boiler
            triggers: [{trigger: state, entity_id: schedule.boiler}]
            actions:
              - action: "switch.turn_{{ trigger.to_state.state }}"
                target: {entity_id: switch.test_relay}
        """, {"testdevices": DEVICES})
    runtime = await start_hub(folder)
    hub = runtime.hub
    tokens = await _tokens(runtime)
    assert hub.states.get("switch.test_relay").state == "off"
    async with aiohttp.ClientSession() as http:
        status, made = await _call(http, "POST", f"{runtime.url}/api/v1/schedules", tokens["admin"],
                                   {"name": "Boiler", **ALWAYS})
        assert status == 201
        await wait_for(lambda: hub.states.get("switch.test_relay").state == "on")
        await _call(http, "POST", f"{runtime.url}/api/v1/schedules/boiler/disable", tokens["user"])
        await wait_for(lambda: hub.states.get("switch.test_relay").state == "off")
    entries = await hub.auth.audit.entries(limit=20)
    assert ("schedule/disable", "user", "schedule.boiler") in {(e.action, e.user_name, e.target) for e in entries}


async def test_home_assistants_schedule_websocket_commands_share_the_store(tmp_path: Path, start_hub: Any) -> None:
    from tests.api.conftest import WsClient  # noqa: PLC0415

    data = tmp_path / "data"
    runtime = await start_hub(write_config(tmp_path / "config", CONFIG), data)
    tokens = await _tokens(runtime)
    async with aiohttp.ClientSession() as http:
        admin = await WsClient.open(http, runtime.url)
        await admin.authenticate(tokens["admin"]["Authorization"].split()[1])
        user = await WsClient.open(http, runtime.url)
        await user.authenticate(tokens["user"]["Authorization"].split()[1])

        made = await admin.command("schedule/create", name="Pool pump", icon="mdi:pump",
                                   tuesday=[{"from": "10:00:00", "to": "14:00:00"}])
        assert made == {"id": "pool_pump", "name": "Pool pump", "icon": "mdi:pump", "monday": [],
                        "tuesday": [{"from": "10:00:00", "to": "14:00:00"}], "wednesday": [], "thursday": [],
                        "friday": [], "saturday": [], "sunday": []}
        assert [item["id"] for item in await user.command("schedule/list")] == ["pool_pump"]
        assert (await user.error("schedule/create", name="Mine"))["code"] == "unauthorized"
        # update merges the given fields into the item, as Home Assistant's storage collection does
        updated = await admin.command("schedule/update", schedule_id="pool_pump", friday=[{"from": "08:00", "to": "09:00"}])
        assert updated["tuesday"] == made["tuesday"] and updated["friday"] == [{"from": "08:00:00", "to": "09:00:00"}]
        refused = await admin.error("schedule/update", schedule_id="pool_pump", monday=[{"from": "9:00", "to": "8:00"}])
        assert refused["code"] == "invalid_format" and "/monday/0/to" in refused["message"]
        assert (await admin.error("schedule/update", schedule_id="from_yaml", name="X"))["code"] == "home_assistant_error"
        async with http.get(f"{runtime.url}/api/v1/schedules/pool_pump", headers=tokens["user"]) as answer:
            assert (await answer.json())["friday"] == [{"from": "08:00:00", "to": "09:00:00"}]
        await admin.command("schedule/delete", schedule_id="pool_pump")
        assert (await admin.error("schedule/delete", schedule_id="pool_pump"))["code"] == "not_found"
    assert runtime.hub.states.get("schedule.pool_pump") is None
