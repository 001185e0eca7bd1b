"""Home Assistant's config API: automations, scripts and scenes saved, checked, reloaded, deleted."""

from __future__ import annotations

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
automation: !include automations.yaml
script: !include scripts.yaml
scene: !include scenes.yaml
automation folder: !include_dir_merge_list more/
"""
KEEP = """\
# kept
- id: keep
  alias: Keep me
  trigger: {platform: event, event_type: keep}
  action:
    - service: input_boolean.turn_on
      target: {entity_id: !secret heater}
"""
SAVED = {
    "alias": "Heater on at 5",
    "description": "made through the API",
    "triggers": [{"trigger": "event", "event_type": "go"}],
    "actions": [{"action": "input_boolean.turn_on", "target": {"entity_id": "input_boolean.heater"}}],
    "mode": "single",
}


def _config(folder: Path) -> Path:
    write_config(folder, CONFIG)
    (folder / "automations.yaml").write_text(KEEP)
    (folder / "secrets.yaml").write_text("heater: input_boolean.heater\n")
    (folder / "scripts.yaml").write_text("{}\n")
    (folder / "scenes.yaml").write_text("[]\n")
    (folder / "more").mkdir()
    (folder / "more" / "a.yaml").write_text(
        "- id: from_folder\n  trigger: {platform: event, event_type: x}\n  action: []\n")
    return folder


async def _admin(runtime: bootstrap.Runtime) -> dict[str, str]:
    auth = runtime.hub.auth
    auth._rounds = 4
    user = await auth.add_user("admin", "correct horse battery", "admin")
    return {"Authorization": f"Bearer {await auth.create_long_lived_token(user.id, 't')}"}


async def _call(http: aiohttp.ClientSession, method: str, url: str, headers: dict[str, str],
                body: Any = None) -> tuple[int, Any]:
    async with http.request(method, url, json=body, headers=headers) as answer:
        return answer.status, await answer.json()


async def test_an_automation_saved_through_the_api_runs_survives_a_restart_and_is_deleted(
        tmp_path: Path, start_hub: Any) -> None:
    folder = _config(tmp_path / "config")
    runtime = await start_hub(folder)
    headers = await _admin(runtime)
    url = f"{runtime.url}/api/config/automation/config/heater_at_5"
    async with aiohttp.ClientSession() as http:
        assert await _call(http, "POST", url, headers, SAVED) == (200, {"result": "ok"})
        written = yaml.safe_load((folder / "automations.yaml").read_text().replace("!secret", ""))
        assert [a["id"] for a in written] == ["keep", "heater_at_5"]
        assert written[1]["alias"] == "Heater on at 5"
        # The previous version is kept; the other automation's secret stays a secret.
        assert (folder / "automations.yaml.bak").read_text() == KEEP
        assert "entity_id: !secret 'heater'" in (folder / "automations.yaml").read_text()
        assert await _call(http, "GET", url, headers) == (200, {"id": "heater_at_5", **SAVED})

        # It runs.
        hub = runtime.hub
        assert hub.states.get("automation.heater_on_at_5").state == "on"
        hub.bus.fire("go", {})
        await wait_for(lambda: hub.states.get("input_boolean.heater").state == "on")

        # A broken one is refused with file:line, and nothing is written.
        before = (folder / "automations.yaml").read_text()
        broken = {**SAVED, "triggers": [{"trigger": "state"}]}
        status, answer = await _call(http, "POST", f"{runtime.url}/api/config/automation/config/broken",
                                     headers, broken)
        assert status == 400
        assert answer["message"].startswith("Message malformed: automations.yaml:"), answer
        assert "entity_id" in answer["message"]
        assert (folder / "automations.yaml").read_text() == before
        assert not list(folder.glob(".automations.yaml.new"))

        # One that comes from a folder is refused, naming where it is.
        status, answer = await _call(http, "POST", f"{runtime.url}/api/config/automation/config/from_folder",
                                     headers, SAVED)
        assert status == 400 and "more/a.yaml:1" in answer["message"], answer

    # After a restart it is still there.
    await bootstrap.stop(runtime)
    runtime = await start_hub(folder, tmp_path / "data")
    headers = await _admin_again(runtime)
    assert runtime.hub.states.get("automation.heater_on_at_5") is not None
    async with aiohttp.ClientSession() as http:
        url = f"{runtime.url}/api/config/automation/config/heater_at_5"
        assert await _call(http, "DELETE", url, headers) == (200, {"result": "ok"})
        assert runtime.hub.states.get("automation.heater_on_at_5") is None
        assert runtime.hub.states.get("automation.keep_me") is not None
        assert await _call(http, "GET", url, headers) == (404, {"message": "Resource not found"})
        assert await _call(http, "DELETE", url, headers) == (404, {"message": "Resource not found"})
    assert "heater_at_5" not in (folder / "automations.yaml").read_text()


async def _admin_again(runtime: bootstrap.Runtime) -> dict[str, str]:
    auth = runtime.hub.auth
    user = next(u for u in await auth.list_users() if u.name == "admin")
    return {"Authorization": f"Bearer {await auth.create_long_lived_token(user.id, 't2')}"}


async def test_scripts_and_scenes_and_who_may_edit(tmp_path: Path, start_hub: Any) -> None:
    folder = _config(tmp_path / "config")
    runtime = await start_hub(folder)
    headers = await _admin(runtime)
    auth = runtime.hub.auth
    plain = await auth.add_user("plain", "correct horse battery", "user")
    user_headers = {"Authorization": f"Bearer {await auth.create_long_lived_token(plain.id, 'u')}"}
    script = {"alias": "Warm up", "sequence": [{"action": "input_boolean.turn_on",
                                                "target": {"entity_id": "input_boolean.heater"}}]}
    async with aiohttp.ClientSession() as http:
        url = f"{runtime.url}/api/config/script/config/warm_up"
        assert (await _call(http, "POST", url, user_headers, script))[0] == 401
        assert await _call(http, "POST", url, headers, script) == (200, {"result": "ok"})
        assert yaml.safe_load((folder / "scripts.yaml").read_text()) == {"warm_up": script}
        await runtime.hub.services.call("script", "warm_up", {}, blocking=True)
        assert runtime.hub.states.get("input_boolean.heater").state == "on"

        scene = {"name": "Cosy", "entities": {"input_boolean.heater": "off"}}
        url = f"{runtime.url}/api/config/scene/config/cosy"
        assert await _call(http, "POST", url, headers, scene) == (200, {"result": "ok"})
        await runtime.hub.services.call("scene", "turn_on", {"entity_id": "scene.cosy"}, blocking=True)
        assert runtime.hub.states.get("input_boolean.heater").state == "off"
        status, answer = await _call(http, "POST", url, headers, {"entities": {}})
        assert status == 400 and "scenes.yaml:" in answer["message"] and "name" in answer["message"]


async def test_a_section_not_in_its_own_file_is_refused(tmp_path: Path, start_hub: Any) -> None:
    section = "automation:\n  - id: inline\n    trigger: []\n    action: []\n"
    folder = write_config(tmp_path / "config", "homeassistant:\n  name: Test\n" + section)
    runtime = await start_hub(folder)
    headers = await _admin(runtime)
    async with aiohttp.ClientSession() as http:
        status, answer = await _call(http, "POST", f"{runtime.url}/api/config/automation/config/x", headers, SAVED)
    assert status == 400 and "automation: !include automations.yaml" in answer["message"], answer


async def test_a_refused_save_says_where_and_logs_no_temporary_file(tmp_path: Path, start_hub: Any, caplog: Any) -> None:
    folder = _config(tmp_path / "config")
    runtime = await start_hub(folder)
    headers = await _admin(runtime)
    broken = {**SAVED, "triggers": [{"trigger": "event", "event_type": "go"}, {"trigger": "state"}]}
    caplog.clear()
    async with aiohttp.ClientSession() as http:
        status, answer = await _call(http, "POST", f"{runtime.url}/api/config/automation/config/broken", headers, broken)
    assert status == 400
    # HA's `message`, plus each problem with its JSON pointer into the body sent.
    assert answer["message"].startswith("Message malformed: automations.yaml:"), answer
    [problem] = answer["errors"]
    assert problem["pointer"].startswith("/triggers/1"), problem
    assert problem["message"].startswith("automations.yaml:") and "entity_id" in problem["message"], problem
    # A refused save is the caller's answer, not the hub's error: no ERROR, no temporary file named.
    logged = [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    assert not logged, [r.getMessage() for r in logged]
    assert not any(".automations.yaml.new" in r.getMessage() for r in caplog.records)


async def test_the_config_api_answers_without_an_automation_section(tmp_path: Path, start_hub: Any) -> None:
    """As in Home Assistant, the routes come with the web UI's config API, not with `automation:`."""
    folder = write_config(tmp_path / "config", "homeassistant:\n  name: Test\nfrontend:\nscript: !include scripts.yaml\n")
    (folder / "scripts.yaml").write_text("{}\n")
    runtime = await start_hub(folder)
    headers = await _admin(runtime)
    async with aiohttp.ClientSession() as http:
        status, answer = await _call(http, "POST", f"{runtime.url}/api/config/automation/config/x", headers, SAVED)
        assert status == 400 and "add `automation: !include automations.yaml`" in answer["message"], answer
        script = {"alias": "Hello", "sequence": []}
        assert await _call(http, "POST", f"{runtime.url}/api/config/script/config/hello", headers, script) == (
            200, {"result": "ok"})
    assert runtime.hub.states.get("script.hello") is not None
