"""Scripts, scenes and input entities in a real hub, from Home Assistant's documentation examples.

Sources: https://www.home-assistant.io/integrations/script/ (fields, script.<name>, script.turn_on,
modes, response via stop), https://www.home-assistant.io/integrations/scene/ (scenes.yaml,
scene.turn_on, scene.apply, scene.create with snapshot_entities), and the pages of
input_boolean, input_number, input_select, input_text, input_datetime, input_button, counter and
timer (services and restored state).
"""

from __future__ import annotations

from pathlib import Path

from hub import bootstrap
from hub.core.services import ServiceCall
from tests.automations.conftest import wait_for
from tests.hubs import write_config

CONFIG = """
script:
  notify_engineer:
    alias: Notify engineer
    fields:
      message:
        description: What to say
        example: The water is hot
      level:
        default: info
    sequence:
      - action: test.record
        data:
          text: "{{ message }} ({{ level }})"
      - variables:
          result: {delivered: true, text: "{{ message }}"}
      - stop: done
        response_variable: result
scene:
  - name: Night
    entities:
      input_boolean.heater: "off"
      input_number.target: 16
      input_select.mode: away
input_boolean:
  heater:
    name: Heater
input_number:
  target:
    min: 5
    max: 30
    step: 0.5
input_select:
  mode:
    options: [home, away, night]
input_text:
  note:
    max: 10
input_datetime:
  wake:
    has_time: true
input_button:
  ring:
counter:
  visits:
    step: 2
timer:
  laundry:
    duration: "00:30:00"
"""


async def test_scripts_scenes_and_inputs(tmp_path: Path, start_hub) -> None:  # type: ignore[no-untyped-def]
    config = write_config(tmp_path / "config", CONFIG)
    runtime = await start_hub(config, tmp_path / "data")
    hub = runtime.hub
    seen: list[ServiceCall] = []

    async def record(call: ServiceCall) -> None:
        seen.append(call)

    hub.services.register("test", "record", record)

    response = await hub.services.call("script", "notify_engineer", {"message": "Hot water"}, return_response=True)
    assert seen[0].data == {"text": "Hot water (info)"}
    assert response == {"delivered": True, "text": "Hot water"}
    await hub.services.call("script", "turn_on", {"entity_id": "script.notify_engineer", "variables": {"message": "Later", "level": "warn"}})
    await wait_for(lambda: len(seen) == 2)
    assert seen[1].data == {"text": "Later (warn)"}
    assert hub.states.get("script.notify_engineer").attributes["friendly_name"] == "Notify engineer"

    await hub.services.call("input_boolean", "turn_on", {"entity_id": "input_boolean.heater"})
    await hub.services.call("input_number", "set_value", {"entity_id": "input_number.target", "value": 21.5})
    await hub.services.call("input_select", "select_next", {"entity_id": "input_select.mode"})
    await hub.services.call("input_text", "set_value", {"entity_id": "input_text.note", "value": "hello"})
    await hub.services.call("input_datetime", "set_datetime", {"entity_id": "input_datetime.wake", "time": "06:45:00"})
    await hub.services.call("input_button", "press", {"entity_id": "input_button.ring"})
    await hub.services.call("counter", "increment", {"entity_id": "counter.visits"})
    states = {e: hub.states.get(e).state for e in ("input_boolean.heater", "input_number.target", "input_select.mode", "input_text.note", "input_datetime.wake", "counter.visits")}
    assert states == {"input_boolean.heater": "on", "input_number.target": "21.5", "input_select.mode": "away", "input_text.note": "hello", "input_datetime.wake": "06:45:00", "counter.visits": "2"}
    assert hub.states.get("input_button.ring").state != "unknown"

    await hub.services.call("scene", "create", {"scene_id": "before", "snapshot_entities": ["input_boolean.heater", "input_number.target"]})
    await hub.services.call("scene", "turn_on", {"entity_id": "scene.night"})
    assert hub.states.get("input_boolean.heater").state == "off"
    assert hub.states.get("input_number.target").state == "16.0"
    assert hub.states.get("scene.night").state != "unknown"
    await hub.services.call("scene", "turn_on", {"entity_id": "scene.before"})
    assert hub.states.get("input_boolean.heater").state == "on"
    assert hub.states.get("input_number.target").state == "21.5"
    await hub.services.call("scene", "apply", {"entities": {"input_select.mode": "night", "input_boolean.heater": {"state": "off"}}})
    assert hub.states.get("input_select.mode").state == "night"

    await hub.services.call("timer", "start", {"entity_id": "timer.laundry"})
    assert hub.states.get("timer.laundry").state == "active"
    await hub.services.call("timer", "pause", {"entity_id": "timer.laundry"})
    assert hub.states.get("timer.laundry").attributes["remaining"] == "0:30:00"

    # Restart: every input comes back with its last value.
    await bootstrap.stop(runtime)
    again = await start_hub(config, tmp_path / "data")
    restored = {e: again.hub.states.get(e).state for e in ("input_boolean.heater", "input_number.target", "input_select.mode", "input_text.note", "input_datetime.wake", "counter.visits")}
    assert restored == {"input_boolean.heater": "off", "input_number.target": "21.5", "input_select.mode": "night", "input_text.note": "hello", "input_datetime.wake": "06:45:00", "counter.visits": "2"}
