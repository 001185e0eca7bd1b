"""Fixtures of the storage tests: one migrated database per test, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.storage.engine import create_engine, default_sqlite_url, migrate, session_factory


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """URL of an empty database: a SQLite file in tmp_path, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return default_sqlite_url(tmp_path / "data")
    return request.getfixturevalue("pg_url")  # tests/servers.py


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """A migrated engine on `db_url`, disposed after the test."""
    engine = create_engine(db_url)
    try:
        await migrate(engine)
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)
