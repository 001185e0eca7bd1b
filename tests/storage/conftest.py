"""Fixtures of the storage tests: one migrated database per test, on SQLite and PostgreSQL.

The database has the core's tables and those of every built-in integration that keeps some.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.storage.engine import create_engine, default_sqlite_url, migrate, session_factory
from hub.storage.models import Base

ROOT = Path(__file__).resolve().parents[2]
# Built-in integrations that keep tables: package -> the module with their models.
BUILTIN_MODELS = {
    "integrations.energy": "integrations.energy.models",
    "integrations.frontend": "integrations.frontend.models",
    "integrations.http_ingest": "integrations.http_ingest.models",
    "integrations.mqtt": "integrations.mqtt.models",
    "integrations.notify.persistent": "integrations.notify.persistent.models",
    "integrations.relay": "integrations.relay.models",
}
BUILTIN_MIGRATIONS = [ROOT / package.replace(".", "/") / "migrations" / "versions" for package in BUILTIN_MODELS]


def all_metadata() -> list[MetaData]:
    """The core's MetaData and that of every built-in integration that keeps tables."""
    return [Base.metadata, *(importlib.import_module(module).Base.metadata for module in BUILTIN_MODELS.values())]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """URL of an empty database: a SQLite file in tmp_path, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return default_sqlite_url(tmp_path / "data")
    return request.getfixturevalue("pg_url")  # tests/servers.py


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on `db_url` migrated with every built-in integration, disposed after the test."""
    engine = create_engine(db_url)
    try:
        await migrate(engine, BUILTIN_MIGRATIONS)
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)
