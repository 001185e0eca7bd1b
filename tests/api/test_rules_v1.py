"""/api/v1/automation/rules: one store with automations.yaml and Home Assistant's config API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from automations.pointers import locate
from hub import bootstrap
from tests.hubs import write_config

from .conftest import DEVICES, PASSWORD, wait_for

CONFIG = """
homeassistant:
  name: Test home
testdevices:
automation: !include automations.yaml
automation pkg: !include_dir_merge_list more/
"""
RULES = "/api/v1/automation/rules"
RULE = {
    "alias": "Relay off above 2 kW",
    "triggers": [{"trigger": "numeric_state", "entity_id": "sensor.test_power", "above": 2000}],
    "actions": [{"action": "switch.turn_off", "target": {"entity_id": "switch.test_relay"}}],
}


class Client:
    def __init__(self, runtime: bootstrap.Runtime, http: aiohttp.ClientSession) -> None:
        self.runtime = runtime
        self.http = http
        self.tokens: dict[str, str] = {}

    async def login(self, roles: tuple[str, ...] = ("admin", "user", "read-only")) -> None:
        auth = self.runtime.hub.auth
        auth._rounds = 4
        users = {u.name: u for u in await auth.list_users()}
        for role in roles:
            user = users.get(role) or await auth.add_user(role, PASSWORD, role)
            self.tokens[role] = await auth.create_long_lived_token(user.id, f"{role}-{len(self.tokens)}")

    async def call(self, method: str, path: str, role: str = "admin", body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"}
        async with self.http.request(method, self.runtime.url + path, json=body, headers=headers) as answer:
            text = await answer.text()
            return answer.status, yaml.safe_load(text) if text else None


def _folder(tmp_path: Path) -> Path:
    folder = write_config(tmp_path / "config", CONFIG, {"testdevices": DEVICES})
    (folder / "automations.yaml").write_text("[]\n")
    (folder / "more").mkdir()
    (folder / "more" / "a.yaml").write_text(
        "- id: from_pkg\n  alias: From a package\n  triggers: {trigger: event, event_type: x}\n  actions: []\n")
    return folder


@pytest.fixture
async def client(tmp_path: Path, start_hub: Any) -> AsyncIterator[Client]:
    runtime = await start_hub(_folder(tmp_path))
    async with aiohttp.ClientSession() as http:
        api = Client(runtime, http)
        await api.login()
        yield api


async def test_a_rule_made_here_is_in_the_file_runs_and_is_the_config_apis_too(
        tmp_path: Path, start_hub: Any, client: Client) -> None:
    hub = client.runtime.hub
    status, rule = await client.call("POST", RULES, body={"id": "relay_off", **RULE})
    assert status == 201, rule
    assert rule["id"] == "relay_off" and rule["entity_id"] == "automation.relay_off_above_2_kw"
    assert rule["state"] == "on" and rule["editable"] is True and rule["error"] is None
    assert rule["config"] == {"id": "relay_off", **RULE}
    written = yaml.safe_load((tmp_path / "config" / "automations.yaml").read_text())
    assert written == [{"id": "relay_off", **RULE}]

    # It runs: power above 2 kW turns the relay off.
    await hub.services.call("switch", "turn_on", {"entity_id": "switch.test_relay"}, blocking=True)
    hub.states.set("sensor.test_power", "2500", {"unit_of_measurement": "W"})
    await wait_for(lambda: hub.states.get("switch.test_relay").state == "off")

    # Home Assistant's config API reads and edits the same item.
    status, seen = await client.call("GET", "/api/config/automation/config/relay_off")
    assert status == 200 and seen == {"id": "relay_off", **RULE}
    changed = {**RULE, "alias": "Relay off above 3 kW"}
    assert await client.call("POST", "/api/config/automation/config/relay_off", body=changed) == (200, {"result": "ok"})
    status, rule = await client.call("GET", f"{RULES}/relay_off")
    assert status == 200 and rule["alias"] == "Relay off above 3 kW"
    assert rule["entity_id"] == "automation.relay_off_above_2_kw"  # the registry keeps it, as in HA

    # And a rule made there is listed here, beside the package's (read-only here).
    made_there = {**RULE, "alias": "Made in the editor"}
    assert (await client.call("POST", "/api/config/automation/config/editor", body=made_there))[0] == 200
    status, rules = await client.call("GET", RULES, role="read-only")
    assert status == 200
    assert [(r["id"], r["editable"]) for r in rules] == [("relay_off", True), ("editor", True), ("from_pkg", False)]
    package = rules[2]
    assert package["config"] is None and package["source"] == "more/a.yaml:1" and package["state"] == "on"

    # PUT replaces; the file follows.
    replaced = {**RULE, "alias": "Relay off", "mode": "restart"}
    status, rule = await client.call("PUT", f"{RULES}/relay_off", body=replaced)
    assert status == 200 and rule["config"] == {"id": "relay_off", **replaced}
    assert hub.states.get("automation.relay_off_above_2_kw").attributes["mode"] == "restart"

    # Deleting works both ways.
    assert (await client.call("DELETE", f"{RULES}/relay_off"))[0] == 204
    assert hub.states.get("automation.relay_off_above_2_kw") is None
    assert (await client.call("GET", "/api/config/automation/config/relay_off"))[0] == 404
    assert (await client.call("DELETE", "/api/config/automation/config/editor"))[0] == 200
    assert (await client.call("GET", f"{RULES}/editor"))[0] == 404
    assert (await client.call("DELETE", f"{RULES}/editor"))[0] == 404

    # After a restart a rule made here is still there and running.
    status, _ = await client.call("POST", RULES, body={"id": "kept", **RULE})
    assert status == 201
    await bootstrap.stop(client.runtime)
    runtime = await start_hub(tmp_path / "config", tmp_path / "data")
    again = Client(runtime, client.http)
    await again.login(("admin",))
    status, rule = await again.call("GET", f"{RULES}/kept")
    assert status == 200 and rule["state"] == "on" and rule["config"] == {"id": "kept", **RULE}


async def test_trigger_runs_the_actions_and_the_run_is_in_its_traces(client: Client) -> None:
    hub = client.runtime.hub
    await hub.services.call("switch", "turn_on", {"entity_id": "switch.test_relay"}, blocking=True)
    assert (await client.call("POST", RULES, body={"id": "off", **RULE}))[0] == 201
    assert await client.call("GET", f"{RULES}/off/traces", role="user") == (200, [])

    status, run = await client.call("POST", f"{RULES}/off/trigger", role="user")
    assert status == 202 and run["id"] == "off" and run["run_id"]
    await wait_for(lambda: hub.states.get("switch.test_relay").state == "off")
    status, traces = await client.call("GET", f"{RULES}/off/traces", role="read-only")
    assert status == 200 and [t["run_id"] for t in traces] == [run["run_id"]]
    await wait_for(lambda: get_state(client, "off") == "stopped")
    status, trace = await client.call("GET", f"{RULES}/off/traces/{run['run_id']}")
    assert status == 200 and trace["script_execution"] == "finished" and "action/0" in trace["trace"]
    assert trace["context"]["parent_id"] == run["context_id"]
    assert (await client.call("GET", f"{RULES}/off/traces/nope"))[0] == 404

    # Conditions are checked when asked: a failing one stops the run.
    with_condition = {**RULE, "conditions": [{"condition": "state", "entity_id": "switch.test_relay", "state": "on"}]}
    assert (await client.call("PUT", f"{RULES}/off", body=with_condition))[0] == 200
    status, run = await client.call("POST", f"{RULES}/off/trigger", body={"skip_condition": False})
    assert status == 202
    await wait_for(lambda: get_state(client, "off") == "stopped")
    traces = (await client.call("GET", f"{RULES}/off/traces"))[1]
    assert traces[0]["run_id"] == run["run_id"] and traces[0]["script_execution"] == "failed_conditions"

    assert (await client.call("POST", f"{RULES}/nope/trigger"))[0] == 404
    assert (await client.call("GET", f"{RULES}/nope/traces"))[0] == 404
    bad = await client.call("POST", f"{RULES}/off/trigger", body={"skip_condition": "yes"})
    assert bad == (400, {"message": "Field 'skip_condition' must be true or false", "pointer": "/skip_condition"})


def get_state(client: Client, item_id: str) -> str | None:
    from automations.trace import get_trace_store

    runs = get_trace_store(client.runtime.hub).list("automation", item_id)
    return runs[-1]["state"] if runs else None


async def test_a_rule_that_does_not_pass_its_check_names_where_in_the_body(tmp_path: Path, client: Client) -> None:
    before = (tmp_path / "config" / "automations.yaml").read_text()
    broken = {**RULE, "triggers": [RULE["triggers"][0], {"trigger": "state"}]}
    status, answer = await client.call("POST", RULES, body={"id": "broken", **broken})
    assert status == 400
    assert answer["pointer"] == "/triggers/1/entity_id"
    assert answer["message"].startswith("Message malformed: automations.yaml:"), answer
    assert answer["errors"] == [{"message": answer["message"].removeprefix("Message malformed: "),
                                 "pointer": "/triggers/1/entity_id"}]
    assert (tmp_path / "config" / "automations.yaml").read_text() == before

    bad_delay = {**RULE, "actions": [RULE["actions"][0], {"delay": "soon"}]}
    status, answer = await client.call("POST", RULES, body=bad_delay)
    assert status == 400 and answer["pointer"] == "/actions/1/delay", answer
    status, answer = await client.call("POST", RULES, body={**RULE, "triggerz": []})
    assert status == 400 and answer["pointer"] == "/triggerz", answer
    status, answer = await client.call("POST", RULES, body=[RULE])
    assert status == 400 and answer["pointer"] == ""
    status, answer = await client.call("POST", RULES, body={**RULE, "id": "a b"})
    assert status == 400 and answer["pointer"] == "/id"

    # Conflicts: an id in use, an id from a package, a PUT whose body names another id.
    assert (await client.call("POST", RULES, body={"id": "one", **RULE}))[0] == 201
    assert (await client.call("POST", RULES, body={"id": "one", **RULE}))[0] == 409
    # Two creates of one id at once: one is made, the other is told it exists.
    both = await asyncio.gather(*(client.call("POST", RULES, body={"id": "twin", **RULE, "alias": f"Twin {n}"})
                                  for n in (1, 2)))
    assert sorted(status for status, _ in both) == [201, 409]
    made = next(answer for status, answer in both if status == 201)
    assert (await client.call("GET", f"{RULES}/twin"))[1]["alias"] == made["alias"]
    status, answer = await client.call("PUT", f"{RULES}/from_pkg", body=RULE)
    assert status == 409 and "more/a.yaml:1" in answer["message"]
    assert (await client.call("DELETE", f"{RULES}/from_pkg"))[0] == 409
    assert (await client.call("PUT", f"{RULES}/one", body={**RULE, "id": "two"}))[0] == 400
    assert (await client.call("PUT", f"{RULES}/missing", body=RULE))[0] == 404


async def test_a_rule_whose_file_entry_is_broken_says_why_it_is_not_running(tmp_path: Path, client: Client) -> None:
    hub = client.runtime.hub
    (tmp_path / "config" / "automations.yaml").write_text(
        "- id: hand_made\n  alias: Hand made\n  triggers:\n  - trigger: state\n  actions: []\n")
    await hub.services.call("automation", "reload", {}, blocking=True)
    status, rule = await client.call("GET", f"{RULES}/hand_made", role="user")
    assert status == 200 and rule["entity_id"] is None and rule["state"] is None
    assert rule["error"].startswith("automations.yaml:4: automation.hand_made.entity_id: required key"), rule
    status, answer = await client.call("POST", f"{RULES}/hand_made/trigger")
    assert status == 409 and "not running" in answer["message"]
    # Fixed over the API, it runs.
    status, rule = await client.call("PUT", f"{RULES}/hand_made", body=RULE)
    assert status == 200 and rule["state"] == "on" and rule["error"] is None


async def test_users_read_admins_write_and_every_change_is_audited(client: Client) -> None:
    auth = client.runtime.hub.auth
    assert (await client.call("POST", RULES, body={"id": "mine", **RULE}))[0] == 201
    for role in ("user", "read-only"):
        assert (await client.call("GET", RULES, role=role))[0] == 200
        assert (await client.call("GET", f"{RULES}/mine", role=role))[0] == 200
        assert (await client.call("POST", RULES, role=role, body=RULE))[0] == 403
        assert (await client.call("PUT", f"{RULES}/mine", role=role, body=RULE))[0] == 403
        assert (await client.call("DELETE", f"{RULES}/mine", role=role))[0] == 403
    assert (await client.call("POST", f"{RULES}/mine/trigger", role="read-only"))[0] == 403
    async with client.http.get(client.runtime.url + RULES) as answer:
        assert answer.status == 401

    rows = [(e.action, e.target, e.result) for e in await auth.audit.entries(limit=50) if e.action.startswith("automation/rules")]
    assert ("automation/rules/create", "mine", "ok") in rows
    assert rows.count(("automation/rules/delete", "mine", "refused")) == 2
    assert ("automation/rules/trigger", "mine", "refused") in rows


@pytest.mark.parametrize(("text", "line", "key", "pointer"), [
    ("- id: x\n  triggers:\n  - trigger: state\n", 3, "entity_id", "/triggers/0/entity_id"),
    ("- id: x\n  actions:\n  - delay: soon\n", 3, "delay", "/actions/0/delay"),
    ("- id: x\n  triggerz: []\n", 2, "triggerz", "/triggerz"),
    ("- id: x\n  triggers:\n  - trigger: state\n", 2, "triggers", "/triggers"),
    ("- id: y\n- id: x\n  a/b: 1\n", 3, "", "/a~1b"),
    ("- id: x\n  alias: a\n", None, "", ""),
])
def test_a_problems_line_and_key_become_a_json_pointer(text: str, line: int | None, key: str, pointer: str) -> None:
    assert locate(text, "x", line, key) == pointer


async def test_without_an_automations_file_rules_are_read_only_and_say_how_to_fix_it(
        tmp_path: Path, start_hub: Any) -> None:
    folder = write_config(tmp_path / "inline", """
        automation:
          - id: inline
            alias: Inline
            triggers: {trigger: event, event_type: x}
            actions: []
        """)
    runtime = await start_hub(folder)
    async with aiohttp.ClientSession() as http:
        api = Client(runtime, http)
        await api.login(("admin",))
        status, rules = await api.call("GET", RULES)
        assert status == 200 and [(r["id"], r["editable"], r["source"]) for r in rules] == [
            ("inline", False, "configuration.yaml:3")]
        status, answer = await api.call("POST", RULES, body=RULE)
        assert status == 409 and "automation: !include automations.yaml" in answer["message"], answer


LIMITED = """
http:
  rules_rate_limit:
    per_user: {commands: 100, seconds: 60}
    per_rule: {commands: 5, seconds: 60}
"""


async def test_rapid_triggers_are_not_all_accepted_and_say_when_to_retry(tmp_path: Path, start_hub: Any) -> None:
    from tests.api.openapi_check import check_answer

    folder = _folder(tmp_path)
    (folder / "configuration.yaml").write_text((folder / "configuration.yaml").read_text() + LIMITED)
    runtime = await start_hub(folder)
    async with aiohttp.ClientSession() as http:
        api = Client(runtime, http)
        await api.login()
        for rule_id in ("a", "b"):
            assert (await api.call("POST", RULES, body={"id": rule_id, **RULE}))[0] == 201
        answers = []
        for _ in range(12):
            async with http.post(f"{runtime.url}{RULES}/a/trigger", headers={"Authorization": f"Bearer {api.tokens['user']}"}) as r:
                answers.append((r.status, r.headers.get("Retry-After"), await r.json()))
        assert [status for status, _, _ in answers] == [202] * 5 + [429] * 7
        for _, retry, body in answers[5:]:
            assert retry is not None and 1 <= int(retry) <= 12  # one token back every 60 / 5 s
            assert "Too many requests for this rule: at most 5 per 60 s" in body["message"]
        # Another rule has its own budget; the refusals are audited.
        assert (await api.call("POST", f"{RULES}/b/trigger", role="user"))[0] == 202
        rows = [(e.action, e.target, e.result, e.reason) for e in await runtime.hub.auth.audit.entries(limit=50)]
        assert rows.count(("automation/rules/trigger", "a", "refused", "rate limit")) == 7
        # Writes to the rule spend the same budget; the 429 is as the OpenAPI document describes it.
        status, answer = await api.call("PUT", f"{RULES}/a", body=RULE)
        assert status == 429 and "Too many requests" in answer["message"]
        status, document = await api.call("GET", "/api/v1/openapi.json")
        check_answer(document, RULES + "/{rule_id}", "put", 429, answer)
        check_answer(document, RULES + "/{rule_id}/trigger", "post", 429, answers[-1][2])
        assert "Retry-After" in document["paths"][RULES + "/{rule_id}/trigger"]["post"]["responses"]["429"]["headers"]


async def test_rapid_rule_creation_is_limited_by_default(client: Client) -> None:
    answers = [(await client.call("POST", RULES, body={"id": f"r{i}", **RULE}))[0] for i in range(25)]
    assert answers.count(201) < 25 and answers.count(429) >= 10, answers
    assert answers[:10] == [201] * 10  # the default: a burst of 10 per rule (here: new rules)


async def test_a_bad_rules_rate_limit_names_the_file_line_and_field(tmp_path: Path) -> None:
    from hub.config.check import check_configuration

    folder = write_config(tmp_path / "config", "http:\n  rules_rate_limit:\n    per_rule: {commands: -1, seconds: 10}\n")
    validated, issues = check_configuration(folder, {}, set())
    text = "\n".join(i.format() for i in issues)
    assert "configuration.yaml" in text and "rules_rate_limit" in text and "per_rule" in text, text
