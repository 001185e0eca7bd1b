"""HA's area registry commands over the WebSocket, and areas as targets of service calls."""

from __future__ import annotations

from hub.templating import Template

from .conftest import Api


async def test_areas_list_create_update_delete_in_ha_shapes(api: Api) -> None:
    client = await api.ws("admin")
    events = await client.send_command("subscribe_events", event_type="area_registry_updated")
    await client.result(events)
    assert await client.command("config/area_registry/list") == []

    created = await client.command("config/area_registry/create", name="Living Room", aliases=["Lounge"],
                                   icon="mdi:sofa", floor_id="ground", labels=["heated"],
                                   temperature_entity_id="sensor.test_power")
    assert created == {
        "aliases": ["Lounge"], "area_id": "living_room", "floor_id": "ground", "humidity_entity_id": None,
        "icon": "mdi:sofa", "labels": ["heated"], "name": "Living Room", "picture": None,
        "temperature_entity_id": "sensor.test_power",
        "created_at": created["created_at"], "modified_at": created["created_at"],
    }
    assert isinstance(created["created_at"], float) and created["created_at"] > 1.7e9
    assert (await client.event(events))["data"] == {"action": "create", "area_id": "living_room"}

    taken = await client.error("config/area_registry/create", name="living room")
    assert taken["code"] == "invalid_info" and "is already in use" in taken["message"]

    updated = await client.command("config/area_registry/update", area_id="living_room", name="Lounge", icon=None)
    assert (updated["area_id"], updated["name"], updated["icon"]) == ("living_room", "Lounge", None)
    assert updated["modified_at"] > created["modified_at"]
    assert (await client.event(events))["data"] == {"action": "update", "area_id": "living_room"}
    assert [a["name"] for a in await client.command("config/area_registry/list")] == ["Lounge"]
    missing = await client.error("config/area_registry/update", area_id="nowhere", name="x")
    assert missing["code"] == "not_found"

    assert await client.command("config/area_registry/delete", area_id="living_room") == "success"
    assert (await client.event(events))["data"] == {"action": "remove", "area_id": "living_room"}
    gone = await client.error("config/area_registry/delete", area_id="living_room")
    assert gone == {"code": "invalid_info", "message": "Area ID doesn't exist"}
    # Every change is audited, with who made it; the refused create too.
    audited = [(e.action, e.target, e.result, e.user_name)
               for e in await api.hub.auth.audit.entries(action=None) if "area_registry" in e.action]
    assert audited[::-1] == [
        ("config/area_registry/create", "living_room", "ok", api.users["admin"].name),
        ("config/area_registry/create", "living room", "invalid", api.users["admin"].name),
        ("config/area_registry/update", "living_room", "ok", api.users["admin"].name),
        ("config/area_registry/delete", "living_room", "ok", api.users["admin"].name),
    ]


async def test_users_list_areas_but_only_admins_change_them(api: Api) -> None:
    await api.hub.area_registry.create("Garage")
    user = await api.ws("user")
    assert [a["area_id"] for a in await user.command("config/area_registry/list")] == ["garage"]
    for command, fields in (
        ("config/area_registry/create", {"name": "Attic"}),
        ("config/area_registry/update", {"area_id": "garage", "name": "x"}),
        ("config/area_registry/delete", {"area_id": "garage"}),
    ):
        assert (await user.error(command, **fields))["code"] == "unauthorized"
    assert [a.name for a in api.hub.area_registry] == ["Garage"]


async def test_devices_and_entities_in_areas_and_area_targets(api: Api) -> None:
    client = await api.ws("admin")
    await client.command("config/area_registry/create", name="Boiler room")
    await client.command("config/area_registry/create", name="Office")
    node = next(d for d in await client.command("config/device_registry/list") if d["name"] == "Relay node")

    # An area that does not exist is refused, naming the areas there are.
    refused = await client.error("config/device_registry/update", device_id=node["id"], area_id="cellar")
    assert refused["code"] == "invalid_format"
    assert "Area 'cellar' does not exist" in refused["message"] and "boiler_room" in refused["message"]
    refused = await client.error("config/entity_registry/update", entity_id="switch.test_relay", area_id="cellar")
    assert "Area 'cellar' does not exist" in refused["message"]

    # The device goes to the boiler room; its meter is moved on its own to the office.
    assert (await client.command("config/device_registry/update", device_id=node["id"],
                                 area_id="boiler_room"))["area_id"] == "boiler_room"
    moved = await client.command("config/entity_registry/update", entity_id="sensor.test_power", area_id="office")
    assert moved["entity_entry"]["area_id"] == "office"
    listed = {e["entity_id"]: e for e in await client.command("config/entity_registry/list")}
    assert listed["sensor.test_power"]["area_id"] == "office" and listed["switch.test_relay"]["area_id"] is None

    target = await client.command("extract_from_target", target={"area_id": ["boiler_room", "attic"]})
    assert target["referenced_areas"] == ["boiler_room"] and target["missing_areas"] == ["attic"]
    assert target["referenced_devices"] == [node["id"]]
    assert target["referenced_entities"] == ["switch.test_relay"]  # the meter is in the office
    office = await client.command("extract_from_target", target={"area_id": "office"})
    assert office["referenced_entities"] == ["sensor.test_power"] and office["referenced_devices"] == []

    # A service call aimed at the area reaches the relay in it.
    assert api.hub.states.get("switch.test_relay").state == "off"
    await client.command("call_service", domain="switch", service="turn_on", target={"area_id": "boiler_room"})
    assert api.hub.states.get("switch.test_relay").state == "on"
    await client.command("call_service", domain="homeassistant", service="turn_off",
                         target={"area_id": ["boiler_room"]})
    assert api.hub.states.get("switch.test_relay").state == "off"

    # Deleting the area takes it off the device (HA's rule); the relay is in no area any more.
    assert await client.command("config/area_registry/delete", area_id="boiler_room") == "success"
    assert api.hub.device_registry.get(node["id"]).area_id is None
    nothing = await client.command("extract_from_target", target={"area_id": "boiler_room"})
    assert nothing["referenced_entities"] == [] and nothing["missing_areas"] == ["boiler_room"]
    await client.command("config/area_registry/delete", area_id="office")
    assert api.hub.entity_registry.get("sensor.test_power").area_id is None


async def test_area_template_functions_read_the_registries(api: Api) -> None:
    hub = api.hub
    await hub.area_registry.create("Boiler room")
    await hub.area_registry.create("Office")
    (node,) = hub.device_registry.devices
    await hub.entities.update_device_entry(node.id, area_id="boiler_room")
    await hub.entities.update_registry_entry("sensor.test_power", area_id="office")

    def render(source: str) -> object:
        return Template(source, hub).render({})

    assert render("{{ areas() | sort }}") == ["boiler_room", "office"]
    # An entity without its own area is in its device's; one with its own is in that.
    assert render("{{ area_name('switch.test_relay') }}") == "Boiler room"
    assert render("{{ area_id('sensor.test_power') }}") == "office"
    assert render(f"{{{{ area_name('{node.id}') }}}}") == "Boiler room"
    assert render("{{ area_id('Boiler room') }}") == "boiler_room"
    assert render("{{ area_entities('boiler_room') }}") == ["switch.test_relay"]
    assert render("{{ 'Office' | area_entities }}") == ["sensor.test_power"]
    assert render("{{ area_devices('Boiler room') }}") == [node.id]
    assert render("{{ area_name('sensor.nope') }}") is None
    assert render("{{ area_entities('nowhere') }}") == []
