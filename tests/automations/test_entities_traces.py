"""automation.* entities and services, traces, reload and per-automation errors in a real hub.

Source: https://www.home-assistant.io/docs/automation/services/ (automation.turn_on/turn_off/
toggle/trigger/reload) and https://www.home-assistant.io/docs/automation/troubleshooting/
(traces, stored_traces).
"""

from __future__ import annotations

from pathlib import Path

from automations.loader import config_issues
from automations.trace import get_trace_store
from hub.core.hub import Hub
from hub.core.services import ServiceCall
from tests.automations.conftest import setup_automations, wait_for
from tests.hubs import write_config

AUTOMATIONS = """
- id: power_alarm
  alias: Power alarm
  trace:
    stored_traces: 2
  triggers:
    - trigger: event
      event_type: go
  conditions: "{{ trigger.event.data.ok }}"
  actions:
    - action: test.record
      data: {n: "{{ trigger.event.data.n }}"}
    - action: test.missing_service
- id: broken
  alias: Broken
  triggers:
    - trigger: state
      entity_id: "not an entity"
  actions:
    - action: test.record
- id: second
  alias: Second
  triggers: {trigger: event, event_type: second}
  actions: {action: test.record, data: {n: second}}
"""


async def test_entities_services_traces_reload(tmp_path: Path, start_hub) -> None:  # type: ignore[no-untyped-def]
    config = write_config(tmp_path / "config", "automation: !include automations.yaml\n")
    (config / "automations.yaml").write_text(AUTOMATIONS.replace("    - action: test.missing_service\n", ""))
    runtime = await start_hub(config)
    hub = runtime.hub
    seen: list[ServiceCall] = []

    async def record(call: ServiceCall) -> None:
        seen.append(call)

    hub.services.register("test", "record", record)
    issues = config_issues(hub, "automation")
    assert len(issues) == 1
    assert issues[0].file.endswith("automations.yaml") and issues[0].line == 16
    assert "invalid entity_id 'not an entity'" in issues[0].message
    state = hub.states.get("automation.power_alarm")
    assert state.state == "on"
    assert state.attributes["id"] == "power_alarm" and state.attributes["mode"] == "single"
    assert state.attributes["friendly_name"] == "Power alarm" and state.attributes["current"] == 0

    hub.bus.fire("go", {"ok": True, "n": 1})
    await wait_for(lambda: len(seen) == 1)
    hub.bus.fire("go", {"ok": False, "n": 2})
    await wait_for(lambda: len(get_trace_store(hub).list("automation", "power_alarm")) == 2)
    assert hub.states.get("automation.power_alarm").attributes["last_triggered"] is not None
    traces = get_trace_store(hub).list("automation", "power_alarm")
    assert [t["script_execution"] for t in traces] == ["finished", "failed_conditions"]
    full = get_trace_store(hub).get("automation", "power_alarm", traces[0]["run_id"])
    assert "trigger/0" in full["trace"] and "condition/0" in full["trace"] and "action/0" in full["trace"]
    assert full["trace"]["action/0"][0]["result"]["params"]["service_data"] == {"n": 1}

    await hub.services.call("automation", "turn_off", target={"entity_id": "automation.power_alarm"})
    assert hub.states.get("automation.power_alarm").state == "off"
    hub.bus.fire("go", {"ok": True, "n": 3})
    await hub.services.call("automation", "trigger", {"entity_id": "automation.second"})
    await wait_for(lambda: len(seen) == 2)
    assert seen[-1].data == {"n": "second"}
    await hub.services.call("automation", "toggle", target={"entity_id": "automation.power_alarm"})
    assert hub.states.get("automation.power_alarm").state == "on"

    # Reload with a step that fails at run time and the broken one fixed; the hub keeps running.
    (config / "automations.yaml").write_text(AUTOMATIONS.replace('"not an entity"', "sensor.fixed"))
    await hub.services.call("automation", "reload")
    assert config_issues(hub, "automation") == []
    assert hub.states.get("automation.broken").state == "on"
    for n in range(4):
        hub.bus.fire("go", {"ok": True, "n": 10 + n})
        await wait_for(lambda n=n: len(seen) == 3 + n)
        await wait_for(lambda: all(t["state"] == "stopped" for t in get_trace_store(hub).list("automation", "power_alarm")))
    traces = get_trace_store(hub).list("automation", "power_alarm")
    # stored_traces: 2 keeps two newest, and two newest errors besides (here the same runs).
    assert all(t["script_execution"] == "error" for t in traces[-2:])
    assert "test.missing_service not found" in traces[-1]["error"]


async def test_traces_persist_across_restart(tmp_path: Path, start_hub) -> None:  # type: ignore[no-untyped-def]
    config = write_config(tmp_path / "config", "automation: !include automations.yaml\n")
    (config / "automations.yaml").write_text(AUTOMATIONS.replace("    - action: test.missing_service\n", ""))
    runtime = await start_hub(config, tmp_path / "data")
    runtime.hub.services.register("test", "record", lambda call: None)
    runtime.hub.bus.fire("go", {"ok": True, "n": 1})
    await wait_for(lambda: [t["state"] for t in get_trace_store(runtime.hub).list("automation", "power_alarm")] == ["stopped"])
    from hub import bootstrap  # noqa: PLC0415

    await bootstrap.stop(runtime)
    # A trace holds the run's variables: only the hub's user may read it.
    folder = tmp_path / "data" / "traces"
    assert folder.stat().st_mode & 0o777 == 0o700
    assert [oct(p.stat().st_mode & 0o777) for p in folder.iterdir()] == ["0o600"]
    again = await start_hub(config, tmp_path / "data")
    traces = get_trace_store(again.hub).list("automation", "power_alarm")
    assert [t["script_execution"] for t in traces] == ["finished"]


async def test_automation_entity_id_is_home_assistant_slug(hub: Hub) -> None:
    await setup_automations(
        hub,
        """
        - alias: Licht Straße
          triggers: {trigger: event, event_type: go}
          actions: []
        """,
    )
    assert hub.states.get("automation.licht_strasse") is not None


async def test_a_trace_says_when_a_target_entity_does_not_exist(tmp_path: Path, start_hub) -> None:  # type: ignore[no-untyped-def]
    config = write_config(tmp_path / "config", "input_boolean:\n  heater:\nautomation: !include automations.yaml\n")
    (config / "automations.yaml").write_text("""
- id: heat
  triggers: {trigger: event, event_type: go}
  actions:
    - action: input_boolean.turn_on
      target: {entity_id: [input_boolean.heater, switch.heater_relay]}
""")
    runtime = await start_hub(config)
    hub = runtime.hub
    hub.bus.fire("go", {})
    await wait_for(lambda: len(get_trace_store(hub).list("automation", "heat")) == 1)
    run = get_trace_store(hub).list("automation", "heat")[0]
    await wait_for(lambda: get_trace_store(hub).get("automation", "heat", run["run_id"])["state"] == "stopped")
    step = get_trace_store(hub).get("automation", "heat", run["run_id"])["trace"]["action/0"][0]
    assert step["result"]["missing_entities"] == ["switch.heater_relay"]
    assert hub.states.get("input_boolean.heater").state == "on"
