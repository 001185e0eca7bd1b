"""Engines, sessions and schema migrations of the hub's database."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import re
from typing import TYPE_CHECKING

import orjson
from sqlalchemy import Connection, Executable, Table, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_REVISION_LINE = re.compile(r'^(down_revision|revision)\b[^=]*=\s*(.+)$', re.MULTILINE)
SQLITE_FILENAME = "hub.db"


def default_sqlite_url(data_dir: Path) -> str:
    """The URL of the hub's SQLite database file inside `data_dir`."""
    return f"sqlite+aiosqlite:///{(Path(data_dir).expanduser().resolve() / SQLITE_FILENAME).as_posix()}"


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An `AsyncEngine` for `url` (`sqlite+aiosqlite:///...` or `postgresql+asyncpg://...`).

    SQLite connections get WAL journaling, `synchronous=NORMAL` and enforced foreign keys, and
    the directory of the database file is created. Extra keyword arguments go to
    `create_async_engine`.
    """
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
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
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


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic `Config` built in code (no alembic.ini) for the hub's migrations."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", MIGRATIONS_DIR.as_posix())
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def migrate(engine: AsyncEngine) -> None:
    """Bring the database schema of `engine` to the newest revisions (`alembic upgrade heads`).

    Each feature area adds its tables in its own revision branching from the initial schema,
    so upgrading to every head keeps them independent.
    """
    async with engine.connect() as connection:
        if await connection.run_sync(_is_current):
            return
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade_head)


def _upgrade_head(connection: Connection) -> None:
    from alembic import command

    command.upgrade(alembic_config(connection), "heads")


def known_heads() -> set[str]:
    """Return the newest revision of each migration branch, read from the version files.

    Reading the files directly lets a hub whose database is current start without importing
    Alembic at all (it is the largest import of a start).
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        for key, value in _REVISION_LINE.findall(path.read_text()):
            names = set(re.findall(r'"([^"]+)"', value))
            (revisions if key == "revision" else parents).update(names)
    return revisions - parents


def _is_current(connection: Connection) -> bool:
    try:
        rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except Exception:  # noqa: BLE001 - no version table yet: a new database
        return False
    return set(rows) == known_heads()


def current_revisions(connection: Connection) -> set[str]:
    """Return the revisions (one per branch) the database at `connection` is at (sync)."""
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
    "alembic_config",
    "create_engine",
    "current_revisions",
    "default_sqlite_url",
    "migrate",
    "session_factory",
    "upsert_statement",
]
