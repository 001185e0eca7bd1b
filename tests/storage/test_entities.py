"""The entity registry, written through to SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from hub.exceptions import InvalidEntityFormatError
from hub.registry.entities import EntityRegistry
from hub.registry.util import EntityIdInUseError, EntityNotFoundError, slugify, valid_entity_id
from hub.storage.engine import create_engine, session_factory


def test_slugify():
    assert slugify("Living Room Lamp!!") == "living_room_lamp"
    assert slugify("Küche  Decke (2)") == "kuche_decke_2"
    assert slugify("Straße") == "strasse"
    assert slugify("__a__b__") == "a_b"
    # Home Assistant transliterates other scripts rather than dropping them.
    assert slugify("日本") == "ri_ben"
    assert valid_entity_id("light.kitchen_2")
    for bad in ("light.kitchen__2", "light._x", "light.x_", "Light.x", "light", "light.x.y", "_light.x"):
        assert not valid_entity_id(bad), bad


async def test_entity_id_generation_and_collisions(sessions):
    registry = EntityRegistry(sessions)
    await registry.load()
    first = await registry.get_or_create("sensor", "mqtt", "a", original_name="Power Meter")
    second = await registry.get_or_create("sensor", "mqtt", "b", original_name="Power meter")
    third = await registry.get_or_create("sensor", "other", "a", original_name="Power-Meter")
    assert (first.entity_id, second.entity_id, third.entity_id) == (
        "sensor.power_meter",
        "sensor.power_meter_2",
        "sensor.power_meter_3",
    )
    assert (await registry.get_or_create("sensor", "mqtt", "c", suggested_object_id="Grid", original_name="X")).entity_id == "sensor.grid"
    assert (await registry.get_or_create("light", "mqtt", "Über-Lamp 7")).entity_id == "light.uber_lamp_7"
    # Home Assistant's slugify transliterates "日本" (it no longer slugs to nothing).
    assert (await registry.get_or_create("light", "mqtt", "日本")).entity_id == "light.ri_ben"
    assert (await registry.get_or_create("light", "mqtt", "$$$")).entity_id == "light.unknown"
    # Another domain does not collide.
    assert (await registry.get_or_create("switch", "mqtt", "a", original_name="Power Meter")).entity_id == "switch.power_meter"
    assert registry.get_entity_id("sensor", "mqtt", "b") == "sensor.power_meter_2"
    assert registry.get_entity_id("sensor", "mqtt", "zzz") is None
    assert len(registry) == 8
    # The same unique_id again is the same entry.
    again = await registry.get_or_create("sensor", "mqtt", "a", original_name="Power Meter")
    assert again == first


async def test_user_rename_survives_restart(db_url, engine):
    registry = EntityRegistry(session_factory(engine))
    await registry.load()
    entry = await registry.get_or_create(
        "sensor", "shelly", "em-1-power", original_name="Power", unit_of_measurement="W", capabilities={"state_class": "measurement"}
    )
    assert entry.entity_id == "sensor.power"
    renamed = await registry.update(entry.entity_id, new_entity_id="sensor.grid_power", name="Grid power", icon="mdi:flash")
    assert renamed.entity_id == "sensor.grid_power"
    assert registry.get("sensor.power") is None
    assert registry.get_entity_id("sensor", "shelly", "em-1-power") == "sensor.grid_power"
    await engine.dispose()

    # "Restart": a new engine and registry on the same database.
    engine2 = create_engine(db_url)
    try:
        registry2 = EntityRegistry(session_factory(engine2))
        await registry2.load()
        assert registry2.get("sensor.grid_power") == renamed
        again = await registry2.get_or_create(
            "sensor", "shelly", "em-1-power", original_name="Active power", unit_of_measurement="kW"
        )
        assert again.entity_id == "sensor.grid_power"
        assert again.name == "Grid power"
        assert again.icon == "mdi:flash"
        assert again.original_name == "Active power"
        assert again.unit_of_measurement == "kW"
        assert again.capabilities == {"state_class": "measurement"}  # not passed: kept
        assert again.id == entry.id
        # The old entity_id is free again, for a new entity.
        other = await registry2.get_or_create("sensor", "shelly", "em-2-power", original_name="Power")
        assert other.entity_id == "sensor.power"
    finally:
        await engine2.dispose()


async def test_update_validation_and_remove(sessions):
    registry = EntityRegistry(sessions)
    a = await registry.get_or_create("light", "hue", "1", original_name="Desk")
    b = await registry.get_or_create("light", "hue", "2", original_name="Ceiling")
    with pytest.raises(InvalidEntityFormatError):
        await registry.update(a.entity_id, new_entity_id="light.Bad Name")
    with pytest.raises(InvalidEntityFormatError):
        await registry.update(a.entity_id, new_entity_id="light.double__underscore")
    with pytest.raises(InvalidEntityFormatError):
        await registry.update(a.entity_id, new_entity_id="switch.desk")
    with pytest.raises(EntityIdInUseError):
        await registry.update(a.entity_id, new_entity_id=b.entity_id)
    with pytest.raises(EntityNotFoundError):
        await registry.update("light.nope", name="x")
    assert registry.get(a.entity_id) == a  # nothing changed

    hidden = await registry.update(a.entity_id, hidden_by="user", disabled_by="user")
    assert hidden.hidden and hidden.disabled
    cleared = await registry.update(a.entity_id, hidden_by=None)
    assert cleared.hidden_by is None and cleared.disabled_by == "user"
    assert await registry.update(a.entity_id) is cleared  # no change, no write

    await registry.remove(b.entity_id)
    assert registry.get(b.entity_id) is None
    assert registry.get_entity_id("light", "hue", "2") is None
    with pytest.raises(EntityNotFoundError):
        await registry.remove(b.entity_id)
    reloaded = EntityRegistry(sessions)
    await reloaded.load()
    assert list(reloaded.entities) == [cleared]
    # A removed entity comes back with a fresh entry.
    back = await reloaded.get_or_create("light", "hue", "2", original_name="Ceiling")
    assert back.entity_id == "light.ceiling" and back.id != b.id


async def test_concurrent_registrations_get_distinct_ids(sessions):
    registry = EntityRegistry(sessions)
    entries = await asyncio.gather(
        *(registry.get_or_create("sensor", "mqtt", f"u{i}", original_name="Temperature") for i in range(12))
    )
    ids = [entry.entity_id for entry in entries]
    assert ids[0] == "sensor.temperature"
    assert set(ids) == {"sensor.temperature"} | {f"sensor.temperature_{n}" for n in range(2, 13)}
    reloaded = EntityRegistry(sessions)
    await reloaded.load()
    assert {e.entity_id for e in reloaded.entities} == set(ids)
