"""Stand-in for home-scoped sessions until rows carry a home id: one PostgreSQL schema per home.

Each home's tables live in a schema of their own (`home_<tenant>_<home>`), reached through an
engine whose connections search that schema only, so a home's registries, keys and commands
cannot meet another's. At merge, `home_sessions` becomes hub/storage/scoped.py's
`scoped_sessions(engine, scope)` over the process's one engine, and this file goes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from hub.core.scope import HomeScope
from hub.storage.engine import create_engine, migrate


def schema_name(scope: HomeScope) -> str:
    """The schema of a home's tables (ids are lower-case words, see hub/homes/config.py)."""
    return f"home_{scope.tenant_id}_{scope.home_id}".replace("-", "_")


async def open_home_engine(shared: Any, url: str, scope: HomeScope, migrations: Sequence[Path]) -> Any:
    """Create the home's schema if needed, migrate it and return an engine bound to it."""
    schema = schema_name(scope)
    async with shared.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    engine = create_engine(
        make_url(url).render_as_string(hide_password=False),
        connect_args={"server_settings": {"search_path": schema}},
        pool_size=2,
        max_overflow=4,
    )
    await migrate(engine, migrations)
    return engine
