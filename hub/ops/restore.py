"""`hub restore`: check an archive, then put config, metadata and history back into an empty place.

Nothing is written before the archive is verified (every checksum) and known to be from this
hub's version or older; an older schema is migrated forward after the database is back.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from hub.exceptions import ConfigError, HubError
from hub.ops import history_io
from hub.ops.archive import ArchiveError, Manifest, check_compatible, read_archive
from hub.ops.backup import libpq_url, sqlite_path
from hub.storage.engine import create_engine, migrate

PG_RESTORE_TIMEOUT = 3600


@dataclass(slots=True)
class RestoreReport:
    """What a restore did."""

    manifest: Manifest
    config_files: list[str] = field(default_factory=list)
    kept_files: list[str] = field(default_factory=list)
    history_points: int = 0


def check_empty_data_dir(data_dir: Path) -> None:
    """Refuse a data directory that holds anything (a restore never merges)."""
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        message = f"the data directory {data_dir} is not empty; restore only into an empty or new directory"
        raise HubError(message)


def restore_config(source: Path, config_dir: Path) -> tuple[list[str], list[str]]:
    """Copy archived config files into config_dir, keeping files already there.

    Returns:
        (restored, kept): relative paths written, and those left as they were.
    """
    restored: list[str] = []
    kept: list[str] = []
    if not source.is_dir():
        return restored, kept
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        relative = path.relative_to(source)
        destination = config_dir / relative
        if destination.exists():
            # A configuration written for the new place (a new db_url, its secrets) wins.
            kept.append(relative.as_posix())
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)
        restored.append(relative.as_posix())
    return restored, kept


async def _check_empty_postgres(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            count = (
                await connection.execute(
                    text("SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()")
                )
            ).scalar_one()
    except Exception as err:  # noqa: BLE001 - report the driver's reason with the target
        message = f"cannot reach the target database {make_url(url).render_as_string()}: {err}"
        raise HubError(message) from err
    finally:
        await engine.dispose()
    if count:
        message = f"the target database {make_url(url).render_as_string()} has {count} tables; restore only into an empty database"
        raise HubError(message)


def pg_restore(dump: Path, url: str) -> None:
    """Load a custom-format dump into an empty PostgreSQL database (blocking)."""
    binary = shutil.which("pg_restore")
    if binary is None:
        raise HubError("pg_restore is not installed (Debian: apt install postgresql-client)")
    result = subprocess.run(  # noqa: S603 - fixed binary, the URL is the operator's own
        [binary, "--no-owner", "--no-privileges", "--exit-on-error", f"--dbname={libpq_url(url)}", str(dump)],
        capture_output=True,
        text=True,
        timeout=PG_RESTORE_TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        message = f"pg_restore failed: {result.stderr.strip() or result.returncode}"
        raise HubError(message)


async def restore_database(manifest: Manifest, staging: Path, db_url: str) -> None:
    """Put the archived metadata database at db_url, then migrate it to this hub's core schema.

    The integrations' branches follow when the hub starts with them enabled.
    """
    kind = manifest.database.get("kind")
    target = make_url(db_url).get_backend_name()
    if kind != target:
        message = (
            f"the archive holds a {kind} metadata database but the configuration points at {target}; "
            "restore into the same kind of database"
        )
        raise HubError(message)
    source = staging / manifest.database["file"]
    loop = asyncio.get_running_loop()
    if kind == "sqlite":
        path = sqlite_path(db_url)
        if path.exists():
            message = f"the metadata database {path} exists already; restore only into an empty place"
            raise HubError(message)
        path.parent.mkdir(parents=True, exist_ok=True)
        await loop.run_in_executor(None, shutil.copyfile, source, path)
    else:
        await _check_empty_postgres(db_url)
        await loop.run_in_executor(None, pg_restore, source, db_url)
    engine = create_engine(db_url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


async def restore_backup(archive: Path, config_dir: Path, data_dir: Path, load_config: Any, database_url: Any) -> RestoreReport:
    """Restore an archive into config_dir and an empty data_dir.

    Args:
        archive: the .tar.gz written by `hub backup`.
        config_dir: where the configuration goes (files already there are kept).
        data_dir: an empty or missing directory.
        load_config: loads the configuration of a directory (hub.config.load_configuration).
        database_url: (config, data_dir) -> metadata database URL (hub.bootstrap.database_url).

    Raises:
        ArchiveError: the archive is corrupt or newer than this hub; nothing was written.
        HubError: the target is not empty or a database tool failed.
    """
    check_empty_data_dir(data_dir)
    with tempfile.TemporaryDirectory(prefix="hub-restore-") as tmp:
        staging = Path(tmp)
        loop = asyncio.get_running_loop()
        manifest = await loop.run_in_executor(None, read_archive, archive, staging)
        check_compatible(manifest, staging / "config")
        restored, kept = restore_config(staging / "config", config_dir)
        report = RestoreReport(manifest, restored, kept)
        try:
            config = load_config(config_dir)
        except ConfigError as err:
            hint = "" if manifest.secrets_included else " (the archive has no secrets.yaml: put yours into the config directory first)"
            message = f"the restored configuration does not load{hint}: {err}"
            raise HubError(message) from err
        data_dir.mkdir(parents=True, exist_ok=True)
        await restore_database(manifest, staging, database_url(config, data_dir))
        if manifest.history is not None:
            backend = history_io.open_backend(config, data_dir)
            if backend is None:
                raise ArchiveError("the archive holds history but the configuration has no recorder: section")
            await backend.open()
            try:
                report.history_points = await history_io.import_history(backend, staging / "history")
            finally:
                await backend.close()
    return report
