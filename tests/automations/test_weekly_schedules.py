"""Home Assistant's weekly schedules: blocks turn schedule.<id> on and off, an automation follows,
switching off by hand, and the errors that name the field."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from automations import schedules
from automations.schedule_store import STORE
from hub.core.clock import ManualClock
from hub.core.hub import Hub
from tests.automations.conftest import load_yaml_text, setup_automations

SCHEDULES = """
heating:
  name: Heating
  icon: mdi:radiator
  monday:
    - {from: "07:00", to: "09:00:00", data: {target: 21}}
    - {from: "22:00", to: "24:00"}
  tuesday:
    - {from: "00:00", to: "01:00"}
"""
AUTOMATIONS = """
- id: heat_on
  triggers: [{trigger: state, entity_id: schedule.heating, to: "on"}]
  actions: [{action: input_boolean.turn_on, target: {entity_id: input_boolean.relay}}]
- id: heat_off
  triggers: [{trigger: state, entity_id: schedule.heating, to: "off"}]
  actions: [{action: input_boolean.turn_off, target: {entity_id: input_boolean.relay}}]
"""


async def _setup(hub: Hub, start: datetime) -> ManualClock:
    from automations.domains import input_boolean  # noqa: PLC0415

    clock = ManualClock(start, time_zone="Europe/Amsterdam")
    hub.clock = clock
    await input_boolean.setup_integration(hub, {"relay": None})
    await schedules.setup_integration(hub, load_yaml_text(SCHEDULES, "configuration.yaml"))
    assert await setup_automations(hub, AUTOMATIONS) == []
    return clock


async def test_blocks_turn_the_schedule_on_and_off_and_an_automation_follows(core_hub: Hub) -> None:
    # Monday 2024-01-01 06:00 in Amsterdam.
    clock = await _setup(core_hub, datetime(2024, 1, 1, 5, 0, tzinfo=UTC))
    state = core_hub.states.get("schedule.heating")
    assert state.state == "off"
    assert state.attributes["next_event"] == "2024-01-01T07:00:00+01:00"
    assert state.attributes["editable"] is False and state.attributes["icon"] == "mdi:radiator"

    await clock.set_time(datetime(2024, 1, 1, 6, 0, tzinfo=UTC))  # 07:00 local
    await core_hub.block_till_done()
    state = core_hub.states.get("schedule.heating")
    assert (state.state, state.attributes["target"], state.attributes["next_event"]) == (
        "on", 21, "2024-01-01T09:00:00+01:00")
    assert core_hub.states.get("input_boolean.relay").state == "on"

    await clock.set_time(datetime(2024, 1, 1, 8, 0, tzinfo=UTC))  # 09:00 local: the block ends
    await core_hub.block_till_done()
    assert core_hub.states.get("schedule.heating").state == "off"
    assert "target" not in core_hub.states.get("schedule.heating").attributes
    assert core_hub.states.get("input_boolean.relay").state == "off"

    # 22:00 Monday to 01:00 Tuesday: on across midnight, off at 01:00.
    await clock.set_time(datetime(2024, 1, 1, 22, 30, tzinfo=UTC))  # 23:30 local
    await core_hub.block_till_done()
    assert core_hub.states.get("schedule.heating").state == "on"
    await clock.set_time(datetime(2024, 1, 1, 23, 30, tzinfo=UTC))  # 00:30 Tuesday
    await core_hub.block_till_done()
    assert core_hub.states.get("schedule.heating").state == "on"
    await clock.set_time(datetime(2024, 1, 2, 0, 30, tzinfo=UTC))  # 01:30 Tuesday
    await core_hub.block_till_done()
    state = core_hub.states.get("schedule.heating")
    assert state.state == "off" and state.attributes["next_event"] == "2024-01-08T07:00:00+01:00"


async def test_a_schedule_switched_off_by_hand_stays_off_and_comes_back(core_hub: Hub) -> None:
    clock = await _setup(core_hub, datetime(2024, 1, 1, 6, 30, tzinfo=UTC))  # inside 07:00-09:00
    assert core_hub.states.get("schedule.heating").state == "on"
    store = core_hub.runtime[STORE]
    await store.set_enabled("heating", False)
    await core_hub.block_till_done()
    state = core_hub.states.get("schedule.heating")
    assert (state.state, state.attributes["enabled"], state.attributes["next_event"]) == ("off", False, None)
    assert core_hub.states.get("input_boolean.relay").state == "off"
    await clock.set_time(datetime(2024, 1, 1, 21, 30, tzinfo=UTC))  # 22:30 local, a block
    await core_hub.block_till_done()
    assert core_hub.states.get("schedule.heating").state == "off"
    await store.set_enabled("heating", True)
    await core_hub.block_till_done()
    assert core_hub.states.get("schedule.heating").state == "on"
    assert "enabled" not in core_hub.states.get("schedule.heating").attributes


async def test_a_bad_weekly_schedule_names_the_field_and_the_others_load(core_hub: Hub) -> None:
    core_hub.clock = ManualClock(datetime(2024, 1, 1, 5, 0, tzinfo=UTC))
    await schedules.setup_integration(core_hub, load_yaml_text("""
        good:
          name: Good
          friday: [{from: "10:00", to: "11:00"}]
        bad:
          name: Bad
          monday:
            - {from: "08:00", to: "10:00"}
            - {from: "09:00", to: "25:00"}
            - {from: "12:00", to: "11:00"}
        """, "configuration.yaml"))
    from automations.loader import config_issues  # noqa: PLC0415

    assert core_hub.states.get("schedule.good").state == "off"
    assert core_hub.states.get("schedule.bad") is None
    [issue] = config_issues(core_hub, "schedule")
    text = issue.format(None)
    assert "configuration.yaml:6" in text or "configuration.yaml:5" in text, text
    assert "monday/1/to: expected a time" in text and "monday/2/to: must be after from (12:00:00)" in text


def test_check_config_names_a_bad_schedule_and_a_bad_scene(tmp_path: Path) -> None:
    from tests.test_cli import hub  # noqa: PLC0415 - runs `hub` as a user does

    (tmp_path / "configuration.yaml").write_text(
        "scene: !include scenes.yaml\n"
        "schedule:\n"
        "  fine:\n    name: Fine\n    monday: [{from: '07:00', to: '08:00'}]\n"
        "  broken:\n    name: Broken\n    tuesday:\n      - {from: '09:00', to: '08:00'}\n"
        "  nightly:\n    cron: 'not a cron'\n    sequence: []\n")
    (tmp_path / "scenes.yaml").write_text("- id: nameless\n  entities: {light.x: 'on'}\n")
    result = hub("check-config", "-c", str(tmp_path))
    assert result.returncode == 1, result.stderr
    assert "configuration.yaml:7: schedule.broken" in result.stderr and "tuesday/0/to: must be after from (09:00:00)" in result.stderr
    assert "schedule.nightly" in result.stderr and "invalid cron expression" in result.stderr
    assert "scenes.yaml:1: scene[0]" in result.stderr and "name" in result.stderr
    assert "schedule.fine" not in result.stderr


async def test_a_yaml_schedule_reloaded_over_a_stored_one_is_skipped_not_a_crash(core_hub: Hub) -> None:
    await _setup(core_hub, datetime(2024, 1, 1, 5, 0, tzinfo=UTC))
    store = core_hub.runtime[STORE]
    await store.create({"name": "Boiler", "monday": [{"from": "05:00", "to": "07:00"}]})
    await schedules.load(core_hub, load_yaml_text(SCHEDULES + "boiler:\n  name: Other\n", "configuration.yaml"))
    assert core_hub.states.get("schedule.heating") is not None
    assert core_hub.states.get("schedule.boiler").attributes["editable"] is True


def test_block_data_that_is_not_an_object_is_refused_by_pointer_not_a_crash() -> None:
    # Found by the schemathesis run: a list as `data` made POST /api/v1/schedules answer 500.
    from automations.weekly_schedule import check

    for data in ([None, None], ["a", "b"], "text", {"x": [1]}):
        parsed, errors = check({"name": "Heating", "sunday": [{"from": "07:00", "to": "09:30", "data": data}]})
        assert [(e.pointer, e.message) for e in errors] == [
            ("/sunday/0/data", "expected an object of strings, numbers or booleans")], data
