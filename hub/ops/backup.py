"""`hub backup`: one archive with the configuration, the metadata database and, if asked, history.

Safe while the hub runs: SQLite is copied with sqlite3's online backup API (a consistent
snapshot even while the hub writes), PostgreSQL with `pg_dump` (one transaction), history
through the recorder backend's own queries.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from hub import __version__
from hub.exceptions import HubError
from hub.ops import history_io
from hub.ops.archive import Manifest, write_archive
from hub.storage.engine import create_engine

_LOGGER = logging.getLogger(__name__)

SECRETS_FILE = "secrets.yaml"
# Never part of the configuration copy: the default data dir, caches, and version control.
SKIPPED_NAMES = frozenset({".storage", "__pycache__", ".git", ".venv"})
PG_DUMP_TIMEOUT = 3600


@dataclass(slots=True)
class BackupRequest:
    """What to back up and where to."""

    config_dir: Path
    data_dir: Path
    out: Path
    history: bool = False
    since: float | None = None
    until: float | None = None
    include_secrets: bool = False


def copy_config(config_dir: Path, target: Path, *, data_dir: Path, out: Path, include_secrets: bool) -> list[str]:
    """Copy the configuration directory into target; return the files left out and why."""
    skipped: list[str] = []
    excluded = {data_dir.resolve(), out.resolve()}
    for path in sorted(config_dir.rglob("*")):
        relative = path.relative_to(config_dir)
        if any(part in SKIPPED_NAMES for part in relative.parts) or any(
            path.resolve() == e or e in path.resolve().parents for e in excluded
        ):
            continue
        if relative.as_posix() == SECRETS_FILE and not include_secrets:
            skipped.append(f"{SECRETS_FILE} (secrets are left out unless --include-secrets)")
            continue
        if path.is_file() and not path.is_symlink():
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
    return skipped


def sqlite_path(url: str) -> Path:
    """Return the file of a SQLite database URL."""
    database = make_url(url).database
    if not database or database == ":memory:":
        message = f"cannot back up an in-memory SQLite database ({url})"
        raise HubError(message)
    return Path(database)


def copy_sqlite(source: Path, destination: Path) -> None:
    """Copy a live SQLite database consistently with the online backup API (blocking)."""
    if not source.exists():
        message = f"the metadata database {source} does not exist; has the hub ever run with this --data?"
        raise HubError(message)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(destination)
    try:
        # Pages are copied in steps; a write by the hub in between restarts the copy, so the
        # result is one consistent snapshot.
        src.backup(dst, pages=1024)
    finally:
        dst.close()
        src.close()


def libpq_url(url: str) -> str:
    """Return a SQLAlchemy PostgreSQL URL as libpq understands it (no +driver)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def pg_dump(url: str, destination: Path) -> None:
    """Dump a PostgreSQL database in pg_dump's custom format (blocking)."""
    binary = shutil.which("pg_dump")
    if binary is None:
        raise HubError("pg_dump is not installed (Debian: apt install postgresql-client)")
    # Tables have FORCE ROW LEVEL SECURITY: a role it binds dumps the one (default) home it
    # serves (pg_rls_scope refuses when there are more); a superuser or BYPASSRLS role, all.
    env = {**os.environ, "PGOPTIONS": "-c app.tenant_id=default -c app.home_id=default"}
    result = subprocess.run(  # noqa: S603 - fixed binary, the URL is the operator's own
        [binary, "--format=custom", "--no-owner", "--no-privileges", "--enable-row-security",
         f"--file={destination}", f"--dbname={libpq_url(url)}"],
        capture_output=True,
        text=True,
        timeout=PG_DUMP_TIMEOUT,
        check=False,
        env=env,
    )
    if result.returncode != 0:
        message = f"pg_dump failed: {result.stderr.strip() or result.returncode}"
        raise HubError(message)


async def check_dump_role(url: str) -> None:
    """Refuse to dump with a role row-level security binds when the database holds several homes.

    Such a role sees only the home it is scoped to, so the archive would miss the others.
    """
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            free = (await connection.execute(text(
                "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"))).scalar_one()
            if free:
                return
            # The owner sees every home (its own policy); an application role sees none unscoped.
            homes = (await connection.execute(text("SELECT count(*) FROM homes"))).scalar_one()
    finally:
        await engine.dispose()
    if homes != 1:
        message = (
            "this database role is bound by row-level security and the database holds several homes "
            "(or this role cannot see them): back up with a superuser or BYPASSRLS role as storage: db_url"
        )
        raise HubError(message)


async def schema_revisions(url: str) -> list[str]:
    """Return the migration revisions the database is at."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
            return sorted(row[0] for row in rows)
    except Exception as err:  # noqa: BLE001 - a database without the table is not a hub's
        message = f"cannot read the schema version of {make_url(url).render_as_string()}: {err}"
        raise HubError(message) from err
    finally:
        await engine.dispose()


async def create_backup(request: BackupRequest, config: dict[str, Any], db_url: str) -> Manifest:
    """Write the backup archive request.out and return its manifest.

    Args:
        request: what to back up and where.
        config: the loaded configuration (for the recorder section).
        db_url: the metadata database URL.

    Raises:
        HubError: the database, pg_dump or the history backend failed; no archive is left.
    """
    loop = asyncio.get_running_loop()
    revisions = await schema_revisions(db_url)
    backend = make_url(db_url).get_backend_name()
    with tempfile.TemporaryDirectory(prefix="hub-backup-") as tmp:
        staging = Path(tmp)
        skipped = copy_config(
            request.config_dir, staging / "config", data_dir=request.data_dir, out=request.out,
            include_secrets=request.include_secrets,
        )
        (staging / "database").mkdir()
        if backend == "sqlite":
            database = {"kind": "sqlite", "file": "database/hub.db"}
            await loop.run_in_executor(None, copy_sqlite, sqlite_path(db_url), staging / "database" / "hub.db")
        elif backend == "postgresql":
            database = {"kind": "postgresql", "file": "database/hub.pgdump", "format": "custom"}
            await check_dump_role(db_url)
            await loop.run_in_executor(None, pg_dump, db_url, staging / "database" / "hub.pgdump")
        else:
            message = f"backup supports SQLite and PostgreSQL metadata databases, not {backend}"
            raise HubError(message)
        history = None
        if request.history:
            history = await _export_history(request, config, staging / "history")
        manifest = Manifest(
            hub_version=__version__,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            schema_revisions=revisions,
            database=database,
            history=history,
            secrets_included=request.include_secrets,
        )
        await loop.run_in_executor(None, write_archive, request.out, staging, manifest)
    for note in skipped:
        _LOGGER.info("Left out of the backup: %s", note)
    return manifest


async def _export_history(request: BackupRequest, config: dict[str, Any], folder: Path) -> dict[str, Any]:
    backend = history_io.open_backend(config, request.data_dir)
    if backend is None:
        raise HubError("--history needs the recorder: configuration.yaml has no recorder: section")
    since = request.since if request.since is not None else 0.0
    until = request.until if request.until is not None else time.time() + 1
    await backend.open()
    try:
        counts = await history_io.export_history(backend, folder, since, until)
    finally:
        await backend.close()
    return {"backend": backend.name, "since": since, "until": until, **counts}


def prune(folder: Path, keep: int, pattern: str = "hub-backup-*.tar.gz") -> list[Path]:
    """Delete all but the newest `keep` archives matching pattern in folder; return the deleted."""
    # Names carry the UTC time they were made (hub-backup-20260101T030000Z.tar.gz), so they sort.
    archives = sorted(folder.glob(pattern), key=lambda p: p.name)
    doomed = archives[: max(0, len(archives) - keep)]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed
