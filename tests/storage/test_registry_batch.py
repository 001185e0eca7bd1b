"""Registry writes grouped in a batch: one transaction for many entities, still in call order."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import event, insert

from hub.registry.devices import DeviceRegistry
from hub.registry.entities import ENTITIES, EntityRegistry
from hub.storage.engine import create_engine, session_factory
from hub.storage.models import utcnow


def count_commits(engine) -> list[int]:
    commits = [0]
    event.listen(engine.sync_engine, "commit", lambda _conn: commits.__setitem__(0, commits[0] + 1))
    return commits


async def test_a_batch_of_new_devices_and_entities_is_one_transaction_and_survives_restart(db_url, engine):
    commits = count_commits(engine)
    devices = DeviceRegistry(session_factory(engine))
    entities = EntityRegistry(session_factory(engine), device_registry=devices)
    await devices.load()
    await entities.load()
    async with entities.writer.batch():
        for n in range(50):
            device = await devices.get_or_create(integration="mqtt", identifiers=[("mqtt", f"node{n}")], name=f"Node {n}")
            for k in range(4):
                entry = await entities.get_or_create("sensor", "mqtt", f"node{n}_{k}", original_name=f"Node {n} power {k}",
                                                     device_id=device.id)
                assert entities.get(entry.entity_id) == entry  # in memory at once
        assert entities.writer.pending == 250
    assert commits[0] == 1
    assert entities.writer.pending == 0
    await engine.dispose()

    engine2 = create_engine(db_url)
    try:
        devices2 = DeviceRegistry(session_factory(engine2))
        entities2 = EntityRegistry(session_factory(engine2), device_registry=devices2)
        await devices2.load()
        await entities2.load()
        assert len(devices2) == 50 and len(entities2) == 200
        assert entities2.get("sensor.node_7_power_3").device_id == devices2.get_by_identifier("mqtt", "node7").id
    finally:
        await engine2.dispose()


async def test_another_tasks_write_goes_after_the_queued_ones(sessions, engine):
    devices = DeviceRegistry(sessions)
    entities = EntityRegistry(sessions, device_registry=devices)
    await entities.load()
    created = asyncio.Event()
    renamed = asyncio.Event()

    async def discover() -> None:
        async with entities.writer.batch():
            await entities.get_or_create("sensor", "mqtt", "grid", original_name="Grid")
            created.set()
            await renamed.wait()  # the batch is still open while the user renames the entity

    async def rename() -> None:
        await created.wait()
        # Its own write commits the queued insert first: the rename finds its row.
        await entities.update("sensor.grid", new_entity_id="sensor.grid_power", name="Grid power")
        renamed.set()

    await asyncio.gather(discover(), rename())
    fresh = EntityRegistry(sessions)
    await fresh.load()
    assert [(e.entity_id, e.name) for e in fresh] == [("sensor.grid_power", "Grid power")]


async def test_a_refused_write_in_a_batch_is_logged_and_the_others_kept(sessions, caplog):
    entities = EntityRegistry(sessions)
    await entities.load()
    # A row the database already has, behind the registry's back: its insert will be refused.
    now = utcnow()
    async with sessions() as session, session.begin():
        await session.execute(insert(ENTITIES).values(
            id="x1", entity_id="sensor.taken", unique_id="elsewhere", platform="other", domain="sensor", created_at=now,
            modified_at=now))
    with caplog.at_level(logging.ERROR):
        async with entities.writer.batch():
            await entities.get_or_create("sensor", "mqtt", "a", original_name="First")
            await entities.get_or_create("sensor", "mqtt", "b", original_name="Taken")
            await entities.get_or_create("sensor", "mqtt", "c", original_name="Third")
    refused = [r for r in caplog.records if "registry write refused by the database" in r.getMessage()]
    assert len(refused) == 1 and refused[0].exc_info is None
    assert refused[0].getMessage().startswith("Entity registry write refused")
    fresh = EntityRegistry(sessions)
    await fresh.load()
    assert sorted(e.entity_id for e in fresh) == ["sensor.first", "sensor.taken", "sensor.third"]


async def test_a_batch_inserts_each_table_in_one_statement_parents_first_and_keeps_updates_in_place(db_url, engine):
    """Interleaved device and entity inserts go as one executemany per table, devices first.

    Foreign keys are enforced (SQLite and PostgreSQL): an entity of an existing device queued
    before a new device and its entities still commits; an update queued between inserts
    runs after the inserts before it and before those after it.
    """
    executed: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute",
                 lambda _conn, _cursor, statement, *_: executed.append(statement.split()[0] + " " + statement.split()[2]))
    devices = DeviceRegistry(session_factory(engine))
    entities = EntityRegistry(session_factory(engine), device_registry=devices)
    await devices.load()
    await entities.load()
    old = await devices.get_or_create(integration="mqtt", identifiers=[("mqtt", "old")], name="Old")
    executed.clear()
    async with entities.writer.batch():
        first = await entities.get_or_create("sensor", "mqtt", "old_0", original_name="Old 0", device_id=old.id)
        for n in range(20):
            device = await devices.get_or_create(integration="mqtt", identifiers=[("mqtt", f"node{n}")], name=f"Node {n}")
            for k in range(3):
                await entities.get_or_create("sensor", "mqtt", f"node{n}_{k}", original_name=f"Node {n} {k}", device_id=device.id)
        renamed = await entities.update(first.entity_id, name="Renamed")  # an UPDATE between two runs of inserts
        await entities.get_or_create("sensor", "mqtt", "old_1", original_name="Old 1", device_id=old.id)
    inserts_and_updates = [s for s in executed if s.split()[0] in ("INSERT", "UPDATE")]
    assert [s.split()[0] for s in inserts_and_updates] == ["INSERT", "INSERT", "UPDATE", "INSERT"]
    assert "devices" in inserts_and_updates[0] and "entities" in inserts_and_updates[1]
    await engine.dispose()

    engine2 = create_engine(db_url)
    devices2 = DeviceRegistry(session_factory(engine2))
    entities2 = EntityRegistry(session_factory(engine2), device_registry=devices2)
    await devices2.load()
    await entities2.load()
    assert len(devices2) == 21 and len(entities2) == 62
    assert entities2.get(renamed.entity_id).name == "Renamed"
    assert len(entities2.entries_for_device(old.id)) == 2
    await engine2.dispose()
