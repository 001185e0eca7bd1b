"""A database of a single-home hub at 0008_areas (before tenants and homes) migrates into the
default tenant and home, and the hub behaves as before; on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Connection, MetaData, insert, text

from hub import bootstrap
from hub.auth.store import hash_token
from hub.storage.engine import alembic_config, create_engine
from integrations.mqtt import runtime_of

from . import legacy
from .conftest import BUILTIN_MIGRATIONS
from .test_legacy_database import EVERYTHING

# Each branch as it was before the tenancy revisions.
BEFORE = ("0008_areas", "0007_energy", "0005_frontend", "http_ingest_0002", "mqtt_0001",
          "persistent_notification_0001", "relay_0002_parameters")
RAW_TOKEN = "a-long-lived-token-made-before-homes"
ROWS: dict[str, dict[str, Any]] = {
    **legacy.ROWS,
    "areas": {"id": "garage", "name": "Garage", "normalized_name": "garage", "aliases": [], "labels": [],
              "created_at": legacy.WHEN, "modified_at": legacy.WHEN},
    "devices": {**legacy.ROWS["devices"], "area_id": "garage"},
    "tokens": {"id": "token-1", "user_id": "user-1", "kind": "long_lived", "label": "laptop",
               "token_hash": hash_token(RAW_TOKEN), "created_at": legacy.WHEN},
}
ORDER = ("users", "tokens", "areas", "devices", "entities")


def _build(connection: Connection) -> None:
    config = alembic_config(connection, BUILTIN_MIGRATIONS)
    for revision in BEFORE:
        command.upgrade(config, revision)
    tables = MetaData()
    tables.reflect(connection)
    for name in (*ORDER, *sorted(set(ROWS) - set(ORDER))):
        connection.execute(insert(tables.tables[name]), [ROWS[name]])


@pytest.mark.services
async def test_a_single_home_database_at_0008_migrates_into_the_default_home(
    tmp_path: Path, db_url: str, mosquitto_server: Any
) -> None:
    engine = create_engine(db_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_build)
    finally:
        await engine.dispose()
    config = tmp_path / "config"
    config.mkdir()
    (config / "configuration.yaml").write_text(
        f"storage:\n  db_url: {db_url}\n" + EVERYTHING.format(broker=mosquitto_server.url, suffix=tmp_path.name[-8:])
    )
    runtime = await bootstrap.start(config, tmp_path / "data", port=0)
    try:
        hub = runtime.hub
        auth = hub.require_auth()
        assert [user.name for user in await auth.list_users()] == ["alice"]
        validated = await auth.validate_token(RAW_TOKEN)
        assert validated is not None and validated[0].name == "alice" and validated[1].label == "laptop"
        device = hub.device_registry.get_by_identifier("mqtt", "garage")
        assert device.name == "Garage meter" and device.area_id == "garage"
        # SQLite rebuilds tables to alter them: references to them survive (no cascades).
        assert hub.entity_registry.get("sensor.garage_power").device_id == device.id
        assert hub.states.get("sensor.garage_power").state == "230"
        mqtt = runtime_of(hub)
        assert mqtt is not None and mqtt.store is not None
        assert legacy.DISCOVERY_TOPIC in await mqtt.store.load()
        # New rows land in the default home as well.
        new = await hub.entity_registry.get_or_create("sensor", "mqtt", "new_one")
        assert new.entity_id != "sensor.garage_power"
    finally:
        await bootstrap.stop(runtime)
    engine = create_engine(db_url)
    try:
        async with engine.connect() as connection:
            for name in ROWS:
                scopes = (await connection.execute(text(f"SELECT DISTINCT tenant_id, home_id FROM {name}")
                                                   if name != "users" else
                                                   text("SELECT DISTINCT tenant_id, 'default' FROM users"))).all()
                assert scopes == [("default", "default")], name
            members = (await connection.execute(text("SELECT home_id, user_id, role FROM home_members"))).all()
            homes = (await connection.execute(text("SELECT id, tenant_id FROM homes"))).all()
    finally:
        await engine.dispose()
    assert members == [("default", "user-1", "admin")]
    assert homes == [("default", "default")]
