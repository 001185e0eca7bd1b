"""Engines, sessions and schema migrations of the hub's database."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection, Executable, Table, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from hub.exceptions import HubError
from hub.imports import without_modules
from hub.storage import pool_log
from hub.storage.private_files import create_private_file

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_REVISION_LINE = re.compile(r'^(down_revision|revision)\b[^=]*=\s*(.+)$', re.MULTILINE)
SQLITE_FILENAME = "hub.db"


class MigrationError(HubError):
    """The schema migrations cannot run as found (two version files claim one revision id)."""


def default_sqlite_url(data_dir: Path) -> str:
    """The URL of the hub's SQLite database file inside `data_dir`."""
    return f"sqlite+aiosqlite:///{(Path(data_dir).expanduser().resolve() / SQLITE_FILENAME).as_posix()}"


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An `AsyncEngine` for `url` (`sqlite+aiosqlite:///...` or `postgresql+asyncpg://...`).

    SQLite connections get WAL journaling, `synchronous=NORMAL` and enforced foreign keys, and
    the directory of the database file is created (0700), and the file itself 0600 (SQLite
    gives its WAL and shared-memory files the same mode). Extra keyword arguments go to
    `create_async_engine`.
    """
    pool_log.install()
    sa_url = make_url(url)
    # orjson parses the JSON columns (attributes, identifiers) several times faster at start.
    kwargs.setdefault("json_serializer", _json_dumps)
    kwargs.setdefault("json_deserializer", orjson.loads)
    if sa_url.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return create_async_engine(sa_url, **kwargs)

    database = sa_url.database or ""
    in_memory = database in ("", ":memory:") or sa_url.query.get("mode") == "memory"
    if not in_memory and not database.startswith("file:"):
        create_private_file(Path(database).expanduser())
    engine = create_async_engine(sa_url, **kwargs)
    event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
    return engine


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _sqlite_on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """A session factory for `engine`; objects are not expired on commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


def import_alembic() -> None:
    """Import Alembic (only when a migration is due), without the syntax highlighter it would pull in.

    Alembic imports Mako (its revision-file templates), which imports Pygments when installed
    to highlight its HTML error pages: ~5 MB and 40 modules that no migration uses, for good
    in a hub that migrated a new database at start (hub/imports.py).
    """
    if "alembic.command" in sys.modules:
        return
    with without_modules("pygments"):
        import alembic.command
        import alembic.config
        import alembic.migration  # noqa: F401 - imported for the functions below


def alembic_config(connection: Connection | None = None, version_locations: Iterable[Path] = ()) -> Config:
    """An Alembic `Config` built in code (no alembic.ini) for the hub's migrations.

    Args:
        connection: an open sync connection the migrations run on (in its transaction).
        version_locations: integrations' version folders, migrated along with the core's.
    """
    import_alembic()
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", MIGRATIONS_DIR.as_posix())
    config.set_main_option("path_separator", "os")
    folders = _locations(version_locations)
    config.set_main_option("version_locations", os.pathsep.join(folder.as_posix() for folder in folders))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def migrate(engine: AsyncEngine, version_locations: Iterable[Path] = ()) -> None:
    """Bring the core schema and the given integrations' schemas to their newest revisions.

    This is `alembic upgrade heads` over the core's version folder plus `version_locations`:
    the core and each integration are independent branches. Rows of `alembic_version` that
    belong to none of them (an integration that is disabled or uninstalled now) are kept as
    they are. When every branch is at its head already, Alembic is not even imported.

    Raises:
        MigrationError: two version files declare the same revision id.
    """
    folders = _locations(version_locations)
    chains = read_chains(folders)
    async with engine.connect() as connection:
        if await connection.run_sync(_is_current, chains):
            return
    async with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite's batch mode recreates a table to alter it: with foreign keys enforced, the
            # DROP of the old one would cascade to the rows referring to it (tokens of users,
            # entities' devices). Off for the migration (only possible outside a transaction),
            # checked at its end, on again before the connection goes back to the pool.
            await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await connection.commit()
        try:
            async with connection.begin():
                await connection.run_sync(_upgrade_heads, folders, chains)
                if sqlite:
                    broken = (await connection.exec_driver_sql("PRAGMA foreign_key_check")).all()
                    if broken:
                        message = f"the migration left rows whose references are broken: {broken[:5]}"
                        raise MigrationError(message)
        finally:
            if sqlite:
                await connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                await connection.commit()


def _locations(version_locations: Iterable[Path]) -> list[Path]:
    folders = [MIGRATIONS_DIR / "versions"]
    for folder in version_locations:
        folder = Path(folder).resolve()
        if folder not in folders:
            folders.append(folder)
    return folders


def _upgrade_heads(connection: Connection, folders: list[Path], chains: Chains) -> None:
    import_alembic()
    from alembic import command

    # Alembic refuses to work with a version row it has no script for. Rows of integrations
    # that are not enabled now step aside during the upgrade and come back unchanged after it.
    foreign = _version_rows(connection) - chains.revisions
    if foreign:
        connection.execute(
            text("DELETE FROM alembic_version WHERE version_num = :row"), [{"row": row} for row in sorted(foreign)]
        )
    command.upgrade(alembic_config(connection, folders), "heads")
    if foreign:
        connection.execute(
            text("INSERT INTO alembic_version (version_num) VALUES (:row)"), [{"row": row} for row in sorted(foreign)]
        )


@dataclass(frozen=True, slots=True)
class Chains:
    """The revisions found in a set of version folders, and the newest of each branch."""

    revisions: frozenset[str]
    heads: frozenset[str]


def read_chains(version_locations: Iterable[Path]) -> Chains:
    """Read the revision ids of every version file in the folders, without importing Alembic.

    Reading the files directly lets a hub whose database is current start without importing
    Alembic at all (it is the largest import of a start). `revision` and `down_revision` must
    each be written on one line, as Alembic's template does.

    Raises:
        MigrationError: two files declare the same revision id (ids are shared by every branch).
    """
    defined: dict[str, Path] = {}
    parents: set[str] = set()
    for folder in version_locations:
        for path in sorted(Path(folder).glob("*.py")):
            for key, value in _REVISION_LINE.findall(path.read_text()):
                names = set(re.findall(r'"([^"]+)"', value))
                if key == "down_revision":
                    parents.update(names)
                    continue
                for name in names:
                    if name in defined and defined[name] != path:
                        message = f"revision {name!r} is defined twice: in {defined[name]} and in {path}"
                        raise MigrationError(message)
                    defined[name] = path
    revisions = frozenset(defined)
    return Chains(revisions, revisions - parents)


def known_heads(version_locations: Iterable[Path] = ()) -> set[str]:
    """Return the newest revision of the core branch and of each given integration's branch."""
    return set(read_chains(_locations(version_locations)).heads)


def known_revisions(version_locations: Iterable[Path] = ()) -> set[str]:
    """Return every revision of the core and of the given integrations' version folders."""
    return set(read_chains(_locations(version_locations)).revisions)


def _version_rows(connection: Connection) -> set[str]:
    if not inspect(connection).has_table("alembic_version"):
        return set()
    return set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


def _is_current(connection: Connection, chains: Chains) -> bool:
    try:
        rows = set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
    except Exception:  # noqa: BLE001 - no version table yet: a new database
        return False
    # Every branch at its head; rows of integrations not in use now do not count.
    return chains.heads <= rows and not (rows - chains.heads) & chains.revisions


def current_revisions(connection: Connection) -> set[str]:
    """Return the revisions (one per branch) the database at `connection` is at (sync)."""
    import_alembic()
    from alembic.migration import MigrationContext

    return set(MigrationContext.configure(connection).get_current_heads())


def upsert_statement(dialect_name: str, table: Table, key_columns: Sequence[str]) -> Executable:
    """`INSERT ... ON CONFLICT (key_columns) DO UPDATE` of every other column of `table`.

    Execute it with a list of parameter dicts (executemany). Supported on SQLite and
    PostgreSQL; other dialects raise NotImplementedError (callers fall back to delete+insert).
    Parameter sets must not repeat a key: deduplicate before executing.
    """
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        pg_stmt = pg_insert(table)
        return pg_stmt.on_conflict_do_update(
            index_elements=list(key_columns),
            set_={c.name: pg_stmt.excluded[c.name] for c in table.c if c.name not in key_columns},
        )
    if dialect_name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        lite_stmt = sqlite_insert(table)
        return lite_stmt.on_conflict_do_update(
            index_elements=list(key_columns),
            set_={c.name: lite_stmt.excluded[c.name] for c in table.c if c.name not in key_columns},
        )
    raise NotImplementedError(f"no upsert for dialect {dialect_name!r}")


__all__ = [
    "MIGRATIONS_DIR",
    "Chains",
    "MigrationError",
    "alembic_config",
    "create_engine",
    "current_revisions",
    "default_sqlite_url",
    "known_heads",
    "known_revisions",
    "migrate",
    "read_chains",
    "session_factory",
    "upsert_statement",
]
