"""Partition upkeep while the history is served as the application role (real PostgreSQL, the roles of
tests/pg_roles.py): the role that reads and writes the rows is not the tables' owner, so the schema,
the partitions made ahead and the expired ones dropped go through the owner's connection
(`recorder: migrate_url`); the application role itself can drop or unsecure no partition."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from hub.recorder.backends.base import BackendError, Batch, Point
from hub.recorder.backends.pg_pool import PoolRegistry
from hub.recorder.backends.postgres import PostgresBackend
from hub.storage.engine import create_engine, migrate
from hub.storage.rls import grant_app_role
from hub.tenancy.plans import DAY
from tests.pg_roles import Roles, make_roles
from tests.tenancy.test_plans_partitions import FLAT, NOW, RETENTIONS, SHOP, Clock, partitions, retention_job

pytestmark = pytest.mark.services


async def _roles(pg_url: str) -> Roles:
    """The owner migrates and grants the application role, as `hub db grant-app-role` does."""
    roles = await make_roles(pg_url)
    owner = create_engine(roles.owner_url)
    try:
        await migrate(owner)
        await grant_app_role(owner, roles.app_role)
    finally:
        await owner.dispose()
    return roles


def _day(ts: float) -> str:
    return f"{datetime.fromtimestamp(ts, UTC):%Y%m%d}"


async def test_the_app_role_serves_history_while_the_owner_makes_and_drops_partitions(
        pg_url: str, tmp_path: Path) -> None:
    roles = await _roles(pg_url)
    pools = PoolRegistry()
    clock = Clock(NOW - 40 * DAY)

    # Without the owner the application role cannot even create the tables: the error says what to set.
    alone = PostgresBackend(roles.app_url, scope=FLAT, plan="free", retentions=RETENTIONS, pools=pools, clock=clock)
    with pytest.raises(BackendError, match="recorder: migrate_url"):
        await alone.open()
    assert pools.open_pools() == []

    homes = [PostgresBackend(roles.app_url, scope=scope, plan="free", retentions=RETENTIONS, pools=pools, clock=clock,
                             owner_url=roles.owner_url) for scope in (FLAT, SHOP)]
    try:
        for backend in homes:
            await backend.open()
        for step in range(5):  # eight days at a time, as the days pass
            start = NOW - (40 - 8 * step) * DAY
            clock.now = start + 8 * DAY
            for n, backend in enumerate(homes):
                await backend.write(Batch([Point("sensor.power", start + i * 6 * 3600, float(n), None)
                                           for i in range(8 * 4)]))
        clock.now = NOW
        before = await partitions(pg_url, "history_raw_p_free")
        assert f"history_raw_p_free_{_day(NOW - 38 * DAY)}" in before
        for backend in homes:
            await retention_job(backend, "free", clock, tmp_path).purge()
        after = await partitions(pg_url, "history_raw_p_free")
        # Expired days dropped (the free plan keeps 30), today's and the next two made ahead.
        assert f"history_raw_p_free_{_day(NOW - 38 * DAY)}" not in after
        assert not {name for name in after if name[-8:].isdigit() and name[-8:] < _day(NOW - 31 * DAY)}
        assert {f"history_raw_p_free_{_day(NOW + d * DAY)}" for d in range(3)} <= after
        # Each home still reads its 30 days, as the application role.
        found = await homes[0].read_states(None, 0, NOW + DAY)
        assert {s.value for s in found["sensor.power"]} == {0.0}
        assert min(s.ts for s in found["sensor.power"]) >= NOW - 31 * DAY

        admin = await asyncpg.connect(pg_url.replace("+asyncpg", ""))
        try:
            owners = {row[0] for row in await admin.fetch(
                "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname LIKE 'history_%'")}
        finally:
            await admin.close()
        assert owners == {roles.owner_role}  # every table and partition is the owner's, none the app's

        # The application role can drop, detach or unsecure no partition, nor make one.
        app = await asyncpg.connect(roles.app_url.replace("+asyncpg", ""))
        try:
            today = f"history_raw_p_free_{_day(NOW)}"
            for statement in (f"DROP TABLE {today}",
                              f"ALTER TABLE history_raw_p_free DETACH PARTITION {today}",
                              f"ALTER TABLE {today} NO FORCE ROW LEVEL SECURITY",
                              "CREATE TABLE history_raw_p_free_29990101 PARTITION OF history_raw_p_free "
                              "FOR VALUES FROM ('2999-01-01') TO ('2999-01-02')"):
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await app.execute(statement)
        finally:
            await app.close()
        assert today in await partitions(pg_url, "history_raw_p_free")
    finally:
        for backend in homes:
            await backend.close()
    assert pools.open_pools() == []
