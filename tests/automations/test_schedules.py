"""Schedules: cron and interval in a time zone, DST-safe, and the missed-run policy after downtime.

Cron syntax as croniter reads it (https://pypi.org/project/croniter/); the `schedule:` section
is this hub's own (Home Assistant's `schedule` helper has weekly blocks instead).
"""

from __future__ import annotations

from datetime import UTC, datetime

from automations import schedules
from hub.core.clock import ManualClock
from hub.core.hub import Hub
from tests.automations.conftest import Recorder, load_yaml_text

CONFIG = """
morning:
  cron: "0 7 * * *"
  time_zone: Europe/Amsterdam
  sequence:
    - action: test.record
      data: {at: "{{ now().astimezone(schedule.scheduled.tzinfo).isoformat() }}"}
every_15:
  interval: {minutes: 15}
  sequence:
    - action: test.other
"""


async def test_cron_and_interval_across_dst(core_hub: Hub) -> None:
    clock = ManualClock(datetime(2024, 3, 30, 12, 0, tzinfo=UTC))
    core_hub.clock = clock
    calls = Recorder(core_hub)
    await schedules.setup_integration(core_hub, load_yaml_text(CONFIG, "configuration.yaml"))
    assert core_hub.states.get("schedule.morning").state == "2024-03-31T07:00:00+02:00"
    await clock.set_time(datetime(2024, 4, 1, 12, 0, tzinfo=UTC))
    await core_hub.block_till_done()
    morning = [c.data["at"] for c in calls.calls if c.service == "record"]
    assert morning == ["2024-03-31T07:00:00+02:00", "2024-04-01T07:00:00+02:00"]
    assert sum(c.service == "other" for c in calls.calls) == 48 * 4  # 48 h of quarter hours
    assert core_hub.states.get("schedule.every_15").attributes["last_run"] == "2024-04-01T12:00:00+00:00"


async def test_missed_runs_policy(core_hub: Hub) -> None:
    clock = ManualClock(datetime(2024, 1, 2, 12, 0, tzinfo=UTC))
    core_hub.clock = clock
    calls = Recorder(core_hub)
    # The hub was down from before yesterday's 07:00 run until now.
    for name in ("skipper", "catcher"):
        core_hub.states.set(f"schedule.{name}", "2024-01-01T07:00:00+00:00", {"last_run": "2023-12-31T07:00:00+00:00"})
    await schedules.setup_integration(
        core_hub,
        load_yaml_text(
            """
            skipper:
              cron: "0 7 * * *"
              sequence: [{action: test.record, data: {who: skipper}}]
            catcher:
              cron: "0 7 * * *"
              missed: run_once
              sequence: [{action: test.record, data: {who: catcher}}]
            """
        ),
    )
    await core_hub.block_till_done()
    assert calls.data == [{"who": "catcher"}]
    assert core_hub.states.get("schedule.skipper").state == "2024-01-03T07:00:00+00:00"
