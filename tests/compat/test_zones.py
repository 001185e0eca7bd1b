"""Zones: zone.home and configured zones, the zone trigger and condition, default_config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hub.core.hub import Hub, HubConfig
from integrations import zone
from tests.automations.conftest import Recorder, setup_automations
from tests.compat.conftest import state_of
from tests.hubs import write_config

HOME = {"latitude": 52.3731, "longitude": 4.8922}
OFFICE = {"latitude": 52.3561, "longitude": 4.9535}


async def test_zones_count_people_and_automations_see_enter_and_leave(hub: Hub) -> None:
    hub.config = HubConfig(name="Home", **HOME, raw={"homeassistant": {"radius": 150}})
    hub.states.set("person.anna", "home", {"latitude": HOME["latitude"], "longitude": HOME["longitude"]})
    await zone.setup_integration(hub, zone.CONFIG_SCHEMA([{"name": "Office", **OFFICE, "radius": 250, "icon": "mdi:briefcase"}]))
    home = hub.states.get("zone.home")
    assert home.state == "1"
    assert dict(home.attributes) == {
        **HOME, "radius": 150, "passive": False, "persons": ["person.anna"], "editable": True, "icon": "mdi:home", "friendly_name": "Home",
    }
    assert hub.states.get("zone.office").attributes["editable"] is False

    calls = Recorder(hub)
    await setup_automations(hub, """
        - alias: Arrive at the office
          triggers: {trigger: zone, entity_id: person.anna, zone: zone.office, event: enter}
          actions: {action: test.record, data: {description: "{{ trigger.description }}", zone: "{{ trigger.zone.entity_id }}"}}
        - alias: Leave home
          triggers: {trigger: zone, entity_id: person.anna, zone: zone.home, event: leave}
          conditions: {condition: zone, entity_id: person.anna, zone: zone.office}
          actions: {action: test.other}
        """)
    hub.states.set("person.anna", "Office", {**OFFICE, "gps_accuracy": 20})
    await hub.block_till_done()
    assert calls.data == [{"description": "person.anna entering Office", "zone": "zone.office"}, {}]
    assert state_of(hub, "zone.home") == "0" and state_of(hub, "zone.office") == "1"


async def test_default_config_sets_up_sun_zone_tag_and_the_recorder(tmp_path: Path, start_hub: Any) -> None:
    config = write_config(tmp_path / "config", "homeassistant:\n  latitude: 52.37\n  longitude: 4.89\ndefault_config:\n")
    hub = (await start_hub(config)).hub
    assert {"recorder", "sun", "tag", "zone", "default_config"} <= hub.config.components
    assert hub.states.get("zone.home") is not None and hub.states.get("sun.sun") is not None
