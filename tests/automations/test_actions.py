"""Conditions and actions, from the examples of Home Assistant's documentation.

Sources: https://www.home-assistant.io/docs/scripts/conditions/ (state, numeric_state,
template shorthand, time, and/or/not, trigger) and https://www.home-assistant.io/docs/scripts/
(delay, wait_template, wait_for_trigger, choose, if/then/else, repeat, variables scope, stop,
event, parallel, continue_on_error, enabled) and
https://www.home-assistant.io/docs/automation/modes/ (single, restart, queued, parallel).
"""

from __future__ import annotations

from datetime import UTC, datetime

from hub.core.clock import ManualClock
from hub.core.hub import Hub
from tests.automations.conftest import Recorder, setup_automations, wait_for


async def fire(hub: Hub, event: str = "go", **data: object) -> None:
    hub.bus.fire(event, dict(data))
    await hub.block_till_done()


async def test_conditions(hub: Hub, clock: ManualClock, calls: Recorder) -> None:
    hub.states.set("alarm_control_panel.home", "armed_away")
    hub.states.set("sensor.temperature", "21")
    hub.states.set("input_select.mode", "away")
    await setup_automations(
        hub,
        """
        - alias: Conditions
          triggers:
            - trigger: event
              event_type: go
              id: manual
          conditions:
            - condition: state
              entity_id: alarm_control_panel.home
              state: [armed_away, armed_home]
            - condition: numeric_state
              entity_id: sensor.temperature
              above: 17
              below: 25
            - "{{ is_state('alarm_control_panel.home', 'armed_away') }}"
            - condition: time
              after: "10:00:00"
              before: "15:00:00"
              weekday: [mon, tue]
            - or:
                - condition: state
                  entity_id: input_select.mode
                  state: input_select.mode
                - condition: template
                  value_template: "{{ false }}"
            - not:
                - condition: state
                  entity_id: sensor.temperature
                  state: "30"
            - condition: trigger
              id: manual
          actions:
            - action: test.record
        """,
    )
    await fire(hub)
    assert len(calls.calls) == 1
    hub.states.set("sensor.temperature", "25")  # below is strict
    await fire(hub)
    assert len(calls.calls) == 1
    hub.states.set("sensor.temperature", "20")
    await clock.set_time(datetime(2024, 1, 1, 16, 0, tzinfo=UTC))
    await fire(hub)
    assert len(calls.calls) == 1


async def test_time_condition_wraps_midnight(hub: Hub, clock: ManualClock, calls: Recorder) -> None:
    await setup_automations(
        hub,
        """
        - triggers: {trigger: event, event_type: go}
          conditions: {condition: time, after: "22:00", before: "06:00"}
          actions: {action: test.record}
        """,
    )
    await fire(hub)
    assert calls.calls == []
    await clock.set_time(datetime(2024, 1, 1, 23, 0, tzinfo=UTC))
    await fire(hub)
    await clock.set_time(datetime(2024, 1, 2, 5, 59, tzinfo=UTC))
    await fire(hub)
    assert len(calls.calls) == 2


async def test_sequence_actions(hub: Hub, clock: ManualClock, calls: Recorder) -> None:
    hub.states.set("light.kitchen", "off")
    await setup_automations(
        hub,
        """
        - alias: Everything
          mode: parallel
          triggers: {trigger: event, event_type: go}
          variables:
            people: 2
          actions:
            - variables: {greeting: hello}
            - if: "{{ people > 1 }}"
              then:
                - variables: {greeting: inner}
                - action: test.record
                  data: {step: if, greeting: "{{ greeting }}"}
              else:
                - action: test.record
                  data: {step: else}
            - action: test.record
              data: {step: after_if, greeting: "{{ greeting }}"}
            - choose:
                - conditions: "{{ trigger.event.data.pick == 'a' }}"
                  sequence: {action: test.record, data: {step: choose_a}}
                - conditions:
                    - condition: template
                      value_template: "{{ trigger.event.data.pick == 'b' }}"
                  sequence: {action: test.record, data: {step: choose_b}}
              default: {action: test.record, data: {step: choose_default}}
            - repeat:
                count: 3
                sequence: {action: test.record, data: {step: "count {{ repeat.index }} {{ repeat.first }} {{ repeat.last }}"}}
            - repeat:
                for_each: [a, b]
                sequence: {action: test.record, data: {step: "item {{ repeat.item }}"}}
            - repeat:
                while: "{{ repeat.index <= 2 }}"
                sequence: {action: test.record, data: {step: "while {{ repeat.index }}"}}
            - repeat:
                until: "{{ repeat.index >= 2 }}"
                sequence: {action: test.record, data: {step: "until {{ repeat.index }}"}}
            - event: custom_done
              event_data: {pick: "{{ trigger.event.data.pick }}"}
            - parallel:
                - action: test.other
                - sequence:
                    - action: test.other
            - action: test.missing
              continue_on_error: true
            - action: test.record
              enabled: false
            - condition: "{{ trigger.event.data.pick == 'a' }}"
            - action: test.record
              data: {step: end}
        """,
    )
    done: list[object] = []
    hub.bus.listen("custom_done", lambda event: done.append(event.data))
    await fire(hub, pick="b")
    steps = [c.data.get("step") for c in calls.calls if c.service == "record"]
    assert steps == [
        "if", "after_if", "choose_b",
        "count 1 True False", "count 2 False False", "count 3 False True",
        "item a", "item b", "while 1", "while 2", "until 1", "until 2",
    ]
    assert calls.calls[0].data["greeting"] == "inner"  # inner scope sees its own variable
    assert calls.calls[1].data["greeting"] == "hello"  # the outer scope does not
    assert [c.service for c in calls.calls].count("other") == 2
    calls.calls.clear()
    await fire(hub, pick="a")
    steps = [c.data.get("step") for c in calls.calls if c.service == "record"]
    assert steps[2] == "choose_a" and steps[-1] == "end"


async def test_delay_wait_and_stop(hub: Hub, clock: ManualClock, calls: Recorder) -> None:
    await setup_automations(
        hub,
        """
        - alias: Waits
          triggers: {trigger: event, event_type: go}
          actions:
            - delay: "00:01:00"
            - action: test.record
              data: {step: delayed}
            - wait_template: "{{ is_state('binary_sensor.door', 'on') }}"
              timeout: 30
            - action: test.record
              data: {step: "waited {{ wait.completed }}"}
            - wait_for_trigger:
                - trigger: state
                  entity_id: binary_sensor.door
                  to: "off"
              timeout: {minutes: 1}
              continue_on_timeout: false
            - action: test.record
              data: {step: "trigger {{ wait.trigger.to_state.state }} {{ wait.remaining.total_seconds() > 0 }}"}
            - stop: All done
            - action: test.record
              data: {step: never}
        """,
    )
    hub.bus.fire("go", {})
    await clock.advance(59)
    assert calls.calls == []
    await clock.advance(1)
    await wait_for(lambda: len(calls.calls) == 1)
    assert [c.data["step"] for c in calls.calls] == ["delayed"]
    hub.states.set("binary_sensor.door", "on")
    await clock.advance(0)
    hub.states.set("binary_sensor.door", "off")
    await wait_for(lambda: len(calls.calls) == 3)
    await hub.block_till_done()
    assert [c.data["step"] for c in calls.calls] == ["delayed", "waited True", "trigger off True"]


async def test_modes(hub: Hub, clock: ManualClock, calls: Recorder) -> None:
    await setup_automations(
        hub,
        """
        - alias: Single
          triggers: {trigger: event, event_type: single}
          actions: [{delay: 10}, {action: test.record, data: {mode: single}}]
        - alias: Restart
          mode: restart
          triggers: {trigger: event, event_type: restart}
          actions: [{delay: 10}, {action: test.record, data: {mode: restart}}]
        - alias: Queued
          mode: queued
          max: 2
          triggers: {trigger: event, event_type: queued}
          actions: [{delay: 10}, {action: test.record, data: {mode: "queued {{ trigger.event.data.n }}"}}]
        - alias: Parallel
          mode: parallel
          triggers: {trigger: event, event_type: parallel}
          actions: [{delay: 10}, {action: test.record, data: {mode: parallel}}]
        """,
    )
    for event in ("single", "restart", "parallel"):
        hub.bus.fire(event, {})
        await clock.advance(5)
        hub.bus.fire(event, {})
    for n in (1, 2, 3):
        hub.bus.fire("queued", {"n": n})
    await clock.advance(0)
    assert hub.states.get("automation.queued").attributes["current"] == 2
    for _ in range(6):
        await clock.advance(5)
    await hub.block_till_done()
    modes = sorted(c.data["mode"] for c in calls.calls)
    assert modes == ["parallel", "parallel", "queued 1", "queued 2", "restart", "single"]


async def test_continue_on_error_does_not_skip_a_broken_condition(hub: Hub, clock: ManualClock, calls: Recorder) -> None:
    # As in Home Assistant: a condition that cannot be evaluated is a mistake in the script,
    # not a failure at run time, so continue_on_error does not step over it.
    await setup_automations(
        hub,
        """
        - alias: Broken condition
          triggers: {trigger: event, event_type: go}
          actions:
            - condition: template
              value_template: "{{ states('sensor.missing') | float > 1 }}"
              continue_on_error: true
            - action: test.record
        """,
    )
    await fire(hub)
    assert calls.calls == []
