"""History belongs to a home: PostgreSQL rows carry their home under row-level security, retention
follows each home's plan, and a database from before homes becomes the default home's (real PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from hub.core.hub import Hub, HubConfig
from hub.core.scope import DEFAULT_SCOPE, HomeScope
from hub.exceptions import HubError
from hub.recorder import BUILTIN_BACKENDS, check_history_backend
from hub.recorder.backends.base import AttributeChange, Batch, Point, TierRow
from hub.recorder.backends.postgres import PostgresBackend
from hub.recorder.config import CONFIG_SCHEMA
from hub.recorder.tiers import Downsampler, parse_plan
from hub.tenancy.plans import DAY, PLANS

NOW = 1_750_000_000.0
FLAT = HomeScope("acme", "flat")
PLANT = HomeScope("acme", "plant")
OTHER = HomeScope("globex", "flat")  # the same home id in another tenant


@pytest.fixture
async def open_home(app_url: str) -> AsyncIterator[Callable[..., Any]]:
    opened: list[PostgresBackend] = []

    async def open_(scope: HomeScope, *, plan: str | None = "free") -> PostgresBackend:
        backend = PostgresBackend(app_url, scope=scope, plan=plan, pool_size=2, clock=lambda: NOW)
        await backend.open()
        opened.append(backend)
        return backend

    yield open_
    for backend in opened:
        await backend.close()


def readings(value: float, *ages_in_days: float) -> Batch:
    return Batch([Point("sensor.power", NOW - age * DAY, value + i, None) for i, age in enumerate(ages_in_days)],
                 [AttributeChange("sensor.power", NOW - max(ages_in_days) * DAY, f'{{"home": {value}}}')])


async def values(backend: PostgresBackend) -> list[float]:
    found = await backend.read_states(None, 0, NOW + DAY)
    return [s.value for s in found.get("sensor.power", [])]


@pytest.mark.services
async def test_each_home_reads_its_own_history_and_rls_holds_without_the_filter(open_home: Any, app_url: str) -> None:
    homes = {scope: await open_home(scope) for scope in (FLAT, PLANT, OTHER)}
    for n, backend in enumerate(homes.values()):
        await backend.write(readings(100.0 * (n + 1), 2, 1))
        await backend.write_tier("hour", [TierRow("sensor.power", NOW - 3600, n, n, n, n, 0, 1)])
    assert await values(homes[FLAT]) == [100.0, 101.0]
    assert await values(homes[PLANT]) == [200.0, 201.0]
    assert await values(homes[OTHER]) == [300.0, 301.0]  # same home id, another tenant: apart
    attributes = await homes[PLANT].read_attributes(["sensor.power"], 0, NOW + DAY)
    assert [a for _ts, a in attributes["sensor.power"]] == [{"home": 200.0}]
    assert [r.mean for r in (await homes[OTHER].read_tier("hour", None, 0, NOW))["sensor.power"]] == [2]
    assert await homes[FLAT].last_values(NOW) == {"sensor.power": 101.0}

    # The application's role, its query forgetting every filter: the database still shows one home.
    conn = await asyncpg.connect(app_url.replace("+asyncpg", ""))
    try:
        assert await conn.fetchval("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user") is False
        assert await conn.fetchval("SELECT count(*) FROM history_raw") == 0  # no home set: nothing
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', 'acme', true), set_config('app.home_id', 'plant', true)")
            assert await conn.fetchval("SELECT array_agg(value ORDER BY value) FROM history_raw") == [200.0, 201.0]
            assert await conn.fetchval("SELECT count(*) FROM history_entities") == 1
            assert await conn.fetchval("SELECT count(*) FROM history_attribute_sets") == 1
            assert await conn.fetchval("SELECT count(*) FROM history_hour") == 1
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
                await conn.execute("INSERT INTO history_raw (entity, ts, value, tenant_id, home_id, plan) "
                                   "VALUES (1, now(), 1, 'acme', 'flat', 'free')")
        policies = await conn.fetch("SELECT tablename, qual, with_check FROM pg_policies WHERE policyname = 'home_isolation'")
        tables = {r[0] for r in await conn.fetch("SELECT relname FROM pg_class WHERE relname LIKE 'history_%' "
                                                 "AND relkind IN ('r', 'p')")}
        # Entities, attribute sets, attributes, raw and the four tiers, and every partition of these four.
        assert {r["tablename"] for r in policies} == tables
        assert {"history_raw_p_free", "history_raw_p_free_default", "history_hour_p_free"} < tables
        for row in policies:
            assert row["qual"] == row["with_check"]
            assert "current_setting('app.tenant_id'::text, true)" in row["qual"]
            assert "current_setting('app.home_id'::text, true)" in row["qual"]
        forced = await conn.fetch("SELECT relname FROM pg_class WHERE relname LIKE 'history_%' AND relkind IN ('r', 'p') "
                                  "AND NOT (relrowsecurity AND relforcerowsecurity)")
        assert forced == []
    finally:
        await conn.close()


@pytest.mark.services
async def test_retention_follows_each_homes_plan_and_leaves_other_homes_alone(
    open_home: Any, tmp_path: Path
) -> None:
    free, industrial, neighbour = [await open_home(s, plan=p) for s, p in ((FLAT, "free"), (PLANT, "industrial"),
                                                                          (OTHER, "starter"))]
    for backend in (free, industrial, neighbour):
        await backend.write(readings(1.0, 45, 31, 29, 1))
        await backend.write_tier("five_minute", [TierRow("sensor.power", NOW - 40 * DAY, 1, 1, 1, 1, 0, 1),
                                                 TierRow("sensor.power", NOW - 20 * DAY, 2, 2, 2, 2, 0, 1)])

    def tiers_of(backend: PostgresBackend, plan: str) -> Downsampler:
        clock = lambda: NOW  # noqa: E731 - the recorder's clock, held still
        return Downsampler(backend, parse_plan(CONFIG_SCHEMA({}), PLANS[plan]), tmp_path / f"{plan}.json", clock)

    await tiers_of(free, "free").purge()
    unlimited = tiers_of(industrial, "industrial")
    await unlimited.downsample()  # an unlimited plan downsamples as any other
    await unlimited.purge()
    # free keeps 30 days of raw points and of every tier; industrial keeps everything.
    assert await values(free) == [3.0, 4.0]
    assert await values(industrial) == [1.0, 2.0, 3.0, 4.0]
    five = await free.read_tier("five_minute", None, 0, NOW)
    assert [r.mean for r in five["sensor.power"]] == [2]
    # A home the purges did not run for (as old points, another tenant, same home id): untouched.
    assert await values(neighbour) == [1.0, 2.0, 3.0, 4.0]
    assert len((await neighbour.read_tier("five_minute", None, 0, NOW))["sensor.power"]) == 2


@pytest.mark.services
async def test_a_database_from_before_homes_becomes_the_default_homes(pg_url: str) -> None:
    dsn = pg_url.replace("+asyncpg", "")
    conn = await asyncpg.connect(dsn)
    try:  # the schema and rows a single-home hub wrote before homes existed
        for statement in (
            "CREATE TABLE history_entities (id serial PRIMARY KEY, entity_id text UNIQUE NOT NULL)",
            "CREATE TABLE history_attribute_sets (hash text PRIMARY KEY, json text NOT NULL)",
            "CREATE TABLE history_attributes (entity int NOT NULL, ts timestamptz NOT NULL, hash text NOT NULL, "
            "PRIMARY KEY (entity, ts))",
            *(f"CREATE TABLE history_{tier} (entity int NOT NULL, start timestamptz NOT NULL, mean float8, min float8, "
              "max float8, last float8, delta float8, count int, PRIMARY KEY (entity, start))"
              for tier in ("five_minute", "hour", "day")),
            "CREATE TABLE history_raw (entity int NOT NULL, ts timestamptz NOT NULL, value float8, state text, "
            "PRIMARY KEY (entity, ts)) PARTITION BY RANGE (ts)",
            "CREATE TABLE history_raw_20250601 PARTITION OF history_raw FOR VALUES FROM ('2025-06-01') TO ('2025-06-02')",
            "INSERT INTO history_entities (entity_id) VALUES ('sensor.power')",
            "INSERT INTO history_attribute_sets VALUES ('h1', '{\"unit_of_measurement\": \"W\"}')",
            "INSERT INTO history_attributes VALUES (1, '2025-06-01T00:00:00Z', 'h1')",
            "INSERT INTO history_raw VALUES (1, '2025-06-01T00:00:00Z', 42.5, NULL)",
            "INSERT INTO history_hour VALUES (1, '2025-06-01T00:00:00Z', 42.5, 42.5, 42.5, 42.5, 0, 1)",
        ):
            await conn.execute(statement)
    finally:
        await conn.close()
    backend = PostgresBackend(pg_url)  # a single-home hub, upgraded
    await backend.open()
    try:
        june = 1_748_736_000.0  # 2025-06-01T00:00:00Z
        assert (await backend.read_states(["sensor.power"], june, june + 1))["sensor.power"][0].value == 42.5
        assert (await backend.read_attributes(["sensor.power"], june, june + 1))["sensor.power"] == [
            (june, {"unit_of_measurement": "W"})]
        assert len((await backend.read_tier("hour", None, june, june + 1))["sensor.power"]) == 1
        await backend.write(Batch([Point("sensor.power", june + 60, 43.0, None)]))
        assert len((await backend.read_states(None, june, june + 3600))["sensor.power"]) == 2
    finally:
        await backend.close()
    # Another home of the same database sees none of it.
    neighbour = PostgresBackend(pg_url, scope=FLAT, plan="free")
    await neighbour.open()
    try:
        assert await neighbour.read_states(None, 0, NOW) == {}
    finally:
        await neighbour.close()


async def test_many_homes_need_a_history_backend_that_keeps_homes_apart(tmp_path: Path) -> None:
    assert check_history_backend({}) == []  # no recorder: no history to keep apart
    assert check_history_backend({"recorder": {"backend": "postgresql", "db_url": "postgresql://h/db"}}) == []
    assert check_history_backend({"recorder": {"backend": "influxdb", "url": "http://h:8086"}}) == []
    (problem,) = check_history_backend({"recorder": None})
    assert problem.startswith("recorder.backend: sqlite keeps the history of a single home; many homes need postgresql")
    (problem,) = check_history_backend({"recorder": {"backend": "parquet"}})
    assert problem == "recorder.backend: 'parquet' is not known to keep homes apart; use one of postgresql, influxdb, influxdb2"
    home = Hub(HubConfig(data_dir=tmp_path, scope=FLAT, plan="free"))
    with pytest.raises(HubError, match="home acme/flat is one of many homes; the sqlite history backend keeps a single"):
        BUILTIN_BACKENDS["sqlite"](home, CONFIG_SCHEMA({}))
    assert BUILTIN_BACKENDS["sqlite"](Hub(HubConfig(data_dir=tmp_path)), CONFIG_SCHEMA({})).name == "sqlite"
    assert DEFAULT_SCOPE == HomeScope("default", "default")


@pytest.fixture
async def influx_homes(influxdb_server: Any) -> AsyncIterator[Callable[..., Any]]:
    """Open InfluxDB 1.x backends of several homes on one database."""
    from hub.recorder.backends.influx_v1 import InfluxV1Backend

    if not influxdb_server.running:
        influxdb_server.start()
    database = f"hub_{uuid.uuid4().hex[:10]}"
    opened: list[InfluxV1Backend] = []

    async def open_(scope: HomeScope, plan: str | None) -> InfluxV1Backend:
        backend = InfluxV1Backend(influxdb_server.url, database, scope=scope, plan=plan)
        await backend.open()
        retention = parse_plan(CONFIG_SCHEMA({}), None if plan is None else PLANS[plan])
        await backend.retention_hint(retention.longest())  # as the recorder does at start
        opened.append(backend)
        return backend

    yield open_
    for backend in opened:
        await backend.close()


@pytest.mark.services
async def test_influxdb_tags_each_point_with_its_home_and_keeps_it_as_long_as_its_plan(
    influx_homes: Any, tmp_path: Path
) -> None:
    now = float(int(__import__("time").time()))
    single = await influx_homes(DEFAULT_SCOPE, None)
    free = await influx_homes(FLAT, "free")
    industrial = await influx_homes(PLANT, "industrial")
    neighbour = await influx_homes(OTHER, "free")  # same home id, another tenant, same plan
    # A point from before homes: no tags. It is the default home's.
    await single._write_lines([f"state,entity_id=sensor.power value=7.0 {int((now - 60) * 1e6)}"], "raw")

    def batch(value: float) -> Batch:
        return Batch([Point("sensor.power", now - age * DAY, value + i, None) for i, age in enumerate((40, 3, 0))])

    for n, backend in enumerate((single, free, industrial, neighbour)):
        await backend.write(batch(10.0 * (n + 1)))
        await backend.write_tier("hour", [TierRow("sensor.power", now - 7200, n, n, n, n, 0, 1)])

    async def values_of(backend: Any) -> list[float]:
        found = await backend.read_states(None, 0, now + 1)
        return sorted(s.value for s in found.get("sensor.power", []))

    # The free plan's policies keep 30 days: its 40-day-old point was expired on arrival.
    assert await values_of(free) == [21.0, 22.0]
    assert await values_of(neighbour) == [41.0, 42.0]
    assert await values_of(industrial) == [30.0, 31.0, 32.0]  # unlimited
    assert await values_of(single) == [7.0, 11.0, 12.0]  # 7 days, as its recorder: section says; its old point too
    assert [r.mean for r in (await industrial.read_tier("hour", None, 0, now))["sensor.power"]] == [2]
    assert await free.last_values(now + 1) == {"sensor.power": 22.0}
    policies = {row[0]: row[1] for item in await single._query('SHOW RETENTION POLICIES ON "' + single.database + '"')
                for row in item["values"]}
    assert policies["free_raw"] == "720h0m0s" and policies["free_day"] == "720h0m0s"
    assert policies["industrial_raw"] == "0s" and policies["industrial_day"] == "0s"  # INF
    assert policies["raw"] == "168h0m0s"  # the single home's recorder: defaults, as before

    # A per-entity override shorter than the plan deletes that home's points only.
    config = CONFIG_SCHEMA({"overrides": {"sensor.power": {"raw": "1d"}}})
    for backend, plan in ((free, "free"), (single, None)):
        tiers = Downsampler(backend, parse_plan(config, None if plan is None else PLANS[plan]),
                            tmp_path / f"{plan}.json", lambda: now)
        await tiers.purge()
    assert await values_of(free) == [22.0]
    assert await values_of(single) == [7.0, 12.0]
    assert await values_of(neighbour) == [41.0, 42.0]
    assert await values_of(industrial) == [30.0, 31.0, 32.0]


@pytest.mark.services
async def test_influxdb_keeps_a_year_of_day_rows_in_a_few_shard_groups(influx_homes: Any) -> None:
    # A year's chart reads the day tier: in InfluxDB's default groups of a week it opened 52.
    # (The free plan's 30-day tiers, whose groups must fit in them, open in the test above.)
    now = float(int(__import__("time").time())) // DAY * DAY
    single = await influx_homes(DEFAULT_SCOPE, None)
    await single.write_tier("day", [TierRow("sensor.power", now - age * DAY, 1.0, 1.0, 1.0, 1.0, 0.0, 1) for age in range(365, 0, -1)])
    (listing,) = await single._query("SHOW SHARD GROUPS")
    groups = [dict(zip(listing["columns"], row, strict=True)) for row in listing["values"]]
    assert len([g for g in groups if g["database"] == single.database and g["retention_policy"] == "day"]) <= 3
    assert len((await single.read_tier("day", None, now - 400 * DAY, now))["sensor.power"]) == 365


@pytest.mark.services
async def test_influxdb_keeps_raw_points_in_3_hour_shard_groups_old_databases_too(influx_homes: Any, influxdb_server: Any) -> None:
    # A raw query costs influxd a copy of the cached points of every group it touches: in a week's
    # groups, the newest minutes of a chart copied all the week's points of each sensor. Charts of
    # an hour or two read the 15-second tier up to the newest minutes: its groups are as short.
    now = float(int(__import__("time").time())) // 10800 * 10800
    single = await influx_homes(DEFAULT_SCOPE, None)
    free = await influx_homes(FLAT, "free")
    for backend in (single, free):
        await backend.write(Batch([Point("sensor.power", now - 9 * 3600 + 180 * i, float(i), None) for i in range(180)]))
        await backend.write_tier("fifteen_second", [TierRow("sensor.power", now - 9 * 3600 + 180 * i, 1.0, 1.0, 1.0, 1.0, 0.0, 1)
                                                    for i in range(180)])
    (listing,) = await single._query("SHOW SHARD GROUPS")
    groups = [dict(zip(listing["columns"], row, strict=True)) for row in listing["values"]]
    for policy in ("raw", "free_raw", "fifteen_second", "free_fifteen_second"):
        mine = [g for g in groups if g["database"] == single.database and g["retention_policy"] == policy]
        assert len(mine) == 3, policy
        assert all((int(g["end_time"][11:13]) - int(g["start_time"][11:13])) % 24 == 3 for g in mine)  # 3 hours each

    # A database an earlier version made: its raw policy had InfluxDB's 7-day groups. The start's
    # retention step gives its new groups an hour; the points already stored stay readable.
    from hub.recorder.backends.influx_v1 import InfluxV1Backend

    database = f"hub_{uuid.uuid4().hex[:10]}"
    old = InfluxV1Backend(influxdb_server.url, database)
    await old._query(f'CREATE DATABASE "{database}"', post=True)
    await old._query(f'CREATE RETENTION POLICY "raw" ON "{database}" DURATION INF REPLICATION 1 DEFAULT', post=True)
    await old._write_lines([f"state,entity_id=sensor.power value=7.0 {int((now - 60) * 1e6)}"], "raw")
    try:
        await old.open()
        await old.retention_hint(parse_plan(CONFIG_SCHEMA({}), None).longest())
        (item,) = await old._query(f'SHOW RETENTION POLICIES ON "{database}"')
        policies = {row[0]: dict(zip(item["columns"], row, strict=True)) for row in item["values"]}
        assert policies["raw"]["shardGroupDuration"] == "3h0m0s" and policies["raw"]["default"] is True
        # The 15-second tier's policy, which that version did not have, is made, kept as long as raw.
        assert (policies["fifteen_second"]["duration"], policies["fifteen_second"]["shardGroupDuration"]) == ("168h0m0s", "3h0m0s")
        assert [s.value for s in (await old.read_states(None, 0, now + 1))["sensor.power"]] == [7.0]
        await old.retention_hint({"raw": 7200})  # raw kept two hours: groups no longer than that
        (item,) = await old._query(f'SHOW RETENTION POLICIES ON "{database}"')
        policies = {row[0]: dict(zip(item["columns"], row, strict=True)) for row in item["values"]}
        assert (policies["raw"]["duration"], policies["raw"]["shardGroupDuration"]) == ("2h0m0s", "2h0m0s")
    finally:
        await old.close()


@pytest.mark.services
async def test_influxdb_downsamples_each_homes_own_entities(influx_homes: Any) -> None:
    # The downsampler asks which entities have raw points: a home on a plan keeps them in its own
    # policy, and another home's entities are not its to read.
    now = float(int(__import__("time").time()))
    homes = {"single": await influx_homes(DEFAULT_SCOPE, None), "flat": await influx_homes(FLAT, "free"),
             "plant": await influx_homes(PLANT, "industrial"), "neighbour": await influx_homes(OTHER, "free")}
    for name, backend in homes.items():
        await backend.write(Batch([Point(f"sensor.{name}_power", now - 60, 1.0, None)]))
    for name, backend in homes.items():
        assert await backend.entities_between(now - 3600, now) == [f"sensor.{name}_power"], name
