"""The migrations build exactly the models, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import insert, inspect, select, text

from hub.storage.engine import (
    alembic_config,
    create_engine,
    current_revisions,
    default_sqlite_url,
    migrate,
)
from hub.storage.models import RestoreStateRow

from .conftest import BUILTIN_MIGRATIONS, ROOT, all_metadata

TABLES = {"users", "tokens", "devices", "entities", "restore_states", "mqtt_discovery"}


def _differences(connection):
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, all_metadata())


async def test_migrations_equal_models(engine):
    async with engine.connect() as conn:
        diff = await conn.run_sync(_differences)
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        revisions = await conn.run_sync(current_revisions)
    assert diff == []
    assert TABLES <= tables
    heads = set(ScriptDirectory.from_config(alembic_config(None, BUILTIN_MIGRATIONS)).get_heads())
    assert revisions == heads  # every branch is applied


def test_every_builtin_version_folder_is_compared_with_its_models():
    assert set((ROOT / "integrations").glob("**/migrations/versions")) == set(BUILTIN_MIGRATIONS)


async def test_migrate_is_idempotent_and_downgrades(engine):
    await migrate(engine, BUILTIN_MIGRATIONS)  # already at head: nothing to do
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: command.downgrade(alembic_config(c, BUILTIN_MIGRATIONS), "base"))
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert not (TABLES & tables)
    await migrate(engine, BUILTIN_MIGRATIONS)
    async with engine.connect() as conn:
        assert await conn.run_sync(_differences) == []


async def test_naive_datetimes_are_refused(engine):
    async with engine.begin() as conn:
        with pytest.raises(Exception, match="naive datetime"):
            await conn.execute(
                insert(RestoreStateRow.__table__).values(
                    entity_id="sensor.x",
                    state="1",
                    attributes={},
                    last_changed=datetime(2024, 1, 1),
                    last_updated=datetime(2024, 1, 1),
                )
            )


async def test_times_read_back_are_the_same_instants_in_utc(engine):
    table = RestoreStateRow.__table__
    written = {
        "sensor.utc": datetime(2024, 3, 1, 12, 30, 5, 123456, tzinfo=UTC),
        "sensor.whole_second": datetime(2024, 3, 1, 12, 30, 5, tzinfo=UTC),
        "sensor.paris": datetime(2024, 3, 1, 14, 30, 5, tzinfo=timezone(timedelta(hours=2))),
    }
    async with engine.begin() as conn:
        await conn.execute(insert(table), [{"entity_id": entity_id, "state": "1", "attributes": {}, "last_changed": moment,
                                            "last_updated": moment} for entity_id, moment in written.items()])
        if engine.dialect.name == "sqlite":
            # Text another tool wrote, with an offset of its own: the same instant, read as UTC.
            await conn.execute(text("INSERT INTO restore_states (home_id, tenant_id, entity_id, state, attributes, "
                                    "last_changed, last_updated) SELECT home_id, tenant_id, 'sensor.offset', state, "
                                    "attributes, '2024-03-01T14:30:05+02:00', '2024-03-01 12:30:05' FROM restore_states "
                                    "WHERE entity_id = 'sensor.utc'"))
            written["sensor.offset"] = datetime(2024, 3, 1, 12, 30, 5, tzinfo=UTC)
        rows = (await conn.execute(select(table.c.entity_id, table.c.last_changed, table.c.last_updated))).all()
    read = {entity_id: (changed, updated) for entity_id, changed, updated in rows}
    assert set(read) == set(written)
    for entity_id, moment in written.items():
        assert read[entity_id] == (moment, moment), entity_id
        assert all(value.tzinfo is UTC for value in read[entity_id]), entity_id


async def test_sqlite_engine_settings(tmp_path):
    data_dir = tmp_path / "not" / "yet"
    url = default_sqlite_url(data_dir)
    engine = create_engine(url)
    try:
        assert data_dir.is_dir()
        async with engine.connect() as conn:
            journal = (await conn.execute(text("PRAGMA journal_mode"))).scalar_one()
            synchronous = (await conn.execute(text("PRAGMA synchronous"))).scalar_one()
            foreign_keys = (await conn.execute(text("PRAGMA foreign_keys"))).scalar_one()
        assert journal == "wal"
        assert synchronous == 1  # NORMAL
        assert foreign_keys == 1
    finally:
        await engine.dispose()
