"""Triggers, from the examples of Home Assistant's trigger documentation.

Source: https://www.home-assistant.io/docs/automation/trigger/ (state, numeric_state, time,
time_pattern, event, template, homeassistant, webhook triggers) and
https://www.home-assistant.io/docs/automation/templating/ (the `trigger` variable).
"""

from __future__ import annotations

from datetime import UTC, datetime

from hub.core.clock import ManualClock
from hub.core.hub import Hub
from tests.automations.conftest import Recorder, setup_automations


async def test_state_trigger_from_to_both_syntaxes(hub: Hub, calls: Recorder) -> None:
    hub.states.set("device_tracker.paulus", "not_home")
    await setup_automations(
        hub,
        """
        - alias: New syntax
          triggers:
            - trigger: state
              entity_id: device_tracker.paulus
              from: "not_home"
              to: "home"
          actions:
            - action: test.record
              data:
                message: "{{ trigger.entity_id }} {{ trigger.from_state.state }} -> {{ trigger.to_state.state }} ({{ trigger.platform }} {{ trigger.id }})"
        - alias: Old syntax
          trigger:
            platform: state
            entity_id: device_tracker.paulus
            to: home
          action:
            service: test.other
            data_template:
              who: "{{ trigger.to_state.name }}"
        """,
    )
    hub.states.set("device_tracker.paulus", "home", {"friendly_name": "Paulus"})
    await hub.block_till_done()
    assert [c.service for c in calls.calls] == ["record", "other"] or [c.service for c in calls.calls] == ["other", "record"]
    by_service = {c.service: c.data for c in calls.calls}
    assert by_service["record"]["message"] == "device_tracker.paulus not_home -> home (state 0)"
    assert by_service["other"]["who"] == "Paulus"


async def test_state_trigger_attribute_and_match_all(hub: Hub, calls: Recorder) -> None:
    hub.states.set("climate.living_room", "heat", {"current_temperature": 20})
    await setup_automations(
        hub,
        """
        - alias: Any change
          triggers:
            - trigger: state
              entity_id: climate.living_room
          actions:
            - action: test.record
        - alias: Attribute only
          triggers:
            - trigger: state
              entity_id: climate.living_room
              attribute: current_temperature
          actions:
            - action: test.other
        - alias: State change only (to null)
          triggers:
            - trigger: state
              entity_id: climate.living_room
              to: ~
          actions:
            - action: test.record
              data: {kind: state_only}
        """,
    )
    hub.states.set("climate.living_room", "heat", {"current_temperature": 21})
    await hub.block_till_done()
    assert sorted(c.service for c in calls.calls) == ["other", "record"]
    calls.calls.clear()
    hub.states.set("climate.living_room", "off", {"current_temperature": 21})
    await hub.block_till_done()
    assert sorted((c.service, str(c.data.get("kind"))) for c in calls.calls) == [("record", "None"), ("record", "state_only")]


async def test_state_trigger_not_to_and_for(hub: Hub, clock: ManualClock, calls: Recorder) -> None:
    hub.states.set("binary_sensor.motion", "off")
    hub.states.set("lock.front_door", "locked")
    await setup_automations(
        hub,
        """
        - alias: No motion for 10 minutes
          triggers:
            - trigger: state
              entity_id: binary_sensor.motion
              to: "off"
              for:
                minutes: 10
          actions:
            - action: test.record
              data: {after: "{{ trigger.for.total_seconds() }}"}
        - alias: Lock not locked
          triggers:
            - trigger: state
              entity_id: lock.front_door
              not_to: [locked, unavailable]
          actions:
            - action: test.other
        """,
    )
    hub.states.set("binary_sensor.motion", "on")
    hub.states.set("binary_sensor.motion", "off")
    await clock.advance(300)
    hub.states.set("binary_sensor.motion", "on")  # motion again: the wait is cancelled
    await clock.advance(900)
    assert calls.calls == []
    hub.states.set("binary_sensor.motion", "off")
    await clock.advance(599)
    assert calls.calls == []
    await clock.advance(1)
    await hub.block_till_done()
    assert calls.data == [{"after": 600.0}]
    hub.states.set("lock.front_door", "unavailable")
    hub.states.set("lock.front_door", "unlocked")
    await hub.block_till_done()
    assert [c.service for c in calls.calls] == ["record", "other"]


async def test_numeric_state_crossing(hub: Hub, clock: ManualClock, calls: Recorder) -> None:
    hub.states.set("sensor.temperature", "15")
    hub.states.set("input_number.limit", "25")
    await setup_automations(
        hub,
        """
        - alias: Between 17 and 25
          triggers:
            - trigger: numeric_state
              entity_id: sensor.temperature
              above: 17
              below: input_number.limit
          actions:
            - action: test.record
              data: {value: "{{ trigger.to_state.state }}", above: "{{ trigger.above }}"}
        - alias: Template value for 5 s
          triggers:
            - trigger: numeric_state
              entity_id: sensor.temperature
              value_template: "{{ state.state | float * 2 }}"
              above: 50
              for: 5
          actions:
            - action: test.other
        """,
    )
    hub.states.set("sensor.temperature", "17")  # equal is not above
    hub.states.set("sensor.temperature", "18")  # enters the range: fires
    hub.states.set("sensor.temperature", "19")  # stays inside: no second fire
    await hub.block_till_done()
    assert calls.data == [{"value": 18, "above": 17}]
    hub.states.set("sensor.temperature", "26")  # leaves (>= 25)
    hub.states.set("sensor.temperature", "unavailable")
    hub.states.set("sensor.temperature", "20")  # enters again
    await hub.block_till_done()
    assert len([c for c in calls.calls if c.service == "record"]) == 2
    hub.states.set("sensor.temperature", "30")  # 60 > 50: wait 5 s
    await clock.advance(5)
    await hub.block_till_done()
    assert [c.service for c in calls.calls].count("other") == 1


async def test_time_and_time_pattern(hub: Hub, clock: ManualClock, calls: Recorder) -> None:
    hub.states.set("input_datetime.wake", "06:30:00", {"has_date": False, "has_time": True})
    await setup_automations(
        hub,
        """
        - alias: At 15:32
          triggers:
            - trigger: time
              at: "15:32:00"
          actions:
            - action: test.record
              data: {now: "{{ trigger.now.isoformat() }}"}
        - alias: Wake up
          triggers:
            - trigger: time
              at: input_datetime.wake
          actions:
            - action: test.other
              data: {kind: wake}
        - alias: Every 5 minutes
          triggers:
            - trigger: time_pattern
              minutes: "/5"
          actions:
            - action: test.other
              data: {kind: pattern}
        """,
    )
    await clock.set_time(datetime(2024, 1, 1, 12, 16, tzinfo=UTC))
    await hub.block_till_done()
    assert [c.data["kind"] for c in calls.calls] == ["pattern", "pattern", "pattern"]  # 12:05, 12:10, 12:15
    calls.calls.clear()
    await clock.set_time(datetime(2024, 1, 1, 15, 32, 30, tzinfo=UTC))
    await hub.block_till_done()
    assert [c.data for c in calls.calls if c.service == "record"] == [{"now": "2024-01-01T15:32:00+00:00"}]
    calls.calls.clear()
    await clock.set_time(datetime(2024, 1, 2, 6, 30, 1, tzinfo=UTC))
    await hub.block_till_done()
    assert {"kind": "wake"} in calls.data


async def test_event_trigger_with_data_and_context(hub: Hub, calls: Recorder) -> None:
    await setup_automations(
        hub,
        """
        - alias: Event
          triggers:
            - trigger: event
              event_type: MY_CUSTOM_EVENT
              event_data:
                mood: happy
          actions:
            - action: test.record
              data: {mood: "{{ trigger.event.data.mood }}", type: "{{ trigger.event.event_type }}"}
        """,
    )
    hub.bus.fire("MY_CUSTOM_EVENT", {"mood": "sad"})
    hub.bus.fire("MY_CUSTOM_EVENT", {"mood": "happy", "extra": 1})
    await hub.block_till_done()
    assert calls.data == [{"mood": "happy", "type": "MY_CUSTOM_EVENT"}]


async def test_template_trigger_fires_on_false_to_true(hub: Hub, clock: ManualClock, calls: Recorder) -> None:
    hub.states.set("device_tracker.paulus", "home")
    await setup_automations(
        hub,
        """
        - alias: Template
          triggers:
            - trigger: template
              value_template: "{% if is_state('device_tracker.paulus', 'away') %}true{% endif %}"
          actions:
            - action: test.record
              data: {entity: "{{ trigger.entity_id }}"}
        - alias: Template with for
          triggers:
            - trigger: template
              value_template: "{{ states('sensor.power') | float(0) > 2000 }}"
              for: "00:00:10"
          actions:
            - action: test.other
        """,
    )
    hub.states.set("device_tracker.paulus", "away")
    hub.states.set("device_tracker.paulus", "away", {"x": 1})  # still true: no second fire
    await hub.block_till_done()
    assert calls.data == [{"entity": "device_tracker.paulus"}]
    hub.states.set("sensor.power", "2500")
    await clock.advance(5)
    hub.states.set("sensor.power", "100")
    await clock.advance(10)
    hub.states.set("sensor.power", "2600")
    await clock.advance(10)
    await hub.block_till_done()
    assert [c.service for c in calls.calls] == ["record", "other"]


async def test_homeassistant_start_trigger(hub: Hub, calls: Recorder) -> None:
    await setup_automations(
        hub,
        """
        - alias: Start
          triggers:
            - trigger: homeassistant
              event: start
          actions:
            - action: test.record
              data: {event: "{{ trigger.event }}"}
        """,
    )
    await hub.start()
    await hub.block_till_done()
    assert calls.data == [{"event": "start"}]


async def test_cron_trigger_in_local_time(core_hub: Hub) -> None:
    clock = ManualClock(datetime(2024, 3, 30, 12, 0, tzinfo=UTC), time_zone="Europe/Amsterdam")
    core_hub.clock = clock
    calls = Recorder(core_hub)
    await setup_automations(
        core_hub,
        """
        - alias: Cron 07:00 local
          triggers:
            - trigger: cron
              cron: "0 7 * * *"
          actions:
            - action: test.record
              data: {at: "{{ now().isoformat() }}"}
        """,
    )
    # Across the spring-forward night 7:00 local stays 7:00 local (UTC+1, then UTC+2).
    await clock.set_time(datetime(2024, 4, 1, 12, 0, tzinfo=UTC))
    await core_hub.block_till_done()
    assert calls.data == [{"at": "2024-03-31T07:00:00+02:00"}, {"at": "2024-04-01T07:00:00+02:00"}]
