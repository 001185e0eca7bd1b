"""The local calendar, calendar services and the calendar trigger with offsets."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hub.core.clock import ManualClock
from hub.core.hub import Hub, HubConfig
from integrations import local_calendar
from tests.automations.conftest import Recorder, setup_automations
from tests.compat.conftest import state_of


async def test_calendar_entity_services_and_trigger(hub: Hub, tmp_path: Path) -> None:
    hub.config = HubConfig(time_zone="Europe/Amsterdam", data_dir=tmp_path)
    clock = ManualClock(datetime(2024, 6, 1, 10, 0, tzinfo=UTC), time_zone="Europe/Amsterdam")  # 12:00 local
    hub.clock = clock
    await local_calendar.setup_integration(hub, local_calendar.CONFIG_SCHEMA([{
        "name": "Cheap power",
        "events": [{"summary": "Off-peak", "start": "2024-06-01 23:00:00", "end": "2024-06-02 07:00:00", "rrule": "FREQ=DAILY"}],
    }]))
    calendar = hub.states.get("calendar.cheap_power")
    assert calendar.state == "off"
    assert dict(calendar.attributes) == {
        "message": "Off-peak", "all_day": False, "start_time": "2024-06-01 23:00:00", "end_time": "2024-06-02 07:00:00",
        "location": "", "description": "", "friendly_name": "Cheap power",
    }
    calls = Recorder(hub)
    await setup_automations(hub, """
        - alias: Before off-peak
          triggers: {trigger: calendar, event: start, entity_id: calendar.cheap_power, offset: "-00:05:00"}
          actions: {action: test.record, data: {summary: "{{ trigger.calendar_event.summary }}", at: "{{ now().isoformat() }}"}}
        - alias: End of anything
          triggers: {trigger: calendar, event: end, entity_id: calendar.cheap_power}
          actions: {action: test.other, data: {summary: "{{ trigger.calendar_event.summary }}"}}
        """)
    await hub.services.call("calendar", "create_event", {
        "entity_id": "calendar.cheap_power", "summary": "Boost", "start_date_time": "2024-06-01 14:00:00", "end_date_time": "2024-06-01 14:30:00",
    }, blocking=True)
    await clock.set_time(datetime(2024, 6, 1, 12, 30, tzinfo=UTC))  # 14:30 local: Boost ended
    assert calls.data == [{"summary": "Boost", "at": "2024-06-01T13:55:00+02:00"}, {"summary": "Boost"}]
    await clock.set_time(datetime(2024, 6, 1, 20, 55, tzinfo=UTC))  # 22:55 local
    await hub.block_till_done()
    assert calls.data[-1] == {"summary": "Off-peak", "at": "2024-06-01T22:55:00+02:00"}
    await clock.set_time(datetime(2024, 6, 1, 21, 0, tzinfo=UTC))
    assert state_of(hub, "calendar.cheap_power") == "on"

    response = await hub.services.call("calendar", "get_events", {"entity_id": "calendar.cheap_power", "start_date_time": "2024-06-01 00:00:00", "duration": {"days": 2}}, return_response=True)
    assert [event["summary"] for event in response["calendar.cheap_power"]["events"]] == ["Boost", "Off-peak", "Off-peak"]
    assert (tmp_path / "local_calendar" / "cheap_power.json").exists()  # created events are kept
