"""The homes of a process share one PostgreSQL history pool per URL (real PostgreSQL)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from hub.core.hub import Hub, HubConfig
from hub.core.scope import HomeScope
from hub.recorder import BUILTIN_BACKENDS
from hub.recorder.backends.base import Batch, Point
from hub.recorder.backends.pg_pool import POOLS, PoolRegistry
from hub.recorder.backends.postgres import PostgresBackend
from hub.recorder.config import CONFIG_SCHEMA

pytestmark = pytest.mark.services

NOW = 1_750_032_000.0


async def connections(pg_url: str) -> int:
    """Client connections to the test's database, as PostgreSQL counts them (pg_stat_activity).

    Only client backends: an autovacuum worker analysing the new partitions has the database too.
    """
    admin = await asyncpg.connect(pg_url.replace("+asyncpg", "").rsplit("/", 1)[0] + "/postgres")
    try:
        database = pg_url.rsplit("/", 1)[1]
        count: int = await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'", database
        )
        return count
    finally:
        await admin.close()


async def settled(pg_url: str, expected: int) -> int:
    """The count once closed connections have gone (a backend ends a moment after its client)."""
    for _ in range(50):
        found = await connections(pg_url)
        if found == expected:
            return found
        await asyncio.sleep(0.05)
    return found


async def test_homes_on_one_url_share_one_pool_and_the_last_closes_it(pg_url: str) -> None:
    pools = PoolRegistry()
    homes = [PostgresBackend(pg_url, scope=HomeScope("acme", f"flat{n}"), plan="free", pool_size=3, pools=pools,
                             clock=lambda: NOW) for n in range(12)]
    try:
        for backend in homes:
            await backend.open()
        (shared,) = pools.open_pools()
        assert shared.users == 12
        # Every home writes at once: twelve homes, three connections at most.
        await asyncio.gather(*(backend.write(Batch([Point("sensor.power", NOW + i, float(n), None) for i in range(50)]))
                               for n, backend in enumerate(homes)))
        assert 1 <= await connections(pg_url) <= 3
        # Each transaction set its home: every home reads its own 50 points, and only them.
        for n, backend in enumerate(homes):
            found = await backend.read_states(None, NOW, NOW + 60)
            assert {s.value for s in found["sensor.power"]} == {float(n)} and len(found["sensor.power"]) == 50

        for backend in homes[:-1]:
            await backend.close()
        assert pools.open_pools() == [shared] and shared.users == 1
        await homes[-1].write(Batch([Point("sensor.power", NOW + 100, 11.0, None)]))  # the last home goes on
        await homes[-1].close()
        assert pools.open_pools() == []
    finally:
        for backend in homes:  # a failed assertion leaves no connection to the next test
            await backend.close()
    assert await settled(pg_url, 0) == 0


async def test_the_homes_of_a_process_share_the_pool_without_being_told(pg_url: str, tmp_path: Path) -> None:
    config = CONFIG_SCHEMA({"backend": "postgresql", "db_url": pg_url})
    backends = [BUILTIN_BACKENDS["postgresql"](Hub(HubConfig(data_dir=tmp_path, scope=HomeScope("acme", home),
                                                               plan=plan)), config)
                for home, plan in (("a", "free"), ("b", "free"), ("c", "professional"))]
    try:
        for backend in backends:
            await backend.open()
        assert isinstance(backends[0], PostgresBackend) and isinstance(backends[2], PostgresBackend)
        assert backends[0]._shared is backends[2]._shared is not None
        assert backends[0]._shared in POOLS.open_pools()
        assert backends[2].plan_key == "professional" and backends[2].retentions["free"]["raw"] == 30 * 86400
    finally:
        for backend in backends:
            await backend.close()
    assert all(pool.dsn != backends[0].dsn for pool in POOLS.open_pools())  # type: ignore[attr-defined]
