"""PostgreSQL charts read raw points from one covering index, on every partition, old and new
(real PostgreSQL; the hub's role owns the tables but is neither superuser nor exempt from row-level security)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from hub.recorder.backends import pg_partitions as layout
from hub.recorder.backends.base import Batch, Point
from hub.recorder.backends.pg_pool import PoolRegistry
from hub.recorder.backends.postgres import _CHART_POINTS_SQL, HOME_TABLES, PostgresBackend
from tests.pg_roles import make_app_role, superuser

pytestmark = pytest.mark.services

NOW = 1_750_032_000.0  # 2025-06-16T00:00:00Z
ENTITIES = [f"sensor.meter_{i}_power" for i in range(3)]
# The home policy as databases made before it read the home once per query: a function call a row.
_PER_ROW = "tenant_id = current_setting('app.tenant_id', true) AND home_id = current_setting('app.home_id', true)"
PER_ROW_POLICY = f"USING ({_PER_ROW}) WITH CHECK ({_PER_ROW})"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def app_url(pg_url: str) -> str:
    """A fresh database and a role that owns its tables, not superuser, not exempt from row-level security."""
    return await make_app_role(pg_url)


@pytest.fixture
async def pools() -> AsyncIterator[PoolRegistry]:
    registry = PoolRegistry()
    yield registry
    assert registry.open_pools() == []


async def leaves_without_index(pg_url: str) -> list[str]:
    """The partitions of history_raw that hold rows but lack the chart index (as the catalog says)."""
    conn = await superuser(pg_url)
    try:
        rows = await conn.fetch(
            "SELECT c.relname FROM pg_partition_tree('history_raw') t JOIN pg_class c ON c.oid = t.relid "
            "WHERE t.isleaf AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = t.relid "
            "AND pg_get_indexdef(i.indexrelid) LIKE '%(entity, ts) INCLUDE (value, tenant_id, home_id)') "
            "ORDER BY 1",
        )
        return [row[0] for row in rows]
    finally:
        await conn.close()


def points(start: float, end: float, step: float) -> Batch:
    out, ts = [], start
    while ts < end:
        out.extend(Point(entity_id, ts, float(i * 100 + ts % 97), None) for i, entity_id in enumerate(ENTITIES))
        ts += step
    return Batch(out)


async def chart_plan(backend: PostgresBackend, start: float, end: float) -> str:
    """EXPLAIN (ANALYZE) of the raw part of a chart, run as the hub runs it (its home's settings, RLS on)."""
    ids = [backend._ids[e] for e in ENTITIES]

    async def explain(conn: asyncpg.Connection) -> str:
        stamps = (datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC))
        rows = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {_CHART_POINTS_SQL}", *stamps, ids)
        return "\n".join(row[0] for row in rows)

    return await backend._call(explain)


def scan_filter(plan: str) -> str:
    """The Filter line of the plan's scan of raw points (row-level security's condition among it)."""
    (line,) = [line for line in plan.splitlines() if line.strip().startswith("Filter:")]
    return line


async def home_policies(pg_url: str) -> dict[str, str]:
    """The home policy's condition on every history table and partition, as PostgreSQL reads it back."""
    admin = await superuser(pg_url)
    try:
        rows = await admin.fetch("SELECT tablename, qual FROM pg_policies WHERE policyname = 'home_isolation'")
        return {row[0]: row[1] for row in rows}
    finally:
        await admin.close()


async def per_row_policies(pg_url: str) -> None:
    """Give the history tables and their partitions the home policy as databases made before its current form have it."""
    tables = await home_policies(pg_url)
    assert set(HOME_TABLES) < set(tables)
    admin = await superuser(pg_url)
    try:
        for table in tables:
            await admin.execute(f"ALTER POLICY home_isolation ON {table} {PER_ROW_POLICY}")
    finally:
        await admin.close()


async def database_from_before(app_url: str, pg_url: str, pools: PoolRegistry, start: float, every: float) -> None:
    """Write raw points from start to NOW, then turn the history into a database from before (per_row_policies)."""
    backend = PostgresBackend(app_url, pools=pools, clock=Clock(NOW))
    await backend.open()
    await backend.write(points(start, NOW, every))
    await backend.close()
    await per_row_policies(pg_url)


async def reader_url(app_url: str, pg_url: str, *first: str) -> str:
    """Return the URL of a new role that may read and write the history's tables but own none of them
    (it can neither change a policy nor make an index), after running `first` as the superuser."""
    reader = f"hub_reader_{uuid.uuid4().hex[:8]}"
    admin = await superuser(pg_url)
    try:
        for statement in first:
            await admin.execute(statement)
        await admin.execute(f"CREATE ROLE {reader} LOGIN NOSUPERUSER NOBYPASSRLS")
        await admin.execute(f"GRANT CREATE, USAGE ON SCHEMA public TO {reader}")  # as every role had before PostgreSQL 15
        await admin.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {reader}")
        await admin.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {reader}")
    finally:
        await admin.close()
    owner = app_url.split("://", 1)[1].split("@", 1)[0]
    assert owner.startswith("hub_app_")
    return app_url.replace(f"{owner}@", f"{reader}@", 1)


async def test_a_database_from_before_reads_the_home_once_per_query_after_the_next_start(
    app_url: str, pg_url: str, pools: PoolRegistry
) -> None:
    await database_from_before(app_url, pg_url, pools, NOW - 3600, 5.0)

    backend = PostgresBackend(app_url, pools=pools, clock=Clock(NOW))
    await backend.open()  # the next start
    try:
        plan = await chart_plan(backend, NOW - 3600, NOW)
        # The home's settings come from an InitPlan run once, not from a call on every row.
        assert "current_setting" not in scan_filter(plan) and "InitPlan" in plan, plan
        # Partitions too: a query naming one meets the same form as its parent's.
        assert all("SELECT current_setting(" in qual for qual in (await home_policies(pg_url)).values())
        found = await backend.aggregate_points(ENTITIES, NOW - 3600, NOW, 30.0)
        assert [sum(p.count for p in found[e]) for e in ENTITIES] == [720, 720, 720]
    finally:
        await backend.close()
    # The rule is the same: the application's role sees its home's rows and no other's.
    conn = await asyncpg.connect(app_url.replace("+asyncpg", ""))
    try:
        for (tenant, home), expected in {("default", "default"): 3 * 720, ("default", "other"): 0}.items():
            async with conn.transaction():
                await conn.execute("SELECT set_config('app.tenant_id', $1, true), set_config('app.home_id', $2, true)", tenant, home)
                assert await conn.fetchval("SELECT count(*) FROM history_raw") == expected
                assert await conn.fetchval("SELECT count(*) FROM history_entities") == (3 if expected else 0)
    finally:
        await conn.close()


async def test_a_role_that_may_not_change_the_policy_still_opens_the_history(
    app_url: str, pg_url: str, pools: PoolRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    await database_from_before(app_url, pg_url, pools, NOW - 600, 60.0)
    backend = PostgresBackend(await reader_url(app_url, pg_url), pools=pools, clock=Clock(NOW))
    await backend.open()
    try:
        found = await backend.aggregate_points(ENTITIES, NOW - 600, NOW, 60.0)
        assert [sum(p.count for p in found[e]) for e in ENTITIES] == [10, 10, 10]
        assert "current_setting" in scan_filter(await chart_plan(backend, NOW - 600, NOW))
    finally:
        await backend.close()
    assert any("home policy" in r.getMessage() and "migrate_url" in r.getMessage() for r in caplog.records)


async def test_a_chart_reads_raw_points_from_the_covering_index_alone(app_url: str, pg_url: str, pools: PoolRegistry) -> None:
    clock = Clock(NOW)
    backend = PostgresBackend(app_url, pools=pools, clock=clock)
    await backend.open()
    try:
        await backend.write(points(NOW - 3 * 3600, NOW, 5.0))
        clock.now = NOW + 3 * 86400  # days later: partitions made since the index was
        await backend.write(points(clock.now - 3600, clock.now, 5.0))
        await backend.write(points(NOW + 400 * 86400, NOW + 400 * 86400 + 60, 5.0))  # a clock far ahead: the default partition
        assert await leaves_without_index(pg_url) == []
        admin = await superuser(pg_url)
        try:
            await admin.execute("VACUUM ANALYZE history_raw")  # what autovacuum does to settled partitions
        finally:
            await admin.close()
        plan = await chart_plan(backend, NOW - 3600, NOW)
        scans = [line for line in plan.splitlines() if " on history_raw_single_" in line]
        assert len(scans) == 1 and "Index Only Scan using history_raw_single_20250615_" in scans[0], plan
        assert "Heap Fetches: 0" in plan and "Seq Scan" not in plan, plan
        # The numbers are those of every raw point (the index holds what the query reads).
        found = await backend.aggregate_points(ENTITIES, NOW - 3600, NOW, 30.0)
        assert sum(p.count for p in found[ENTITIES[0]]) == 720
    finally:
        await backend.close()


async def test_a_database_from_before_the_index_gets_it_at_start_without_losing_a_row(
    app_url: str, pg_url: str, pools: PoolRegistry
) -> None:
    clock = Clock(NOW)
    backend = PostgresBackend(app_url, pools=pools, clock=clock)
    await backend.open()
    await backend.write(points(NOW - 2 * 86400, NOW, 60.0))
    await backend.close()
    admin = await superuser(pg_url)
    try:
        await admin.execute(f"DROP INDEX {layout.CHART_INDEX}")  # as every database made before it
        before = await admin.fetchval("SELECT count(*) FROM history_raw")
    finally:
        await admin.close()
    assert await leaves_without_index(pg_url)

    backend = PostgresBackend(app_url, pools=pools, clock=clock)
    await backend.open()  # the next start
    try:
        assert await leaves_without_index(pg_url) == []
        found = await backend.read_states(ENTITIES, NOW - 2 * 86400, NOW)
        assert sum(len(rows) for rows in found.values()) == before == 3 * 2 * 1440
    finally:
        await backend.close()


async def test_a_role_that_may_not_make_the_index_still_opens_the_history(
    app_url: str, pg_url: str, pools: PoolRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(NOW)
    backend = PostgresBackend(app_url, pools=pools, clock=clock)
    await backend.open()
    await backend.write(points(NOW - 600, NOW, 60.0))
    await backend.close()
    backend = PostgresBackend(await reader_url(app_url, pg_url, f"DROP INDEX {layout.CHART_INDEX}"), pools=pools, clock=clock)
    await backend.open()
    try:
        found = await backend.read_states(ENTITIES, NOW - 600, NOW)
        assert sum(len(rows) for rows in found.values()) == 30
    finally:
        await backend.close()
    assert any("history_raw_chart" in r.getMessage() and "migrate_url" in r.getMessage() for r in caplog.records)


async def test_a_chart_gives_the_times_history_gives_to_the_last_bit(app_url: str, pools: PoolRegistry) -> None:
    # Charts read times as PostgreSQL stores them (microseconds) and make seconds of them in numpy:
    # the same float8 as date_part('epoch'), which every other history read returns.
    backend = PostgresBackend(app_url, pools=pools, clock=Clock(NOW))
    await backend.open()
    try:
        stamps = [NOW - 3600 + i * 2 + (i * 7919 % 1_000_000) / 1e6 for i in range(1500)]
        await backend.write(Batch([Point(ENTITIES[0], ts, float(i), None) for i, ts in enumerate(stamps)]))
        found = await backend.aggregate_points(ENTITIES, NOW - 3600, NOW, 1.0)  # one point a bucket
        history = await backend.read_states(ENTITIES, NOW - 3600, NOW)
        assert [p.first for p in found[ENTITIES[0]]] == [s.ts for s in history[ENTITIES[0]]]
        assert len(found[ENTITIES[0]]) == 1500
    finally:
        await backend.close()


async def test_an_entity_another_process_made_is_read_at_once(app_url: str, pools: PoolRegistry) -> None:
    # Reads ask the database for new entity ids only when an entity asked for is not known yet.
    reader = PostgresBackend(app_url, pools=pools, clock=Clock(NOW))
    writer = PostgresBackend(app_url, pools=PoolRegistry(), clock=Clock(NOW))  # another process's
    await reader.open()
    await writer.open()
    try:
        await reader.write(points(NOW - 600, NOW, 60.0))
        assert list(await reader.aggregate_points(ENTITIES, NOW - 600, NOW, 60.0)) == ENTITIES
        await writer.write(Batch([Point("sensor.new", NOW - 30, 5.0, None)]))
        found = await reader.aggregate_points([*ENTITIES, "sensor.new"], NOW - 600, NOW, 60.0)
        assert [p.count for p in found["sensor.new"]] == [1]
        assert await reader.last_values(NOW, ["sensor.new"]) == {"sensor.new": 5.0}
    finally:
        await writer.close()
        await reader.close()


async def test_a_chart_over_any_span_of_years_reads_its_points(app_url: str, pools: PoolRegistry) -> None:
    # The range goes to PostgreSQL as timestamps: times beyond the years 1 to 9999 are clamped, not refused.
    backend = PostgresBackend(app_url, pools=pools, clock=Clock(NOW))
    await backend.open()
    try:
        await backend.write(points(NOW - 600, NOW, 60.0))
        found = await backend.aggregate_points(ENTITIES, -1e13, 1e13, 604800.0)
        assert [sum(p.count for p in found[e]) for e in ENTITIES] == [10, 10, 10]
    finally:
        await backend.close()


async def test_every_connection_has_planned_the_chart_queries_before_the_first_chart(app_url: str, pools: PoolRegistry) -> None:
    backend = PostgresBackend(app_url, pools=pools, clock=Clock(NOW))
    await backend.open()  # a first start: the schema is made on the pool's first connection
    try:
        pool = pools.open_pools()[0].pool
        async with pool.acquire() as first, pool.acquire() as second:  # the second is made now
            for conn in (first, second):
                prepared = {row[0] for row in await conn.fetch("SELECT statement FROM pg_prepared_statements")}
                assert _CHART_POINTS_SQL in prepared
                assert {f"FROM history_{tier} " in " ".join(prepared) for tier in ("fifteen_second", "minute", "five_minute", "hour", "day")} == {True}
        await backend.write(points(NOW - 600, NOW, 60.0))
        found = await backend.aggregate_points(ENTITIES, NOW - 600, NOW, 60.0)
        assert [sum(p.count for p in found[e]) for e in ENTITIES] == [10, 10, 10]
    finally:
        await backend.close()


async def test_a_new_connection_does_not_wait_for_a_partition_being_made(pg_url: str, app_url: str, pools: PoolRegistry) -> None:
    # Making a partition holds its parent in ACCESS EXCLUSIVE mode until it commits. Were the new
    # connection's planning ahead to wait for that, a caller holding the lock until it has its
    # connection (the upkeep of one home while another home opens) would wait for ever.
    backend = PostgresBackend(app_url, pools=pools, clock=Clock(NOW))
    await backend.open()
    upkeep = await superuser(pg_url)
    try:
        await backend.write(points(NOW - 600, NOW, 60.0))
        pool = pools.open_pools()[0].pool
        async with pool.acquire():  # the pool's only connection: the next acquire makes one
            async with upkeep.transaction():
                await upkeep.execute("LOCK TABLE history_raw, history_minute IN ACCESS EXCLUSIVE MODE")
                async with asyncio.timeout(10):
                    async with pool.acquire() as fresh:
                        assert await fresh.fetchval("SELECT 1") == 1
        found = await backend.aggregate_points(ENTITIES, NOW - 600, NOW, 60.0)  # on either connection
        assert [sum(p.count for p in found[e]) for e in ENTITIES] == [10, 10, 10]
    finally:
        await upkeep.close()
        await backend.close()
