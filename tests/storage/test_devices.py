"""The device registry, written through to SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from hub.registry.areas import AreaRegistry
from hub.registry.devices import DeviceRegistry
from hub.registry.entities import EntityRegistry
from hub.registry.util import DeviceNotFoundError, IdentifierInUseError
from hub.storage.models import DeviceRow, EntityRow


async def _reloaded(sessions) -> DeviceRegistry:
    registry = DeviceRegistry(sessions)
    await registry.load()
    return registry


async def test_get_or_create_merges_by_any_identifier(sessions):
    areas = AreaRegistry(sessions)
    await areas.create("Kitchen")
    registry = DeviceRegistry(sessions, area_registry=areas)
    await registry.load()
    first = await registry.get_or_create(
        integration="mqtt",
        identifiers=[("mqtt", "plug-1")],
        name="Plug",
        manufacturer="Acme",
        model="P1",
    )
    assert len(registry) == 1
    assert registry.get(first.id) == first
    renamed = await registry.update(first.id, name_by_user="Coffee machine", area_id="kitchen")
    assert renamed.display_name == "Coffee machine"

    # Found by an identifier it already has; a new identifier and connection are merged in.
    second = await registry.get_or_create(
        integration="mqtt",
        identifiers=[("mqtt", "plug-1"), ("zigbee", "0x00158d0001")],
        connections=[("mac", "AA-BB-CC-DD-EE-FF")],
        sw_version="2.0",
    )
    assert second.id == first.id
    assert second.identifiers == {("mqtt", "plug-1"), ("zigbee", "0x00158d0001")}
    assert second.connections == {("mac", "aa:bb:cc:dd:ee:ff")}
    assert second.name_by_user == "Coffee machine"
    assert second.area_id == "kitchen"
    assert second.name == "Plug"  # not passed: kept
    assert second.sw_version == "2.0"
    assert second.created_at == first.created_at
    assert second.modified_at >= renamed.modified_at

    # Found by the new identifier alone, and by the connection alone.
    third = await registry.get_or_create(integration="zha", identifiers=[("zigbee", "0x00158d0001")])
    assert third.id == first.id
    fourth = await registry.get_or_create(integration="x", connections=[("mac", "aabbccddeeff")])
    assert fourth.id == first.id
    assert fourth is third  # nothing changed: the same entry
    assert len(registry) == 1
    assert registry.get_by_identifier("zigbee", "0x00158d0001").id == first.id
    assert registry.get_by_connection("mac", "AA:BB:CC:DD:EE:FF").id == first.id
    assert registry.get_by_identifier("mqtt", "nope") is None

    reloaded = await _reloaded(sessions)
    assert reloaded.get(first.id) == registry.get(first.id)
    assert reloaded.get_by_identifier("mqtt", "plug-1").name_by_user == "Coffee machine"


async def test_via_device_and_identifier_collisions(sessions):
    registry = DeviceRegistry(sessions)
    hub_device = await registry.get_or_create(integration="hue", identifiers=[("hue", "bridge")])
    lamp = await registry.get_or_create(
        integration="hue", identifiers=[("hue", "lamp")], via_device=("hue", "bridge")
    )
    assert lamp.via_device_id == hub_device.id
    orphan = await registry.get_or_create(
        integration="hue", identifiers=[("hue", "lamp2")], via_device=("hue", "missing")
    )
    assert orphan.via_device_id is None

    with pytest.raises(IdentifierInUseError):
        await registry.get_or_create(integration="hue", identifiers=[("hue", "lamp"), ("hue", "lamp2")])
    with pytest.raises(IdentifierInUseError):
        await registry.update(orphan.id, identifiers=[("hue", "lamp")])
    with pytest.raises(DeviceNotFoundError):
        await registry.update("nope", name_by_user="x")
    with pytest.raises(TypeError):
        await registry.update(lamp.id, colour="red")

    await registry.remove(hub_device.id)
    assert registry.get(lamp.id).via_device_id is None
    assert (await _reloaded(sessions)).get(lamp.id).via_device_id is None
    assert registry.get_by_identifier("hue", "bridge") is None


async def test_removing_a_device_nulls_its_entities(sessions):
    devices = DeviceRegistry(sessions)
    entities = EntityRegistry(sessions, device_registry=devices)
    device = await devices.get_or_create(integration="mqtt", identifiers=[("mqtt", "meter")])
    power = await entities.get_or_create("sensor", "mqtt", "meter-power", device_id=device.id, original_name="Power")
    energy = await entities.get_or_create("sensor", "mqtt", "meter-energy", device_id=device.id, original_name="Energy")
    assert [e.entity_id for e in entities.entries_for_device(device.id)] == [energy.entity_id, power.entity_id]
    with pytest.raises(DeviceNotFoundError):
        await entities.get_or_create("sensor", "mqtt", "other", device_id="no-such-device")

    await devices.remove(device.id)
    assert len(devices) == 0
    assert entities.entries_for_device(device.id) == []
    assert entities.get(power.entity_id).device_id is None
    async with sessions() as session:
        stored = (await session.execute(select(EntityRow.device_id))).scalars().all()
        assert stored == [None, None]
        assert (await session.execute(select(DeviceRow.id))).all() == []
    reloaded = EntityRegistry(sessions)
    await reloaded.load()
    assert reloaded.get(energy.entity_id).device_id is None
    with pytest.raises(DeviceNotFoundError):
        await devices.remove(device.id)


async def test_concurrent_get_or_create_makes_one_device(sessions):
    registry = DeviceRegistry(sessions)
    results = await asyncio.gather(
        *(
            registry.get_or_create(
                integration="mqtt", identifiers=[("mqtt", "same"), ("mqtt", f"alias-{i}")], name=f"n{i}"
            )
            for i in range(10)
        )
    )
    assert len({entry.id for entry in results}) == 1
    assert len(registry) == 1
    reloaded = await _reloaded(sessions)
    (entry,) = reloaded.devices
    assert entry.identifiers == {("mqtt", "same")} | {("mqtt", f"alias-{i}") for i in range(10)}
    assert entry.name == "n9"


async def test_the_same_arguments_again_change_nothing_and_write_nothing(sessions):
    """A device's next entities ask with the same arguments: answered from memory, no write.

    Any change to the device in between (another call's arguments, the user's) is not hidden:
    the same arguments apply again.
    """
    registry = DeviceRegistry(sessions)
    await registry.load()
    info = {"identifiers": [("mqtt", "node1")], "name": "Node 1", "sw_version": "1.0"}
    first = await registry.get_or_create(integration="mqtt", **info)
    writes = []
    real_write = registry.writer.write

    async def counted(statement, params, name):
        writes.append(statement)
        await real_write(statement, params, name)

    registry.writer.write = counted
    for _ in range(9):
        assert await registry.get_or_create(integration="mqtt", **info) is first
    assert writes == []

    # Other arguments change the device; the first ones, asked again, change it back.
    upgraded = await registry.get_or_create(integration="mqtt", identifiers=[("mqtt", "node1")], sw_version="2.0")
    assert upgraded.sw_version == "2.0"
    again = await registry.get_or_create(integration="mqtt", **info)
    assert again.sw_version == "1.0"
    assert len(writes) == 2
    # The user's rename is kept, and the same arguments still change nothing else.
    renamed = await registry.update(first.id, name_by_user="Meter")
    assert (await registry.get_or_create(integration="mqtt", **info)) is renamed
    # A removed device is created again, not answered from memory.
    await registry.remove(first.id)
    recreated = await registry.get_or_create(integration="mqtt", **info)
    assert recreated.id != first.id and registry.get(recreated.id) is recreated
    assert (await _reloaded(sessions)).get(recreated.id).sw_version == "1.0"
