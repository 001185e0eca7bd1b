"""HA's registry commands over the WebSocket: list, get, update, remove, in HA's shapes."""

from __future__ import annotations

from .conftest import Api


async def test_entity_registry_list_get_update_remove(api: Api) -> None:
    client = await api.ws("owner")
    listed = {e["entity_id"]: e for e in await client.command("config/entity_registry/list")}
    assert {"switch.test_relay", "sensor.test_power"} <= set(listed)
    relay = listed["switch.test_relay"]
    assert relay["platform"] == "testdevices" and relay["unique_id"] == "relay1" and relay["device_id"]

    got = await client.command("config/entity_registry/get", entity_id="sensor.test_power")
    assert got["original_device_class"] == "power" and got["unit_of_measurement"] == "W"
    error = await client.error("config/entity_registry/get", entity_id="sensor.nope")
    assert error["code"] == "not_found"

    # A user's name shows in the state at once; a rename moves the state.
    answer = await client.command("config/entity_registry/update", entity_id="switch.test_relay",
                                  name="Heater", new_entity_id="switch.heater")
    assert answer["entity_entry"]["entity_id"] == "switch.heater"
    assert api.hub.states.get("switch.test_relay") is None
    assert api.hub.states.get("switch.heater").attributes["friendly_name"] == "Heater"
    taken = await client.error("config/entity_registry/update", entity_id="switch.heater",
                               new_entity_id="sensor.test_power")
    assert taken["code"] == "invalid_format"

    assert await client.command("config/entity_registry/remove", entity_id="sensor.test_power") is None
    assert api.hub.entity_registry.get("sensor.test_power") is None
    assert api.hub.states.get("sensor.test_power") is None


async def test_only_admins_change_the_registries(api: Api) -> None:
    client = await api.ws("user")
    assert await client.command("config/entity_registry/list")
    device_id = (await client.command("config/device_registry/list"))[0]["id"]
    for command, fields in (
        ("config/entity_registry/update", {"entity_id": "switch.test_relay", "name": "x"}),
        ("config/entity_registry/remove", {"entity_id": "switch.test_relay"}),
        ("config/device_registry/update", {"device_id": device_id, "name_by_user": "x"}),
    ):
        assert (await client.error(command, **fields))["code"] == "unauthorized"
    assert api.hub.entity_registry.get("switch.test_relay").name is None


async def test_device_registry_list_and_update(api: Api) -> None:
    client = await api.ws("admin")
    devices = await client.command("config/device_registry/list")
    node = next(d for d in devices if ["testdevices", "node-1"] in d["identifiers"])
    assert node["name"] == "Relay node" and node["manufacturer"] == "Acme" and node["sw_version"] == "1.0"
    updated = await client.command("config/device_registry/update", device_id=node["id"], name_by_user="Boiler")
    assert updated["name_by_user"] == "Boiler"
    assert api.hub.device_registry.get(node["id"]).name_by_user == "Boiler"
    error = await client.error("config/device_registry/update", device_id="nope", name_by_user="x")
    assert error["code"] == "not_found"

    target = await client.command("extract_from_target", target={"device_id": [node["id"], "gone"]})
    assert {"switch.test_relay", "sensor.test_power"} <= set(target["referenced_entities"])
    assert target["referenced_devices"] == [node["id"]] and target["missing_devices"] == ["gone"]


async def test_get_panels_hides_admin_panels_from_users(api: Api) -> None:
    admin = await (await api.ws("admin")).command("get_panels")
    user = await (await api.ws("user")).command("get_panels")
    assert admin["config"]["require_admin"] is True and "config" not in user
    assert user["energy"]["url_path"] == "energy"


async def test_registry_changes_reach_subscribers_as_home_assistants_events(api: Api) -> None:
    client = await api.ws("admin")
    entities = await client.send_command("subscribe_events", event_type="entity_registry_updated")
    assert (await client.result(entities))["success"]
    devices = await client.send_command("subscribe_events", event_type="device_registry_updated")
    assert (await client.result(devices))["success"]

    await client.command("config/entity_registry/update", entity_id="switch.test_relay",
                         name="Heater", new_entity_id="switch.heater")
    event = await client.event(entities)
    assert event["data"] == {"action": "update", "entity_id": "switch.heater", "old_entity_id": "switch.test_relay",
                             "changes": {"name": None, "entity_id": "switch.test_relay"}}
    await client.command("config/entity_registry/remove", entity_id="sensor.test_power")
    assert (await client.event(entities))["data"] == {"action": "remove", "entity_id": "sensor.test_power"}

    node = next(d for d in await client.command("config/device_registry/list")
                if ["testdevices", "node-1"] in d["identifiers"])
    await client.command("config/device_registry/update", device_id=node["id"], name_by_user="Boiler")
    assert (await client.event(devices))["data"] == {"action": "update", "device_id": node["id"],
                                                     "changes": {"name_by_user": None}}

    # A device announced later (discovery) is announced to subscribers as HA does.
    await api.hub.device_registry.get_or_create(integration="testdevices", identifiers={("testdevices", "node-2")},
                                                name="Second node")
    made = (await client.event(devices))["data"]
    assert made["action"] == "create" and api.hub.device_registry.get(made["device_id"]).name == "Second node"
