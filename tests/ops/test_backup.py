"""Back up a running hub, restore it elsewhere, and find the same devices, entities, users,
automations and history; refuse corrupt and newer archives; migrate older ones forward."""

from __future__ import annotations

import asyncio
import io
import json
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from hub import bootstrap
from hub.config import load_configuration
from hub.ops.archive import ArchiveError, known_revisions
from hub.ops.restore import restore_backup
from hub.recorder import get_recorder
from hub.storage.engine import create_engine, default_sqlite_url, known_heads
from tests.hubs import write_config
from tests.ops.conftest import DEVICES

CONFIG = """
homeassistant:
  name: Backed up
testops:
recorder:
  commit_interval: 0.05
automation: !include automations.yaml
"""
AUTOMATIONS = """
- id: night_off
  alias: Night off
  triggers:
    - trigger: time
      at: "23:00:00"
  actions:
    - action: testops.set_power
      data:
        value: 0
"""


async def hub_cli(*args: str) -> tuple[int, str]:
    """Run the `hub` command in its own process, as an operator would."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


def make_config(folder: Path, extra: str = "") -> Path:
    config = write_config(folder, CONFIG + extra, {"testops": DEVICES})
    (config / "automations.yaml").write_text(AUTOMATIONS)
    (config / "secrets.yaml").write_text("api_key: very-secret\n")
    return config


async def populate(runtime: bootstrap.Runtime) -> None:
    """Give the hub a user, states and history worth restoring."""
    hub = runtime.hub
    await hub.auth.add_user("alice", "a long password", "admin")
    for value in (5, 6, 7):
        await hub.services.call("testops", "set_power", {"value": value})
    await get_recorder(hub).flush()


async def assert_same_hub(runtime: bootstrap.Runtime) -> None:
    hub = runtime.hub
    assert [d.name for d in hub.device_registry.devices] == ["Ops node"]
    assert "sensor.ops_power" in {e.entity_id for e in hub.entity_registry.entities}
    assert [u.name for u in await hub.auth.list_users()] == ["alice"]
    assert hub.states.get("automation.night_off") is not None
    history = await get_recorder(hub).backend.read_states(["sensor.ops_power"], 0, time.time() + 60)
    values = [s.value for s in history["sensor.ops_power"]]
    if values[-1:] == [1.0]:
        values.pop()  # the restored hub's own meter starts at 1, and may be recorded already
    assert values[-3:] == [5.0, 6.0, 7.0]


async def test_backup_running_hub_and_restore_elsewhere(tmp_path: Path, start_hub: Any) -> None:
    config = make_config(tmp_path / "config")
    runtime = await start_hub(config, tmp_path / "data")
    await populate(runtime)
    archive = tmp_path / "out" / "hub.tar.gz"
    code, output = await hub_cli("backup", "-c", str(config), "--data", str(tmp_path / "data"), "--out", str(archive), "--history")
    assert code == 0, output
    assert "secrets.yaml was left out" in output
    await bootstrap.stop(runtime)

    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert names[0] == "manifest.json"
    assert "config/secrets.yaml" not in names and "config/automations.yaml" in names
    assert "database/hub.db" in names and "history/states.jsonl" in names
    assert set(manifest["schema_revisions"]) == known_heads()
    assert {f["path"] for f in manifest["files"]} == set(names) - {"manifest.json"}
    assert all(len(f["sha256"]) == 64 for f in manifest["files"])

    # Elsewhere: the secrets come from the operator, everything else from the archive.
    new_config = tmp_path / "elsewhere" / "config"
    new_config.mkdir(parents=True)
    (new_config / "secrets.yaml").write_text("api_key: very-secret\n")
    code, output = await hub_cli("restore", str(archive), "-c", str(new_config), "--data", str(tmp_path / "elsewhere" / "data"))
    assert code == 0, output
    assert "History: 4 points written" in output
    restored = await start_hub(new_config, tmp_path / "elsewhere" / "data")
    await assert_same_hub(restored)


async def test_restore_refuses_a_non_empty_data_dir(tmp_path: Path, start_hub: Any) -> None:
    config = make_config(tmp_path / "config")
    runtime = await start_hub(config, tmp_path / "data")
    archive = tmp_path / "hub.tar.gz"
    assert (await hub_cli("backup", "-c", str(config), "--data", str(tmp_path / "data"), "--out", str(archive)))[0] == 0
    await bootstrap.stop(runtime)
    code, output = await hub_cli("restore", str(archive), "-c", str(config), "--data", str(tmp_path / "data"))
    assert code == 1
    assert "is not empty; restore only into an empty or new directory" in output


def rewrite(archive: Path, out: Path, *, manifest: Any = None, files: dict[str, bytes] | None = None) -> Path:
    """Copy an archive, changing its manifest or the content of some files."""
    with tarfile.open(archive) as src, tarfile.open(out, "w:gz") as dst:
        for member in src:
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "manifest.json" and manifest is not None:
                data = json.dumps(manifest(json.loads(data))).encode()
            elif files and member.name in files:
                data = files[member.name]
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    return out


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A good archive of a running, populated hub, made once for the module: the tests tamper with copies."""
    folder = tmp_path_factory.mktemp("archive")

    async def make() -> Path:
        config = make_config(folder / "config")
        runtime = await bootstrap.start(config, folder / "data", port=0)
        try:
            await populate(runtime)
            out = folder / "good.tar.gz"
            code, output = await hub_cli("backup", "-c", str(config), "--data", str(folder / "data"), "--out", str(out), "--history")
            assert code == 0, output
        finally:
            await bootstrap.stop(runtime)
        return out

    return asyncio.run(make())


async def restore(archive: Path, tmp_path: Path) -> Any:
    target = tmp_path / "target"
    return await restore_backup(archive, target / "config", target / "data", load_configuration, bootstrap.database_url)


async def test_corrupt_archives_are_refused(archive: Path, tmp_path: Path) -> None:
    tampered = rewrite(archive, tmp_path / "tampered.tar.gz", files={"config/automations.yaml": b"- id: evil\n"})
    with pytest.raises(ArchiveError, match="checksum of config/automations.yaml does not match"):
        await restore(tampered, tmp_path)
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(ArchiveError, match="corrupt or truncated"):
        await restore(truncated, tmp_path)
    assert not (tmp_path / "target" / "data").exists() and not (tmp_path / "target" / "config").exists()


async def test_newer_archives_are_refused(archive: Path, tmp_path: Path) -> None:
    newer_hub = rewrite(archive, tmp_path / "newer.tar.gz", manifest=lambda m: {**m, "hub_version": "99.0.0"})
    with pytest.raises(ArchiveError, match=r"made by hub 99\.0\.0, newer than this hub"):
        await restore(newer_hub, tmp_path)
    newer_schema = rewrite(
        archive, tmp_path / "schema.tar.gz", manifest=lambda m: {**m, "schema_revisions": [*m["schema_revisions"], "0999_future"]}
    )
    with pytest.raises(ArchiveError, match="schema is newer than this hub knows.*0999_future"):
        await restore(newer_schema, tmp_path)
    assert not (tmp_path / "target").exists()


async def test_an_older_schema_is_migrated_forward(tmp_path: Path) -> None:
    from alembic import command

    from hub.ops.backup import BackupRequest, create_backup
    from hub.storage.engine import alembic_config

    data = tmp_path / "data"
    engine = create_engine(default_sqlite_url(data))
    async with engine.begin() as connection:
        await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), "0001"))
    await engine.dispose()
    config = write_config(tmp_path / "config", "homeassistant:\n")
    out = tmp_path / "old.tar.gz"
    manifest = await create_backup(BackupRequest(config, data, out), {}, default_sqlite_url(data))
    assert manifest.schema_revisions == ["0001"]

    report = await restore(out, tmp_path)
    engine = create_engine(default_sqlite_url(tmp_path / "target" / "data"))
    async with engine.connect() as connection:
        revisions = set((await connection.execute(text("SELECT version_num FROM alembic_version"))).scalars())
    await engine.dispose()
    assert revisions == known_heads() and report.manifest.schema_revisions == ["0001"]
    assert "0001" in known_revisions()


@pytest.mark.services
async def test_postgresql_backup_restores_into_a_fresh_database(
    tmp_path: Path, start_hub: Any, pg_url: str, postgres_server: Any
) -> None:
    config = make_config(tmp_path / "config", f"storage:\n  db_url: {pg_url}\n")
    runtime = await start_hub(config, tmp_path / "data")
    await populate(runtime)
    archive = tmp_path / "pg.tar.gz"
    code, output = await hub_cli("backup", "-c", str(config), "--data", str(tmp_path / "data"), "--out", str(archive), "--history")
    assert code == 0, output
    assert "postgresql database" in output
    await bootstrap.stop(runtime)

    fresh_url = postgres_server.url(postgres_server.create_database())
    new_config = make_config(tmp_path / "elsewhere", f"storage:\n  db_url: {fresh_url}\n")
    code, output = await hub_cli("restore", str(archive), "-c", str(new_config), "--data", str(tmp_path / "new-data"))
    assert code == 0, output
    restored = await start_hub(new_config, tmp_path / "new-data")
    await assert_same_hub(restored)

    # The database is no longer empty: a second restore into it is refused.
    code, output = await hub_cli("restore", str(archive), "-c", str(new_config), "--data", str(tmp_path / "other-data"))
    assert code == 1 and "restore only into an empty database" in output


async def test_history_export_keeps_to_the_range_and_restores_into_another_backend(tmp_path: Path) -> None:
    from hub.ops.history_io import export_history, import_history
    from hub.recorder.backends.base import Batch, Point
    from hub.recorder.backends.sqlite import SQLiteBackend

    source = SQLiteBackend(tmp_path / "a.db")
    await source.open()
    await source.write(Batch([Point("sensor.p", ts, ts / 100, None) for ts in (100.0, 200.0, 300.0)] + [Point("sensor.mode", 250.0, None, "eco")]))
    counts = await export_history(source, tmp_path / "export", 150.0, 301.0)
    await source.close()
    assert counts["points"] == 3
    target = SQLiteBackend(tmp_path / "b.db")
    await target.open()
    assert await import_history(target, tmp_path / "export") == 3
    restored = await target.read_states(None, 0, 1000)
    await target.close()
    assert [(s.ts, s.value) for s in restored["sensor.p"]] == [(200.0, 2.0), (300.0, 3.0)]
    assert [s.state for s in restored["sensor.mode"]] == ["eco"]
