"""Home-scoped sessions on SQLite (the application's filter alone): two homes in one database,
the same natural keys in each, and every store reads, changes and deletes its own home's rows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.auth.store import AuthStore
from hub.core.scope import DEFAULT_SCOPE, HomeScope
from hub.registry.areas import AreaRegistry
from hub.registry.devices import DeviceRegistry
from hub.registry.entities import EntityRegistry
from hub.registry.restore import RestoreStateStore
from hub.storage.engine import create_engine, default_sqlite_url, migrate
from hub.storage.models import EntityRow, utcnow
from hub.storage.scoped import home_filter, scoped_sessions
from hub.tenancy.store import TenancyStore
from integrations.mqtt.cache import DiscoveryCache
from tests.storage.conftest import BUILTIN_MIGRATIONS

OTHER = HomeScope("acme-tenant", "cabin-home")  # a second tenant's home (ids as the store would make)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(default_sqlite_url(tmp_path))
    await migrate(engine, BUILTIN_MIGRATIONS)
    async with engine.begin() as connection:
        now = utcnow().replace(tzinfo=None)
        await connection.execute(text("INSERT INTO tenants (id, name, status, created_at) VALUES (:t, 'acme', "
                                      "'active', :now)"), {"t": OTHER.tenant_id, "now": now})
        await connection.execute(text("INSERT INTO homes (id, tenant_id, name, topic_root, time_zone, currency, "
                                      "created_at) VALUES (:h, :t, 'cabin', 'cabin/', 'UTC', 'EUR', :now)"),
                                 {"h": OTHER.home_id, "t": OTHER.tenant_id, "now": now})
    yield engine
    await engine.dispose()


async def _registries(engine: AsyncEngine, scope: HomeScope) -> tuple[AreaRegistry, DeviceRegistry, EntityRegistry]:
    sessions = scoped_sessions(engine, scope)
    areas = AreaRegistry(sessions)
    devices = DeviceRegistry(sessions, area_registry=areas)
    entities = EntityRegistry(sessions, device_registry=devices, area_registry=areas)
    for registry in (areas, devices, entities):
        await registry.load()
    return areas, devices, entities


async def test_two_homes_keep_the_same_ids_apart(engine: AsyncEngine) -> None:
    for scope, name in ((DEFAULT_SCOPE, "Home"), (OTHER, "Cabin")):
        areas, devices, entities = await _registries(engine, scope)
        area = await areas.create("Garage")
        device = await devices.get_or_create(integration="mqtt", identifiers=[("mqtt", "meter")], name=name)
        await devices.update(device.id, area_id=area.id)
        entry = await entities.get_or_create("sensor", "mqtt", "meter_power", suggested_object_id="meter_power",
                                             device_id=device.id)
        assert entry.entity_id == "sensor.meter_power"  # the same id in both homes
        await RestoreStateStore(scoped_sessions(engine, scope)).save_many(
            [(entry.entity_id, name, {}, utcnow(), utcnow())]
        )
        await DiscoveryCache(scoped_sessions(engine, scope)).put("homeassistant/sensor/meter/config", name,
                                                                "sensor", "meter")

    for scope, name in ((DEFAULT_SCOPE, "Home"), (OTHER, "Cabin")):
        areas, devices, entities = await _registries(engine, scope)
        assert [a.id for a in areas] == ["garage"]
        assert [d.name for d in devices] == [name]
        assert [e.entity_id for e in entities] == ["sensor.meter_power"]
        stored = await RestoreStateStore(scoped_sessions(engine, scope)).load()
        assert stored["sensor.meter_power"].state == name
        assert await DiscoveryCache(scoped_sessions(engine, scope)).load() == {
            "homeassistant/sensor/meter/config": name
        }

    # Renaming, deleting an area and removing an entity in one home leave the other's rows alone.
    areas, devices, entities = await _registries(engine, OTHER)
    await entities.update("sensor.meter_power", name="Cabin power")
    await areas.delete("garage")
    await entities.remove("sensor.meter_power")
    await RestoreStateStore(scoped_sessions(engine, OTHER)).remove_many(["sensor.meter_power"])
    areas, devices, entities = await _registries(engine, DEFAULT_SCOPE)
    assert [a.id for a in areas] == ["garage"] and next(iter(devices)).area_id == "garage"
    assert entities.get("sensor.meter_power").name is None
    assert "sensor.meter_power" in await RestoreStateStore(scoped_sessions(engine, DEFAULT_SCOPE)).load()


async def test_users_belong_to_a_tenant_and_a_role_per_home(engine: AsyncEngine) -> None:
    home = AuthStore(scoped_sessions(engine, DEFAULT_SCOPE))
    cabin = AuthStore(scoped_sessions(engine, OTHER))
    ann = await home.add_user("ann", "correct horse battery", "admin")
    bob = await cabin.add_user("bob", "correct horse battery", "user")
    assert [u.name for u in await home.list_users()] == ["ann"]
    assert [u.name for u in await cabin.list_users()] == ["bob"]
    with pytest.raises(Exception, match="already exists"):
        await cabin.add_user("ann", "correct horse battery")  # names are unique across tenants
    raw = await cabin.create_long_lived_token(bob.id, "laptop")
    assert await home.validate_token(raw) is None  # a token of the cabin is no token of the home
    assert (await cabin.validate_token(raw) or (None,))[0] == bob
    store = TenancyStore(engine)
    assert await store.homes_of(ann.id) == [(DEFAULT_SCOPE, "admin")]
    await cabin.update_user(bob.id, role="read-only")
    assert await store.homes_of(bob.id) == [(OTHER, "read-only")]


def test_the_filter_names_the_home_of_every_table_it_reads() -> None:
    entities = EntityRow.__table__
    statement = home_filter(select(entities.c.entity_id), OTHER)
    sql = str(statement.compile(compile_kwargs={"literal_binds": True}))
    assert f"entities.home_id = '{OTHER.home_id}'" in sql
    untouched = text("SELECT 1")
    assert home_filter(untouched, OTHER) is untouched
