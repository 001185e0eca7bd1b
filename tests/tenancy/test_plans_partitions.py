"""PostgreSQL history partitioned by plan then by time: a plan's retention drops partitions, never rows
(real PostgreSQL, the application's role neither superuser nor exempt from row-level security)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from hub.core.scope import DEFAULT_SCOPE, HomeScope
from hub.recorder.backends import pg_partitions as layout
from hub.recorder.backends.base import BackendError, Batch, Point, TierRow
from hub.recorder.backends.pg_pool import PoolRegistry
from hub.recorder.backends.postgres import HOME_POLICY, HOME_TABLES, SCHEMA, PostgresBackend
from hub.recorder.config import CONFIG_SCHEMA
from hub.recorder.tiers import Downsampler, parse_plan
from hub.tenancy.plans import DAY, PLANS
from tests.pg_roles import superuser

pytestmark = pytest.mark.services

NOW = 1_750_032_000.0  # 2025-06-16T00:00:00Z
FLAT = HomeScope("acme", "flat")
SHOP = HomeScope("acme", "shop")
PLANT = HomeScope("globex", "plant")
RETENTIONS = {name: plan.retention.as_dict() for name, plan in PLANS.items()}
LEGACY_TABLES = ("history_raw", "history_five_minute", "history_hour", "history_day")  # partitioned since plans


class Clock:
    """The time the backends and the retention job see, moved by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def homes(app_url: str) -> AsyncIterator[Callable[..., Any]]:
    """Open a home's backend on a plan, with the test's clock; each test gets its own pools."""
    opened: list[PostgresBackend] = []
    pools = PoolRegistry()

    async def open_(scope: HomeScope, plan: str | None, clock: Clock) -> PostgresBackend:
        backend = PostgresBackend(app_url, scope=scope, plan=plan, retentions=RETENTIONS, pools=pools, clock=clock)
        await backend.open()
        opened.append(backend)
        return backend

    yield open_
    for backend in opened:
        await backend.close()
    assert pools.open_pools() == []


async def partitions(pg_url: str, parent: str) -> set[str]:
    """The partitions of a table, read from pg_inherits as PostgreSQL keeps them."""
    conn = await superuser(pg_url)
    try:
        rows = await conn.fetch("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                                "WHERE i.inhparent = $1::regclass", parent)
        return {r[0] for r in rows}
    finally:
        await conn.close()


async def count_deletes(pg_url: str) -> None:
    """Count every row deleted from the history tables and their partitions (a trigger, as superuser)."""
    conn = await superuser(pg_url)
    try:
        await conn.execute("CREATE TABLE deleted_rows (tbl text)")
        await conn.execute("CREATE FUNCTION note_delete() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS "
                           "$$BEGIN INSERT INTO deleted_rows VALUES (TG_TABLE_NAME); RETURN OLD; END$$")
        for table in layout.TABLES:  # a row trigger on the parent is cloned onto every partition, now and later
            await conn.execute(f"CREATE TRIGGER note_delete AFTER DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION note_delete()")
    finally:
        await conn.close()


async def deleted(pg_url: str) -> list[str]:
    conn = await superuser(pg_url)
    try:
        return [r[0] for r in await conn.fetch("SELECT tbl FROM deleted_rows")]
    finally:
        await conn.close()


def readings(start: float, days: int, value: float) -> Batch:
    """One reading every six hours for some days from start."""
    return Batch([Point("sensor.power", start + i * 6 * 3600, value, None) for i in range(days * 4)])


async def all_values(backend: PostgresBackend, clock: Clock) -> list[float]:
    found = await backend.read_states(None, 0, clock.now + 30 * DAY)
    return [s.value for s in found.get("sensor.power", []) if s.value is not None]


def retention_job(backend: PostgresBackend, plan: str, clock: Clock, tmp_path: Path) -> Downsampler:
    """The recorder's job for a home: downsample, then purge each tier as the home's plan says."""
    return Downsampler(backend, parse_plan(CONFIG_SCHEMA({}), PLANS[plan]), tmp_path / f"{backend.scope.home_id}.json", clock)


async def test_retention_drops_the_free_plans_partitions_and_deletes_no_row(
    homes: Any, pg_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # 45 days ago a free home and a professional one start recording; the clock runs to now.
    clock = Clock(NOW - 45 * DAY)
    free = await homes(FLAT, "free", clock)
    free_too = await homes(SHOP, "free", clock)
    professional = await homes(PLANT, "professional", clock)
    await count_deletes(pg_url)
    for week in range(5):  # nine days at a time, as the days pass
        start = NOW - (45 - 9 * week) * DAY
        clock.now = start + 9 * DAY
        for n, backend in enumerate((free, free_too, professional)):
            await backend.write(readings(start, 9, float(n)))
            await backend.write_tier("hour", [TierRow("sensor.power", start + d * DAY, n, n, n, n, 0, 24) for d in range(9)])
    clock.now = NOW
    forty_days_ago = f"{datetime.fromtimestamp(NOW - 40 * DAY, UTC):%Y%m%d}"  # as a partition's name
    raw_before = await partitions(pg_url, "history_raw_p_free")
    assert f"history_raw_p_free_{forty_days_ago}" in raw_before
    assert f"history_raw_p_professional_{forty_days_ago}" in await partitions(pg_url, "history_raw_p_professional")
    assert len(await all_values(professional, clock)) == 45 * 4

    for backend, plan in ((free, "free"), (free_too, "free"), (professional, "professional")):
        await retention_job(backend, plan, clock, tmp_path).purge()
    raw_after = await partitions(pg_url, "history_raw_p_free")
    # The free plan's days before the 30 kept are gone, for both its homes at once ...
    assert f"history_raw_p_free_{forty_days_ago}" not in raw_after
    gone = raw_before - raw_after
    assert len(gone) == 15  # 45 days written, 30 kept: the partitions ending before NOW - 30 days
    conn = await superuser(pg_url)
    try:
        for name in gone:
            assert await conn.fetchval("SELECT to_regclass($1)", name) is None  # dropped, not detached and kept
    finally:
        await conn.close()
    assert len(await all_values(free, clock)) == len(await all_values(free_too, clock)) == 30 * 4
    # ... the professional plan's (90 days of raw points) are all there, and not one row was deleted.
    assert f"history_raw_p_professional_{forty_days_ago}" in await partitions(pg_url, "history_raw_p_professional")
    assert len(await all_values(professional, clock)) == 45 * 4
    hours = await professional.read_tier("hour", None, 0, NOW)
    assert len(hours["sensor.power"]) == 45
    assert len((await free.read_tier("hour", None, 0, NOW))["sensor.power"]) < 45  # the hour tier's weeks went too
    assert await deleted(pg_url) == []

    # Idempotent: again, nothing more goes and nothing fails.
    for backend, plan in ((free, "free"), (professional, "professional")):
        await retention_job(backend, plan, clock, tmp_path).purge()
    assert await partitions(pg_url, "history_raw_p_free") == raw_after
    assert await deleted(pg_url) == []

    # Made ahead: today's, tomorrow's and the day after's partitions exist; a reading for tomorrow lands in its own.
    assert {"history_raw_p_free_20250616", "history_raw_p_free_20250617", "history_raw_p_free_20250618"} <= raw_after
    await free.write(Batch([Point("sensor.power", NOW + DAY + 60, 7.0, None)]))
    conn = await superuser(pg_url)
    try:
        assert await conn.fetchval("SELECT tableoid::regclass::text FROM history_raw WHERE value = 7") == (
            "history_raw_p_free_20250617")
    finally:
        await conn.close()

    # The count of deleted rows counts: an override's purge of one entity deletes rows, and they are seen.
    await free.purge("raw", NOW - 25 * DAY, only=["sensor.power"])
    assert set(await deleted(pg_url)) == {f"history_raw_p_free_202505{day}" for day in range(17, 22)}

    # A reading from a clock 40 days ahead lands in the plan's default partition, and is reported.
    await free.write(Batch([Point("sensor.power", NOW + 40 * DAY, 8.0, None)]))
    (stray,) = await free.strays()
    assert (stray.table, stray.rows, stray.first) == ("history_raw_p_free_default", 1, NOW + 40 * DAY)
    assert await free_too.strays() == []  # another home's stray rows are not its own to see
    with caplog.at_level(logging.WARNING, logger="hub.recorder.backends.postgres"):
        await retention_job(free, "free", clock, tmp_path).purge()
    assert "home acme/flat has 1 rows in history_raw_p_free_default" in caplog.text
    # When its day comes near, it moves into the day's partition made ahead.
    clock.now = NOW + 39 * DAY
    await retention_job(free, "free", clock, tmp_path).purge()
    assert await free.strays() == []
    conn = await superuser(pg_url)
    try:
        assert await conn.fetchval("SELECT tableoid::regclass::text FROM history_raw WHERE value = 8") == (
            "history_raw_p_free_20250726")
    finally:
        await conn.close()


async def test_row_level_security_holds_on_a_partition_named_directly(homes: Any, app_url: str) -> None:
    clock = Clock(NOW)
    flat, shop = await homes(FLAT, "free", clock), await homes(SHOP, "free", clock)
    await flat.write(Batch([Point("sensor.power", NOW + 60, 1.0, None)]))
    await shop.write(Batch([Point("sensor.power", NOW + 120, 2.0, None), Point("sensor.power", NOW + 180, 3.0, None)]))
    conn = await asyncpg.connect(app_url.replace("+asyncpg", ""))  # the application's role, forgetting every filter
    try:
        leaf = "history_raw_p_free_20250616"
        assert await conn.fetchval(f"SELECT count(*) FROM {leaf}") == 0  # no home set: nothing
        for scope, expected in ((FLAT, [1.0]), (SHOP, [2.0, 3.0])):
            async with conn.transaction():
                await conn.execute("SELECT set_config('app.tenant_id', $1, true), set_config('app.home_id', $2, true)",
                                   scope.tenant_id, scope.home_id)
                assert await conn.fetchval(f"SELECT array_agg(value ORDER BY value) FROM {leaf}") == expected
                assert await conn.fetchval("SELECT count(*) FROM history_raw_p_free") == len(expected)
                with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
                    await conn.execute(f"INSERT INTO {leaf} (entity, ts, value, tenant_id, home_id, plan) "
                                       "VALUES (99, to_timestamp($1), 9, 'globex', 'plant', 'free')", NOW + 1)
    finally:
        await conn.close()


async def test_a_home_that_changes_plan_writes_into_the_new_plans_partitions(
    homes: Any, pg_url: str, tmp_path: Path
) -> None:
    clock = Clock(NOW - 40 * DAY)
    before = await homes(FLAT, "free", clock)
    for day in range(10):  # ten days on the free plan, from 40 days ago
        clock.now = NOW - (40 - day) * DAY
        await before.write(readings(clock.now, 1, 1.0))
    clock.now = NOW - 3600  # the home ran on the free plan until an hour ago; its last bucket:
    await before.write_tier("five_minute", [TierRow("sensor.power", NOW - 7200, 1, 1, 1, 1, 0, 1)])
    await before.close()
    clock.now = NOW
    after = await homes(FLAT, "professional", clock)  # the tenant moved to the professional plan
    await after.write(readings(NOW - DAY, 1, 2.0))
    await after.write_tier("five_minute", [TierRow("sensor.power", NOW - 7200, 2, 2, 2, 2, 0, 1)])  # recomputed
    # Old and new rows read as one history; the recomputed bucket exists once, under the new plan.
    assert await all_values(after, clock) == [1.0] * 40 + [2.0] * 4
    assert [r.mean for r in (await after.read_tier("five_minute", None, 0, NOW))["sensor.power"]] == [2]
    assert len(await partitions(pg_url, "history_raw_p_free")) == 10 + 1  # ten days and the default partition
    # No home is on the free plan any more: its partitions still go with the free plan's retention.
    await retention_job(after, "professional", clock, tmp_path).purge()
    assert await all_values(after, clock) == [2.0] * 4
    assert await partitions(pg_url, "history_raw_p_free") == {"history_raw_p_free_default"}


LEGACY = [  # the layout of a hub before plans: raw points by day, tiers unpartitioned, homes under RLS
    *SCHEMA,
    "CREATE UNIQUE INDEX history_entities_home_entity ON history_entities (tenant_id, home_id, entity_id)",
    *(f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY" for t in HOME_TABLES[:3]),
    *(f"ALTER TABLE {t} FORCE ROW LEVEL SECURITY" for t in HOME_TABLES[:3]),
    *(f"CREATE POLICY home_isolation ON {t} {HOME_POLICY}" for t in HOME_TABLES[:3]),
    "CREATE TABLE history_raw (entity int NOT NULL, ts timestamptz NOT NULL, value float8, state text, "
    "tenant_id text NOT NULL DEFAULT 'default', home_id text NOT NULL DEFAULT 'default', PRIMARY KEY (entity, ts)) "
    "PARTITION BY RANGE (ts)",
    *(f"CREATE TABLE history_raw_202506{d:02d} PARTITION OF history_raw FOR VALUES FROM ('2025-06-{d:02d}') "
      f"TO ('2025-06-{d + 1:02d}')" for d in (1, 2, 3)),
    *(f"CREATE TABLE history_{tier} (entity int NOT NULL, start timestamptz NOT NULL, mean float8, min float8, "
      "max float8, last float8, delta float8, count int, tenant_id text NOT NULL DEFAULT 'default', "
      "home_id text NOT NULL DEFAULT 'default', PRIMARY KEY (entity, start))" for tier in ("five_minute", "hour", "day")),
    *(f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY" for t in LEGACY_TABLES),
    *(f"ALTER TABLE {t} FORCE ROW LEVEL SECURITY" for t in LEGACY_TABLES),
    *(f"CREATE POLICY home_isolation ON {t} USING (tenant_id = current_setting('app.tenant_id', true) AND "
      f"home_id = current_setting('app.home_id', true))" for t in LEGACY_TABLES),
]
JUNE = 1_748_736_000.0  # 2025-06-01T00:00:00Z


async def test_a_history_table_of_the_layout_before_plans_is_converted_without_losing_a_row(
    app_url: str, pg_url: str
) -> None:
    owner = await asyncpg.connect(app_url.replace("+asyncpg", ""))  # the tables' owner, as the hub before
    try:
        for statement in LEGACY:
            await owner.execute(statement)
        for home, scope in enumerate((FLAT, PLANT), start=1):
            async with owner.transaction():
                await owner.execute("SELECT set_config('app.tenant_id', $1, true), set_config('app.home_id', $2, true)",
                                    scope.tenant_id, scope.home_id)
                await owner.execute(
                    "INSERT INTO history_raw SELECT $1, to_timestamp($2 + n * 97), n * $1, NULL, $3, $4 "
                    "FROM generate_series(0, 2500) n", home, JUNE, scope.tenant_id, scope.home_id)
                await owner.execute(
                    "INSERT INTO history_hour SELECT $1, to_timestamp($2 + n * 3600), n, 0, n, n, 1, 12, $3, $4 "
                    "FROM generate_series(0, 71) n", home, JUNE, scope.tenant_id, scope.home_id)
                await owner.execute("INSERT INTO history_entities (entity_id, tenant_id, home_id) VALUES ('sensor.power', $1, $2)",
                                    scope.tenant_id, scope.home_id)
    finally:
        await owner.close()

    async def answers() -> list[Any]:  # the same queries, through the parent, before and after (superuser: every home)
        conn = await superuser(pg_url)
        try:
            return [
                await conn.fetchval("SELECT count(*) FROM history_raw"),
                await conn.fetch("SELECT entity, ts, value, tenant_id, home_id FROM history_raw ORDER BY entity, ts"),
                await conn.fetch("SELECT entity, start, mean, delta, home_id FROM history_hour ORDER BY entity, start"),
                await conn.fetch("SELECT entity, sum(value), max(ts) FROM history_raw WHERE ts >= '2025-06-02' "
                                 "AND ts < '2025-06-03 12:00' GROUP BY entity ORDER BY entity"),
            ]
        finally:
            await conn.close()

    before = await answers()
    assert before[0] == 2 * 2501
    pools = PoolRegistry()
    # Another role than the tables' owner cannot convert them: a clear error, nothing changed.
    stranger = f"hub_other_{uuid.uuid4().hex[:8]}"
    conn = await superuser(pg_url)
    try:
        await conn.execute(f"CREATE ROLE {stranger} LOGIN NOSUPERUSER NOBYPASSRLS")
        await conn.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {stranger}")
        await conn.execute(f"GRANT CREATE, USAGE ON SCHEMA public TO {stranger}")
        await conn.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {stranger}")
    finally:
        await conn.close()
    refused = PostgresBackend(pg_url.replace("postgres@", f"{stranger}@", 1), scope=FLAT, plan="free", pools=pools)
    with pytest.raises(BackendError, match="history_raw has the layout from before plans; connect once as the role that owns it"):
        await refused.open()
    assert await answers() == before

    backend = PostgresBackend(app_url, scope=FLAT, plan="free", pools=pools, clock=Clock(NOW))
    await backend.open()
    try:
        assert await answers() == before  # rows before == rows after; the queries answer the same
        conn = await superuser(pg_url)
        try:
            assert await conn.fetchval("SELECT count(*) FROM history_raw_single") == 2 * 2501
            assert await conn.fetchval("SELECT to_regclass('history_raw_before_plans')") is None
            assert await conn.fetchval("SELECT partstrat::text FROM pg_partitioned_table "
                                       "WHERE partrelid = 'history_hour'::regclass") == "l"
        finally:
            await conn.close()
        # The home reads its own history from before, and only its own.
        found = await backend.read_states(["sensor.power"], JUNE, JUNE + 3 * DAY)
        assert [s.value for s in found["sensor.power"][:3]] == [0.0, 1.0, 2.0]
        assert len(found["sensor.power"]) == 2501
        assert len((await backend.read_tier("hour", None, JUNE, JUNE + 3 * DAY))["sensor.power"]) == 72
    finally:
        await backend.close()


async def test_a_single_home_keeps_purge_keep_days_exactly_and_drops_whole_days(
    homes: Any, pg_url: str, tmp_path: Path
) -> None:
    clock = Clock(NOW - 12 * DAY)
    single = await homes(DEFAULT_SCOPE, None, clock)  # no plan: the only home of its database
    config = CONFIG_SCHEMA({"backend": "postgresql", "db_url": pg_url, "purge_keep_days": 7})
    await single.retention_hint(parse_plan(config).longest())  # as the recorder does at start
    for day in range(12):
        clock.now = NOW - (12 - day) * DAY
        await single.write(readings(clock.now, 1, float(day)))
    clock.now = NOW + 3 * 3600
    assert len(await partitions(pg_url, "history_raw_single")) == 12 + 1  # the days written (and made ahead), the default
    await count_deletes(pg_url)
    await Downsampler(single, parse_plan(config), tmp_path / "single.json", clock).purge()
    left = await partitions(pg_url, "history_raw_single")
    assert "history_raw_single_20250608" not in left and "history_raw_single_20250609" in left  # 8 days ago: dropped
    assert {"history_raw_single_20250616", "history_raw_single_20250617", "history_raw_single_20250618"} <= left
    found = (await single.read_states(None, 0, NOW + DAY))["sensor.power"]
    assert min(s.ts for s in found) >= clock.now - 7 * DAY  # exactly 7 days, as before
    assert len(found) == 7 * 4 - 1
    # Only the first reading of the day the cutoff falls in went by row; the older days went whole.
    assert await deleted(pg_url) == ["history_raw_single_20250609"]


async def test_a_database_from_before_the_15_second_tier_gets_it_at_the_next_start(
    homes: Any, app_url: str, pg_url: str
) -> None:
    clock = Clock(NOW)
    flat = await homes(FLAT, "free", clock)
    await flat.close()
    owner = await asyncpg.connect(app_url.replace("+asyncpg", ""))  # the tables' owner
    try:
        await owner.execute("DROP TABLE history_fifteen_second")  # as a hub from before the tier left it
    finally:
        await owner.close()
    flat, shop = await homes(FLAT, "free", clock), await homes(SHOP, "free", clock)
    await flat.write_tier("fifteen_second", [TierRow("sensor.power", NOW + 15, 2.0, 1.0, 3.0, 3.0, 0.0, 4)])
    rows = (await flat.read_tier("fifteen_second", None, NOW, NOW + 60))["sensor.power"]
    assert [(r.start, r.mean, r.count) for r in rows] == [(NOW + 15, 2.0, 4)]
    assert await shop.read_tier("fifteen_second", None, NOW, NOW + 60) == {}  # another home's rows
    assert "history_fifteen_second_p_free" in await partitions(pg_url, "history_fifteen_second")
    conn = await superuser(pg_url)
    try:
        secured = await conn.fetch("SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c "
                                   "WHERE c.relname LIKE 'history_fifteen_second%' AND c.relkind IN ('p', 'r')")
        assert len(secured) >= 3 and all(r[1] and r[2] for r in secured), secured  # parent, plan, time partitions
    finally:
        await conn.close()
