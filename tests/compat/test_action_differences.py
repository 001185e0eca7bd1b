"""Action behaviour that differed from Home Assistant's, each with HA's documented output."""

from __future__ import annotations

from typing import Any

from automations import scripts
from hub.core.bus import callback
from hub.core.hub import Hub
from tests.automations.conftest import Recorder, setup_automations


async def test_a_templated_target_is_rendered_to_a_mapping(hub: Hub) -> None:
    calls = Recorder(hub)
    await setup_automations(hub, """
        - alias: Templated target
          variables:
            target: {entity_id: light.kitchen}
          triggers: {trigger: event, event_type: go}
          actions:
            - action: test.record
              target: "{{ target }}"
              data: {brightness: 5}
        """)
    hub.bus.fire("go", {})
    await hub.block_till_done()
    assert calls.data == [{"brightness": 5, "entity_id": ["light.kitchen"]}]


async def test_call_service_event_carries_the_data_as_called(hub: Hub) -> None:
    Recorder(hub)
    events: list[dict[str, Any]] = []
    hub.bus.listen("call_service", callback(lambda event: events.append(dict(event.data))))
    await hub.services.call("test", "record", {"entity_id": "light.kitchen", "brightness": 5}, blocking=True)
    assert events == [{"domain": "test", "service": "record", "service_data": {"entity_id": "light.kitchen", "brightness": 5}}]


async def test_script_turn_on_has_started_the_first_step_when_it_returns(hub: Hub) -> None:
    calls = Recorder(hub)
    await scripts.setup_integration(hub, {"long": {"sequence": [{"action": "test.record", "data": {"step": 1}}, {"delay": 60}]}})
    await hub.services.call("script", "turn_on", {"entity_id": "script.long"}, blocking=True)
    assert calls.data == [{"step": 1}]
    assert hub.states.get("script.long").state == "on"
    await hub.services.call("script", "turn_off", {"entity_id": "script.long"}, blocking=True)


async def test_a_stop_response_of_an_empty_mapping_is_an_empty_mapping(hub: Hub) -> None:
    await scripts.setup_integration(hub, {
        "empty": {"sequence": [{"variables": {"result": {}}}, {"stop": "done", "response_variable": "result"}]},
        "none": {"sequence": [{"event": "nothing"}]},
        "full": {"sequence": [{"variables": {"result": {"kwh": 1.5}}}, {"stop": "done", "response_variable": "result"}]},
    })
    assert await hub.services.call("script", "empty", {}, return_response=True) == {}
    assert await hub.services.call("script", "none", {}, return_response=True) == {}
    assert await hub.services.call("script", "full", {}, return_response=True) == {"kwh": 1.5}
