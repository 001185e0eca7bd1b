"""Archives of databases whose integrations keep tables: made by an older hub (one core chain)
or by this one (a branch per integration), restored and started with their rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hub import bootstrap
from hub.config import load_configuration
from hub.ops.backup import BackupRequest, create_backup
from hub.ops.restore import restore_backup
from hub.storage.engine import create_engine, default_sqlite_url
from integrations.http_ingest.keys import ApiKeyStore
from integrations.notify.persistent import NOTIFICATIONS
from tests.hubs import write_config
from tests.storage import legacy

CONFIG = "homeassistant:\n  name: Layouts\nhttp_ingest:\npersistent_notification:\n"


async def backup(config: Path, data: Path, out: Path) -> list[str]:
    manifest = await create_backup(BackupRequest(config, data, out), load_configuration(config), default_sqlite_url(data))
    return manifest.schema_revisions


async def restore(archive: Path, target: Path) -> None:
    await restore_backup(archive, target / "config", target / "data", load_configuration, bootstrap.database_url)


async def test_archives_of_both_layouts_restore_with_their_rows(tmp_path: Path, start_hub: Any) -> None:
    # A data dir as an older hub left it, with a row in each integration's table.
    old_data = tmp_path / "old" / "data"
    engine = create_engine(default_sqlite_url(old_data))
    async with engine.begin() as connection:
        await connection.run_sync(legacy.build)
    await engine.dispose()
    config = write_config(tmp_path / "old" / "config", CONFIG)
    revisions = await backup(config, old_data, tmp_path / "old.tar.gz")
    assert revisions == ["0002_api", "0005_frontend", "0006_power", "0007_energy"]

    await restore(tmp_path / "old.tar.gz", tmp_path / "first")
    runtime = await start_hub(tmp_path / "first" / "config", tmp_path / "first" / "data")
    hub = runtime.hub
    assert hub.runtime[NOTIFICATIONS].get("legacy") is not None
    assert [key.name for key in await ApiKeyStore(hub.db).list()] == ["barn meter"]
    await bootstrap.stop(runtime)

    # Its archive names the integrations' own revisions; this hub knows them.
    revisions = await backup(tmp_path / "first" / "config", tmp_path / "first" / "data", tmp_path / "new.tar.gz")
    assert {"http_ingest_0003_tenancy", "notify_0002_tenancy", "0006_power"} <= set(revisions)
    await restore(tmp_path / "new.tar.gz", tmp_path / "second")
    runtime = await start_hub(tmp_path / "second" / "config", tmp_path / "second" / "data")
    assert runtime.hub.runtime[NOTIFICATIONS].get("legacy").message == "still here"
    assert [key.name for key in await ApiKeyStore(runtime.hub.db).list()] == ["barn meter"]
