"""The area registry, written through to SQLite and PostgreSQL, and the areas of devices and entities."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import Column, MetaData, Table, insert

from hub.registry.areas import AreaNameInUseError, AreaNotFoundError, AreaRegistry
from hub.registry.devices import DeviceRegistry
from hub.registry.entities import EntityRegistry
from hub.registry.util import RegistryError
from hub.storage.engine import alembic_config, create_engine, migrate, session_factory
from hub.storage.models import DeviceRow, table_of, utcnow

from .conftest import BUILTIN_MIGRATIONS


async def _registries(sessions):
    areas = AreaRegistry(sessions)
    devices = DeviceRegistry(sessions, area_registry=areas)
    entities = EntityRegistry(sessions, device_registry=devices, area_registry=areas)
    for registry in (areas, devices, entities):
        await registry.load()
    return areas, devices, entities


async def test_area_ids_are_slugs_of_unique_names(sessions):
    areas = AreaRegistry(sessions)
    await areas.load()
    kitchen = await areas.create("Kitchen", aliases=["Cuisine", "Cuisine"], icon="mdi:stove", labels=["ground"])
    assert (kitchen.id, kitchen.name, kitchen.aliases, kitchen.labels) == ("kitchen", "Kitchen", ("Cuisine",), ("ground",))
    assert kitchen.created_at == kitchen.modified_at

    # The same name, whatever its case and spaces, is refused as HA refuses it.
    with pytest.raises(AreaNameInUseError, match="The name KIT chen .* is already in use"):
        await areas.create("KIT chen")
    # Renamed, an area keeps its id; a new area with the old slug gets `_2`.
    renamed = await areas.update("kitchen", name="Old kitchen", floor_id="ground_floor")
    assert renamed.id == "kitchen" and renamed.modified_at > kitchen.modified_at
    assert (await areas.create("Kitchen")).id == "kitchen_2"
    assert areas.get_by_name("old KITCHEN") == renamed
    with pytest.raises(AreaNameInUseError):
        await areas.update("kitchen_2", name="Old Kitchen")

    with pytest.raises(RegistryError, match="needs a name"):
        await areas.create("  ")
    with pytest.raises(RegistryError, match="temperature_entity_id must be an entity id"):
        await areas.create("Attic", temperature_entity_id="not an entity")
    with pytest.raises(AreaNotFoundError):
        await areas.update("nowhere", name="x")

    reloaded = AreaRegistry(sessions)
    await reloaded.load()
    assert {a.id: a for a in reloaded} == {a.id: a for a in areas}


async def test_devices_and_entities_point_at_real_areas(sessions):
    areas, devices, entities = await _registries(sessions)
    await areas.create("Garage")
    plug = await devices.get_or_create(integration="mqtt", identifiers=[("mqtt", "plug")], name="Plug")
    power = await entities.get_or_create("sensor", "mqtt", "plug-power", device_id=plug.id, original_name="Power")

    with pytest.raises(AreaNotFoundError, match="Area 'cellar' does not exist; the areas are: garage"):
        await devices.update(plug.id, area_id="cellar")
    with pytest.raises(AreaNotFoundError, match="'cellar' does not exist"):
        await entities.update(power.entity_id, area_id="cellar")
    assert devices.get(plug.id).area_id is None and entities.get(power.entity_id).area_id is None

    await devices.update(plug.id, area_id="garage")
    await entities.update(power.entity_id, area_id="garage")

    # Deleting the area takes it off the device and the entity, in memory and in the database.
    await areas.delete("garage")
    assert areas.get("garage") is None
    assert devices.get(plug.id).area_id is None
    assert entities.get(power.entity_id).area_id is None
    _, devices2, entities2 = await _registries(sessions)
    assert devices2.get(plug.id).area_id is None and entities2.get(power.entity_id).area_id is None
    with pytest.raises(AreaNotFoundError):
        await areas.delete("garage")


async def test_the_database_refuses_an_area_that_does_not_exist(sessions):
    # A registry without the area registry (a script, a bug) still cannot point at nothing.
    devices = DeviceRegistry(sessions)
    plug = await devices.get_or_create(integration="mqtt", identifiers=[("mqtt", "plug")])
    with pytest.raises(RegistryError, match="refused by the database"):
        await devices.update(plug.id, area_id="nowhere")


LEGACY_DEVICES = Table(
    "devices", MetaData(),
    *(Column(c.name, c.type) for c in table_of(DeviceRow).c if c.name not in ("tenant_id", "home_id", "location")),
)


async def test_migration_keeps_the_areas_devices_already_had(db_url):
    engine = create_engine(db_url)
    now = utcnow()
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.upgrade(alembic_config(c, BUILTIN_MIGRATIONS), "0003_security"))
            for device_id, area in (("d1", "Living Room"), ("d2", "Living Room"), ("d3", None)):
                # The devices table as 0003 made it (today's model has columns it had not).
                await conn.execute(
                    insert(LEGACY_DEVICES).values(
                        id=device_id, identifiers=[], connections=[], integration="mqtt", area_id=area,
                        created_at=now, modified_at=now,
                    )
                )
        await migrate(engine, BUILTIN_MIGRATIONS)
        areas, devices, _ = await _registries(session_factory(engine))
        assert [(a.id, a.name) for a in areas] == [("Living Room", "Living Room")]
        assert devices.get("d1").area_id == "Living Room" and devices.get("d3").area_id is None
    finally:
        await engine.dispose()
