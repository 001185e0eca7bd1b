"""A database made by a hub whose single core chain held every table keeps working, with its rows,
once the integrations own their tables; on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text

from hub import bootstrap
from hub.storage.engine import create_engine, known_heads, migrate
from integrations.energy.store import EnergyStore
from integrations.frontend.models import SavedChartRow
from integrations.http_ingest.keys import ApiKeyStore
from integrations.mqtt import runtime_of
from integrations.notify.persistent import NOTIFICATIONS
from integrations.relay.models import RelayCommandRow

from . import legacy
from .conftest import BUILTIN_MIGRATIONS, all_metadata

EVERYTHING = """\
mqtt:
  broker: {broker}
  discovery_prefix: legacy_{suffix}
relay:
http_ingest:
energy:
persistent_notification:
frontend:
"""


async def _version_rows(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return set((await connection.execute(text("SELECT version_num FROM alembic_version"))).scalars())
    finally:
        await engine.dispose()


async def _build_legacy(url: str, revision: str = "heads") -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            return await connection.run_sync(legacy.build, revision)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("revision", ["heads", "0001"])
async def test_legacy_schema_becomes_exactly_todays_models(db_url: str, revision: str) -> None:
    tables = await _build_legacy(db_url, revision)
    assert "mqtt_discovery" in tables
    assert ("relay_commands" in tables) == (revision == "heads")

    engine = create_engine(db_url)
    try:
        await migrate(engine, BUILTIN_MIGRATIONS)
        async with engine.connect() as connection:
            diff = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), all_metadata())
            )
            topics = (await connection.execute(text("SELECT discovery_topic FROM mqtt_discovery"))).scalars().all()
    finally:
        await engine.dispose()
    assert diff == []
    assert topics == [legacy.DISCOVERY_TOPIC]  # adopted by mqtt_0001, not made anew
    assert await _version_rows(db_url) == known_heads(BUILTIN_MIGRATIONS)


@pytest.mark.services
async def test_hub_starts_on_a_legacy_database_and_finds_its_rows(
    tmp_path: Path, db_url: str, mosquitto_server: Any
) -> None:
    await _build_legacy(db_url)
    config = tmp_path / "config"
    config.mkdir()
    storage = f"storage:\n  db_url: {db_url}\n"

    # First on a configuration without the integrations: their version rows are not in the
    # way, and nothing of theirs is touched.
    (config / "configuration.yaml").write_text(storage + "homeassistant:\n  name: Legacy\n")
    runtime = await bootstrap.start(config, tmp_path / "data", port=0)
    try:
        assert [user.name for user in await runtime.hub.auth.list_users()] == ["alice"]
    finally:
        await bootstrap.stop(runtime)
    assert await _version_rows(db_url) == {"0009_tenancy", "0005_frontend", "0006_power", "0007_energy"}

    (config / "configuration.yaml").write_text(
        storage + EVERYTHING.format(broker=mosquitto_server.url, suffix=tmp_path.name[-8:])
    )
    runtime = await bootstrap.start(config, tmp_path / "data", port=0)
    try:
        hub = runtime.hub
        assert [user.name for user in await hub.auth.list_users()] == ["alice"]
        assert hub.device_registry.get_by_identifier("mqtt", "garage").name == "Garage meter"
        assert hub.states.get("sensor.garage_power").state == "230"
        mqtt = runtime_of(hub)
        assert mqtt is not None and mqtt.store is not None
        assert legacy.DISCOVERY_TOPIC in await mqtt.store.load()
        notification = hub.runtime[NOTIFICATIONS].get("legacy")
        assert notification is not None and notification.message == "still here"
        assert [key.name for key in await ApiKeyStore(hub.db).list()] == ["barn meter"]
        assert (await EnergyStore(hub).load())["meter:sensor.garage_energy"] == {"total": 12.5}
        async with hub.db() as session:
            commands = (await session.execute(select(RelayCommandRow))).scalars().all()
            charts = (await session.execute(select(SavedChartRow))).scalars().all()
        assert [(c.entity_id, c.status) for c in commands] == [("switch.pump", "confirmed")]
        assert [c.name for c in charts] == ["Garage"]
    finally:
        await bootstrap.stop(runtime)
    assert await _version_rows(db_url) == known_heads(BUILTIN_MIGRATIONS)
