"""/api/v1/scenes: scenes.yaml and scene.create over the device API, roles, audit, and created
scenes that survive a restart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from hub import bootstrap
from tests.api.conftest import wait_for
from tests.hubs import write_config

CONFIG = """
homeassistant:
  name: Test home
input_boolean:
  heater:
  lamp:
scene: !include scenes.yaml
automation: []
"""
YAML_SCENES = """\
- id: evening
  name: Evening
  entities:
    input_boolean.lamp: "on"
- name: No id
  entities:
    input_boolean.lamp: "off"
"""
ROLES = ("admin", "user", "read-only")


def _config(folder: Path) -> Path:
    write_config(folder, CONFIG)
    (folder / "scenes.yaml").write_text(YAML_SCENES)
    return folder


async def _tokens(runtime: bootstrap.Runtime) -> dict[str, dict[str, str]]:
    auth = runtime.hub.auth
    auth._rounds = 4
    headers = {}
    for role in ROLES:
        user = await auth.add_user(role, "correct horse battery", role)
        headers[role] = {"Authorization": f"Bearer {await auth.create_long_lived_token(user.id, role)}"}
    return headers


async def _call(http: aiohttp.ClientSession, method: str, url: str, headers: dict[str, str],
                body: Any = None) -> tuple[int, Any]:
    async with http.request(method, url, json=body, headers=headers) as answer:
        text = await answer.text()
        return answer.status, json.loads(text) if text else None


async def test_scenes_are_listed_created_changed_activated_and_deleted_in_scenes_yaml(
        tmp_path: Path, start_hub: Any) -> None:
    folder = _config(tmp_path / "config")
    runtime = await start_hub(folder)
    tokens = await _tokens(runtime)
    hub = runtime.hub
    base = f"{runtime.url}/api/v1/scenes"
    async with aiohttp.ClientSession() as http:
        status, listed = await _call(http, "GET", base, tokens["read-only"])
        assert status == 200
        assert [(s["id"], s["source"], s["editable"]) for s in listed] == [
            ("evening", "yaml", True), ("no_id", "yaml", False)]

        new = {"name": "Cosy night", "entities": {"input_boolean.heater": "on", "input_boolean.lamp": {"state": "off"}}}
        status, made = await _call(http, "POST", base, tokens["admin"], new)
        assert status == 201, made
        assert made["id"] == "cosy_night" and made["entity_id"] == "scene.cosy_night"
        written = yaml.safe_load((folder / "scenes.yaml").read_text())
        assert written[-1] == {"id": "cosy_night", **new}
        # The same scene through Home Assistant's config API: one store.
        status, via_ha = await _call(http, "GET", f"{runtime.url}/api/config/scene/config/cosy_night", tokens["admin"])
        assert (status, via_ha["name"]) == (200, "Cosy night")

        status, again = await _call(http, "POST", base, tokens["admin"], {**new, "id": "cosy_night"})
        assert status == 409 and again["errors"][0]["pointer"] == "/id"

        changed = {"name": "Cosy", "entities": {"input_boolean.heater": "on"}}
        status, updated = await _call(http, "PUT", f"{base}/cosy_night", tokens["admin"], changed)
        assert status == 200 and updated["name"] == "Cosy" and list(updated["entities"]) == ["input_boolean.heater"]

        status, done = await _call(http, "POST", f"{base}/cosy_night/activate", tokens["user"])
        assert status == 200 and done["last_activated"]
        await wait_for(lambda: hub.states.get("input_boolean.heater").state == "on")

        assert (await _call(http, "POST", f"{base}/evening/activate", tokens["read-only"]))[0] == 401
        assert (await _call(http, "DELETE", f"{base}/evening", tokens["user"]))[0] == 401
        assert (await _call(http, "PUT", f"{base}/no_id", tokens["admin"], changed))[0] == 409
        assert (await _call(http, "GET", f"{base}/nope", tokens["user"]))[0] == 404

        assert (await _call(http, "DELETE", f"{base}/cosy_night", tokens["admin"]))[0] == 204
        assert [s.get("id") for s in yaml.safe_load((folder / "scenes.yaml").read_text())] == ["evening", None]
        assert hub.states.get("scene.cosy") is None

    entries = await hub.auth.audit.entries(limit=50)
    seen = {(e.action, e.user_name, e.result) for e in entries}
    assert ("scene/activate", "user", "ok") in seen
    assert ("scene/activate", "read-only", "refused") in seen
    assert ("scene/delete", "user", "refused") in seen
    assert ("scene/create", "admin", "ok") in seen
    # A change refused once the scene was found is audited with why, as a store refusal is.
    assert ("scene/update", "no_id", "refused") in {(e.action, e.target, e.result) for e in entries}


async def test_a_refused_scene_names_each_wrong_field_by_json_pointer(tmp_path: Path, start_hub: Any) -> None:
    runtime = await start_hub(_config(tmp_path / "config"))
    tokens = await _tokens(runtime)
    async with aiohttp.ClientSession() as http:
        body = {"name": "", "entities": {"Not An Id": "on", "light.x": [1]}, "colour": "red"}
        status, answer = await _call(http, "POST", f"{runtime.url}/api/v1/scenes", tokens["admin"], body)
        assert status == 400
        assert {e["pointer"] for e in answer["errors"]} == {"/colour", "/name", "/entities/Not An Id", "/entities/light.x"}
        status, answer = await _call(http, "POST", f"{runtime.url}/api/v1/scenes", tokens["admin"], [1])
        assert status == 400 and answer["errors"][0]["pointer"] == ""
    assert yaml.safe_load((tmp_path / "config" / "scenes.yaml").read_text())[0]["id"] == "evening"


async def test_scenes_made_with_scene_create_survive_a_restart_and_are_edited_over_the_api(
        tmp_path: Path, start_hub: Any) -> None:
    folder = _config(tmp_path / "config")
    data = tmp_path / "data"
    runtime = await start_hub(folder, data)
    hub = runtime.hub
    await hub.services.call("input_boolean", "turn_on", {"entity_id": "input_boolean.heater"}, blocking=True)
    await hub.services.call("scene", "create", {"scene_id": "before_guests",
                                                "snapshot_entities": ["input_boolean.heater"]}, blocking=True)
    assert (data / "scene.created").stat().st_mode & 0o777 == 0o600
    await bootstrap.stop(runtime)

    runtime = await start_hub(folder, data)
    hub = runtime.hub
    tokens = await _tokens(runtime)
    assert hub.states.get("scene.before_guests") is not None
    base = f"{runtime.url}/api/v1/scenes"
    async with aiohttp.ClientSession() as http:
        status, scene = await _call(http, "GET", f"{base}/before_guests", tokens["user"])
        assert status == 200 and scene["source"] == "created"
        assert scene["entities"]["input_boolean.heater"]["state"] == "on"
        # A reload of scenes.yaml keeps it, as it keeps the scene in Home Assistant until a restart.
        await hub.services.call("scene", "reload", {}, blocking=True)
        status, _ = await _call(http, "PUT", f"{base}/before_guests", tokens["admin"],
                                {"name": "Before guests", "entities": {"input_boolean.lamp": "on"}})
        assert status == 200
        await _call(http, "POST", f"{base}/before_guests/activate", tokens["user"])
        await wait_for(lambda: hub.states.get("input_boolean.lamp").state == "on")
    stored = json.loads((data / "scene.created").read_text())
    assert stored["key"] == "scene.created"
    assert stored["data"]["items"] == [{"id": "before_guests", "name": "Before guests",
                                        "entities": {"input_boolean.lamp": {"state": "on"}}}]
    await hub.services.call("scene", "delete", {"entity_id": "scene.before_guests"}, blocking=True)
    await bootstrap.stop(runtime)
    runtime = await start_hub(folder, data)
    assert runtime.hub.states.get("scene.before_guests") is None


async def test_an_unreadable_created_scenes_file_is_set_aside_and_the_hub_starts(tmp_path: Path, start_hub: Any) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "scene.created").write_text("{not json")
    (data / "scene.created").chmod(0o600)
    runtime = await start_hub(_config(tmp_path / "config"), data)
    assert runtime.hub.states.get("scene.evening") is not None
    assert (data / "scene.created.corrupt").exists() and not (data / "scene.created").exists()


async def test_a_yaml_scene_reloaded_over_a_created_one_is_skipped_not_a_crash(tmp_path: Path, start_hub: Any) -> None:
    folder = _config(tmp_path / "config")
    runtime = await start_hub(folder)
    hub = runtime.hub
    await hub.services.call("scene", "create", {"scene_id": "later", "entities": {"input_boolean.lamp": "on"}},
                            blocking=True)
    (folder / "scenes.yaml").write_text(YAML_SCENES + "- id: later\n  name: Later\n  entities: {input_boolean.lamp: 'off'}\n")
    await hub.services.call("scene", "reload", {}, blocking=True)
    assert hub.states.get("scene.evening") is not None
    assert hub.entities.get("scene.later").created
