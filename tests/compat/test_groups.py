"""Old-style groups follow Home Assistant's state rules."""

from __future__ import annotations

from hub.core.hub import Hub
from integrations import group


async def test_group_states_follow_home_assistants_rules(hub: Hub) -> None:
    hub.states.set("switch.kettle", "off")
    hub.states.set("light.kitchen", "off")
    hub.states.set("device_tracker.anna", "not_home")
    hub.states.set("person.ben", "home")
    hub.states.set("sensor.power", "15")
    await group.setup_integration(hub, group.CONFIG_SCHEMA({
        "kitchen": {"name": "Kitchen", "entities": ["switch.kettle", "light.kitchen"]},
        "people": {"entities": "device_tracker.anna, person.ben"},
        "everyone_home": {"entities": ["device_tracker.anna", "person.ben"], "all": True},
        "mixed": {"entities": ["switch.kettle", "person.ben"]},
        "readings": {"entities": ["sensor.power"]},
        "of_groups": {"entities": ["group.kitchen"]},
    }))
    kitchen = hub.states.get("group.kitchen")
    assert kitchen.state == "off"
    assert dict(kitchen.attributes) == {"entity_id": ["switch.kettle", "light.kitchen"], "order": 0, "friendly_name": "Kitchen"}
    assert hub.states.get("group.people").state == "home"
    assert hub.states.get("group.people").attributes["friendly_name"] == "people"
    assert hub.states.get("group.everyone_home").state == "not_home"
    assert hub.states.get("group.mixed").state == "on"
    assert hub.states.get("group.readings").state == "unknown"
    assert hub.states.get("group.of_groups").state == "off"

    hub.states.set("light.kitchen", "on")
    assert hub.states.get("group.kitchen").state == "on"
    assert hub.states.get("group.of_groups").state == "on"
    hub.states.set("device_tracker.anna", "home")
    assert hub.states.get("group.everyone_home").state == "home"
    # expand() opens groups, as in templates.
    from hub.templating import Template

    assert Template("{{ expand('group.kitchen') | map(attribute='entity_id') | list }}", hub).render() == ["light.kitchen", "switch.kettle"]
