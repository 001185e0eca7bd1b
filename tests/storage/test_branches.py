"""The core and each integration that keeps tables migrate as independent branches of one chain."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import ForeignKey, String, inspect, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from hub import bootstrap
from hub.storage import TYPE_ANNOTATION_MAP, Base, new_metadata
from hub.storage.engine import MigrationError, create_engine, default_sqlite_url, known_heads, migrate
from hub.storage.models import UserRow

from .conftest import BUILTIN_MIGRATIONS, ROOT

RELAY = ROOT / "integrations" / "relay" / "migrations" / "versions"
INTEGRATION_TABLES = {
    "relay_commands", "device_api_keys", "energy_state", "persistent_notifications", "frontend_charts", "mqtt_discovery",
}

# A third party's table with a foreign key to the core's users: its base revision depends on
# the core revision that made that table.
FAVOURITES = '''\
"""Favourites: favourites_entities.

Revision ID: favourites_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "favourites_0001"
down_revision = None
branch_labels = ("favourites",)
depends_on = "0001"


def upgrade() -> None:
    op.create_table(
        "favourites_entities",
        sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("entity_id", sa.String(255), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("favourites_entities")
'''


class FavouritesBase(DeclarativeBase):
    metadata = new_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


class FavouriteRow(FavouritesBase):
    """The model of that table: its foreign key names the core's column object."""

    __tablename__ = "favourites_entities"

    user_id: Mapped[str] = mapped_column(String(36), ForeignKey(UserRow.id, ondelete="CASCADE"), primary_key=True)
    entity_id: Mapped[str] = mapped_column(String(255), primary_key=True)


def favourites(folder: Path) -> Path:
    """Write the favourites integration's version folder; return it."""
    versions = folder / "migrations" / "versions"
    versions.mkdir(parents=True)
    (versions / "favourites_0001_entities.py").write_text(FAVOURITES)
    return versions


async def _tables_and_rows(engine) -> tuple[set[str], set[str]]:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        rows = set((await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars())
    return tables, rows


@pytest.fixture
async def bare_engine(db_url: str):  # type: ignore[no-untyped-def]
    """An engine on an empty database."""
    engine = create_engine(db_url)
    yield engine
    await engine.dispose()


async def test_the_core_alone_makes_no_integration_tables(bare_engine) -> None:  # type: ignore[no-untyped-def]
    await migrate(bare_engine)
    tables, rows = await _tables_and_rows(bare_engine)
    assert {"users", "tokens", "devices", "entities", "restore_states", "audit_log", "auth_revocations", "auth_login_failures", "auth_ip_bans"} <= tables
    assert not tables & INTEGRATION_TABLES
    assert rows == known_heads() == {"0009_tenancy"}


async def test_rows_of_an_integration_not_enabled_now_are_kept(bare_engine) -> None:  # type: ignore[no-untyped-def]
    await migrate(bare_engine, [RELAY])
    tables, rows = await _tables_and_rows(bare_engine)
    assert "relay_commands" in tables and rows == {"0009_tenancy", "relay_0003_tenancy"}

    # Relay disabled, another integration enabled: Alembic runs, relay's row stays as it was.
    await migrate(bare_engine, [ROOT / "integrations" / "energy" / "migrations" / "versions"])
    tables, rows = await _tables_and_rows(bare_engine)
    assert {"relay_commands", "energy_state"} <= tables
    assert rows == {"0009_tenancy", "relay_0003_tenancy", "energy_0002_tenancy"}

    await migrate(bare_engine, [RELAY])  # back again: current, nothing to do
    assert (await _tables_and_rows(bare_engine))[1] == {"0009_tenancy", "relay_0003_tenancy", "energy_0002_tenancy"}


async def test_a_branch_depending_on_the_core_gets_its_foreign_key(bare_engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    versions = favourites(tmp_path / "favourites")
    await migrate(bare_engine, [versions])
    tables, rows = await _tables_and_rows(bare_engine)
    assert "favourites_entities" in tables
    assert rows == known_heads([versions]) == {"0009_tenancy", "favourites_0001"}
    async with bare_engine.connect() as conn:
        keys = await conn.run_sync(lambda c: inspect(c).get_foreign_keys("favourites_entities"))
        diff = await conn.run_sync(
            lambda c: compare_metadata(
                MigrationContext.configure(c, opts={"compare_type": True}), [Base.metadata, FavouritesBase.metadata]
            )
        )
    assert [(key["referred_table"], key["referred_columns"]) for key in keys] == [("users", ["id"])]
    assert diff == []


def test_two_files_with_one_revision_id_are_refused(tmp_path: Path) -> None:
    versions = favourites(tmp_path / "a")
    (versions / "copy.py").write_text(FAVOURITES)
    with pytest.raises(MigrationError, match="revision 'favourites_0001' is defined twice"):
        known_heads([versions])


def test_a_current_database_starts_without_importing_alembic(tmp_path: Path) -> None:
    url = default_sqlite_url(tmp_path)
    program = textwrap.dedent(
        f"""
        import asyncio, sys
        from pathlib import Path
        from hub.storage.engine import create_engine, migrate

        async def main():
            engine = create_engine({url!r})
            await migrate(engine, [Path(p) for p in {[str(p) for p in BUILTIN_MIGRATIONS]!r}])
            await engine.dispose()

        asyncio.run(main())
        print("alembic" in sys.modules)
        """
    )

    def run() -> str:
        result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
        return result.stdout.strip()

    assert run() == "True"  # a new database: Alembic creates it
    assert run() == "False"  # current: read from the version files, Alembic never imported


CUSTOM = """
from hub import hookimpl

@hookimpl
def setup_integration(hub, config):
    pass
"""


async def test_a_custom_integration_folder_brings_its_migrations(tmp_path: Path) -> None:
    config = tmp_path / "config"
    folder = config / "custom_integrations" / "favourites"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text(CUSTOM)
    favourites(folder)
    (config / "configuration.yaml").write_text("favourites:\n")
    runtime = await bootstrap.start(config, tmp_path / "data", port=0)
    try:
        async with runtime.hub.db() as session:
            rows = set((await session.execute(text("SELECT version_num FROM alembic_version"))).scalars())
            await session.execute(text("SELECT user_id, entity_id FROM favourites_entities"))
    finally:
        await bootstrap.stop(runtime)
    assert rows == {"0009_tenancy", "favourites_0001"}
