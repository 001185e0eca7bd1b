"""A single-home install on PostgreSQL whose role owns the tables (the usual setup) keeps working
under FORCE ROW LEVEL SECURITY: its sessions are scoped to the default home."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from hub import bootstrap
from hub.core.states import State
from hub.storage.engine import create_engine

pytestmark = pytest.mark.services


async def test_a_single_home_hub_as_the_owner_role_sees_and_keeps_its_rows(pg_url: str, tmp_path: Path) -> None:
    role = f"hub_single_{secrets.token_hex(4)}"
    database = make_url(pg_url).database
    superuser = create_engine(pg_url)
    try:
        async with superuser.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            for statement in (f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOBYPASSRLS',
                              f'ALTER DATABASE "{database}" OWNER TO "{role}"',
                              f'ALTER SCHEMA public OWNER TO "{role}"'):
                await connection.exec_driver_sql(statement)
    finally:
        await superuser.dispose()
    url = make_url(pg_url).set(username=role).render_as_string(hide_password=False)
    config = tmp_path / "config"
    config.mkdir()
    (config / "configuration.yaml").write_text(f"storage:\n  db_url: {url}\n")

    runtime = await bootstrap.start(config, tmp_path / "data", port=0)
    try:
        hub = runtime.hub
        await hub.require_auth().add_user("owner", "correct horse battery", "owner")
        entry = await hub.require_entity_registry().get_or_create("sensor", "test", "meter_power")
        hub.states.restore(State(entry.entity_id, "42", {}))
    finally:
        await bootstrap.stop(runtime)  # saves the restore states

    runtime = await bootstrap.start(config, tmp_path / "data", port=0)
    try:
        hub = runtime.hub
        assert [user.name for user in await hub.require_auth().list_users()] == ["owner"]
        assert hub.states.get(entry.entity_id).state == "42"
    finally:
        await bootstrap.stop(runtime)
    registered, _ = await bootstrap._registered_entity_ids(url, tmp_path / "data")
    assert registered == {entry.entity_id}
