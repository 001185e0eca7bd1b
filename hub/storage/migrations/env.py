"""Alembic environment of the hub's database: the core's revisions and every integration's.

The core's revisions are in `versions/` here; each integration that keeps tables has its own
version folder (`<integration>/migrations/versions/`), passed as a version location. They all
share this environment and the one `alembic_version` table, one branch each.

Three ways in:
* the hub (`hub.storage.engine.migrate`) passes an open sync `Connection` in
  `config.attributes["connection"]`; migrations run on it, inside the caller's transaction;
* developers run the `alembic` command with `-c hub/storage/migrations/alembic.ini`
  (online: an async engine made from `HUB_DATABASE_URL` or the ini's `sqlalchemy.url`);
* `--sql` (offline) renders the SQL without a database.

SQLite uses batch mode (`render_as_batch`), since it cannot ALTER most things in place.
"""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection, make_url

from hub.storage.models import Base

config = context.config
target_metadata = Base.metadata

# Only the alembic command line (an ini file) configures logging; the hub has its own.
if config.config_file_name is not None and config.attributes.get("connection") is None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    url = os.environ.get("HUB_DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("Set HUB_DATABASE_URL or sqlalchemy.url to run migrations")
    return url


def _only_core_tables(name: str | None, type_: str, parent_names: object) -> bool:
    # Autogenerate compares against the core's models only: the integrations' tables in the
    # same database are theirs, not tables the core should drop.
    return type_ != "table" or name in target_metadata.tables


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        include_name=_only_core_tables,
        **kwargs,  # type: ignore[arg-type]
    )


def run_migrations_offline() -> None:
    """Render the migrations as SQL (`alembic upgrade head --sql`)."""
    url = make_url(_url())
    _configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.get_backend_name() == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    from hub.storage.engine import create_engine

    engine = create_engine(_url(), poolclass=pool.NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        do_run_migrations(connection)
    else:
        asyncio.run(run_async_migrations())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
