"""PostgreSQL history: a natively range-partitioned table by time (a hypertable with TimescaleDB).

Writes are one `INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING` per batch, so a
batch costs one round trip and a replayed one changes nothing. Old raw data goes by dropping
whole partitions, which is instant however large they are.

Every row belongs to a home (`tenant_id`, `home_id`; "default"/"default" for a single-home
install and for history from before homes existed). Row-level security, forced on the owner
too, lets a transaction see only the home its `app.tenant_id`/`app.home_id` settings name; the
backend sets both at the start of each of its transactions and filters by home in its queries
as well. A backend serves one home: a home on a plan shares the day partitions with other homes,
so its retention deletes its own rows and never drops a partition.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

import asyncpg
import orjson

from hub.core.scope import DEFAULT_SCOPE, HomeScope
from hub.logfilter import one_line_warnings
from hub.recorder.backends.base import TIERS, Batch, HistoryBackend, Partial, Sample, TierRow, as_error

_LOGGER = logging.getLogger(__name__)
# The pool's "failed to restore the connection floor" while PostgreSQL is down: once per retry.
one_line_warnings("asyncpg.pool")
_P = ParamSpec("_P")
_R = TypeVar("_R")
DAY = 86400
WEEK = 7 * DAY
_TIER_COLUMNS = "entity, start, mean, min, max, last, delta, count"

_HOME = "tenant_id text NOT NULL DEFAULT 'default', home_id text NOT NULL DEFAULT 'default'"
SCHEMA = [
    f"CREATE TABLE IF NOT EXISTS history_entities (id serial PRIMARY KEY, entity_id text NOT NULL, {_HOME})",
    f"CREATE TABLE IF NOT EXISTS history_attribute_sets (hash text NOT NULL, json text NOT NULL, {_HOME}, "
    "PRIMARY KEY (tenant_id, home_id, hash))",
    "CREATE TABLE IF NOT EXISTS history_attributes (entity int NOT NULL, ts timestamptz NOT NULL, "
    f"hash text NOT NULL, {_HOME}, PRIMARY KEY (entity, ts))",
    *(
        f"CREATE TABLE IF NOT EXISTS history_{tier} (entity int NOT NULL, start timestamptz NOT NULL, "
        f"mean float8, min float8, max float8, last float8, delta float8, count int, {_HOME}, PRIMARY KEY (entity, start))"
        for tier in TIERS
    ),
]
RAW_COLUMNS = f"(entity int NOT NULL, ts timestamptz NOT NULL, value float8, state text, {_HOME}, PRIMARY KEY (entity, ts))"
HOME_TABLES = ("history_entities", "history_attribute_sets", "history_attributes", "history_raw",
               *(f"history_{tier}" for tier in TIERS))
# The policy every home-owned table has (the metadata tables use the same text).
_SAME_HOME = "tenant_id = current_setting('app.tenant_id', true) AND home_id = current_setting('app.home_id', true)"
HOME_POLICY = f"USING ({_SAME_HOME}) WITH CHECK ({_SAME_HOME})"
# Tables of a database from before homes: their rows become the default home's.
_HOME_MIGRATION = [
    *(
        f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default', "
        "ADD COLUMN IF NOT EXISTS home_id text NOT NULL DEFAULT 'default'"
        for table in HOME_TABLES
    ),
    "ALTER TABLE history_entities DROP CONSTRAINT IF EXISTS history_entities_entity_id_key",
    "CREATE UNIQUE INDEX IF NOT EXISTS history_entities_home_entity ON history_entities (tenant_id, home_id, entity_id)",
]
_SET_SCOPE = "SELECT set_config('app.tenant_id', $1, true), set_config('app.home_id', $2, true)"


# Each numeric point holds until the next one (lead) or its bucket's end; the bucket's last
# point is the one whose successor is in a later bucket. Buckets as tiers.aggregate makes them.
_AGGREGATE_SQL = """
SELECT entity, bucket, count(*)::int, min(value), max(value), min(t),
       sum(value * (least(coalesce(next, bucket + $4), bucket + $4) - t)),
       max(CASE WHEN next IS NULL OR next >= bucket + $4 THEN value END)
FROM (SELECT entity, t, value, floor(t / $4) * $4 AS bucket, lead(t) OVER (PARTITION BY entity ORDER BY ts) AS next
      FROM (SELECT entity, ts, extract(epoch FROM ts)::float8 AS t, value FROM history_raw
            WHERE entity = ANY($3::int[]) AND ts >= to_timestamp($1) AND ts < to_timestamp($2)
            AND value IS NOT NULL) p) q
GROUP BY entity, bucket ORDER BY entity, bucket
"""


def _dsn(url: str) -> str:
    # Accept SQLAlchemy-style URLs (postgresql+asyncpg://) as the metadata storage uses them.
    scheme, sep, rest = url.partition("://")
    return f"postgresql://{rest}" if sep and scheme.startswith("postgres") else url


class PostgresBackend(HistoryBackend):
    """History in PostgreSQL through asyncpg."""

    name = "postgresql"

    def __init__(
        self,
        url: str,
        *,
        partition: str = "day",
        pool_size: int = 4,
        scope: HomeScope = DEFAULT_SCOPE,
        drop_partitions: bool = True,
    ) -> None:
        """Serve the history of one home (scope).

        With drop_partitions (a single-home install, the only home in the database) old raw data
        goes by dropping whole day partitions; without it (a home beside others, which share the
        partitions) by deleting the home's own rows.
        """
        self.dsn = _dsn(url)
        self.scope = scope
        self.drop_partitions = drop_partitions
        self._home = (scope.tenant_id, scope.home_id)
        self.width = WEEK if partition == "week" else DAY
        self.pool_size = pool_size
        self.timescale = False
        self._pool: asyncpg.Pool | None = None
        self._ids: dict[str, int] = {}
        self._names: dict[int, str] = {}
        self._partitions: set[int] = set()

    async def open(self) -> None:
        """Connect, create the schema, and partitions for today and the days ahead."""
        await self._ensure()

    async def _ensure(self) -> asyncpg.Pool:
        if self._pool is not None:
            return self._pool
        try:
            pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=self.pool_size, command_timeout=60)
            async with pool.acquire() as conn:
                async with conn.transaction():
                    await conn.execute(_SET_SCOPE, *self._home)
                    await self._migrate(conn)
                if not self.timescale:
                    now = datetime.now(UTC).timestamp()
                    await self._ensure_partitions(conn, {int(now // self.width) + i for i in range(3)})
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
            raise as_error(self.name, err) from err
        self._pool = pool
        return pool

    async def _migrate(self, conn: asyncpg.Connection) -> None:
        # Homes of one database start side by side: one migrates at a time.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('hub history schema'))")
        for statement in SCHEMA:
            await conn.execute(statement)
        exists = await conn.fetchval("SELECT to_regclass('history_raw') IS NOT NULL")
        # TimescaleDB is not installed on the machines the tests run on: the native path is the
        # tested one; with the extension available, the raw table becomes a hypertable instead.
        available = await conn.fetchval("SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'")
        if not exists:
            if available:
                await conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
                await conn.execute(f"CREATE TABLE history_raw {RAW_COLUMNS}")
                await conn.execute("SELECT create_hypertable('history_raw', 'ts', if_not_exists => TRUE)")
            else:
                await conn.execute(f"CREATE TABLE history_raw {RAW_COLUMNS} PARTITION BY RANGE (ts)")
        kind = await conn.fetchval("SELECT relkind FROM pg_class WHERE relname = 'history_raw'")
        self.timescale = kind not in ("p", b"p")  # asyncpg returns the "char" type as bytes
        await self._secure(conn)
        for id_, entity_id in await conn.fetch(
            "SELECT id, entity_id FROM history_entities WHERE tenant_id = $1 AND home_id = $2", *self._home
        ):
            self._ids[entity_id] = id_
            self._names[id_] = entity_id

    async def _secure(self, conn: asyncpg.Connection) -> None:
        """Give every table its home columns (old rows: the default home) and its row-level security.

        Only what is missing: a role that is not the tables' owner opens a secured schema as is.
        """
        tables = await conn.fetch(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, EXISTS (SELECT 1 FROM pg_attribute a "
            "WHERE a.attrelid = c.oid AND a.attname = 'home_id' AND NOT a.attisdropped), EXISTS (SELECT 1 FROM "
            "pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'home_isolation') FROM pg_class c "
            "WHERE c.relname = ANY($1::text[]) AND c.relkind IN ('r', 'p') AND pg_table_is_visible(c.oid)",
            list(HOME_TABLES),
        )
        if not all(row[3] for row in tables):
            _LOGGER.info("Recorder: history from before homes becomes the default home's")
            for statement in _HOME_MIGRATION:
                await conn.execute(statement)
            # A set's hash alone as its key would let one home's attributes answer for another's.
            await conn.execute(
                "ALTER TABLE history_attribute_sets DROP CONSTRAINT IF EXISTS history_attribute_sets_pkey, "
                "ADD PRIMARY KEY (tenant_id, home_id, hash)"
            )
        for table, enabled, forced, _columns, policy in tables:
            if not policy:
                await conn.execute(f"CREATE POLICY home_isolation ON {table} {HOME_POLICY}")
            if not enabled:
                await conn.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            if not forced:
                await conn.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")

    async def close(self) -> None:
        """Close the pool."""
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def _ensure_partitions(self, conn: asyncpg.Connection, slots: set[int]) -> None:
        """Create the missing partitions in a transaction of their own, remembered once committed.

        Never inside a write's transaction: a write that fails or is cancelled would take the
        partitions back with it while they stayed remembered.
        """
        missing = sorted(slots - self._partitions)
        if not missing:
            return
        async with conn.transaction():
            # Homes share the partitions: one creates them at a time.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('hub history partitions'))")
            for slot in missing:
                start = datetime.fromtimestamp(slot * self.width, UTC)
                end = datetime.fromtimestamp((slot + 1) * self.width, UTC)
                name = f"history_raw_{start:%Y%m%d}"
                await conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF history_raw "
                    f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
                )
        self._partitions.update(missing)

    async def _entity_ids(self, conn: asyncpg.Connection, entity_ids: Iterable[str]) -> None:
        """Give new entities their ids in a transaction of their own, remembered once committed.

        Never inside a write's transaction: ids that a failed or cancelled write took back with it
        would stay remembered, and later points would be stored under ids nobody has.
        """
        missing = sorted({e for e in entity_ids if e not in self._ids})
        if not missing:
            return
        async with conn.transaction():
            await conn.execute(_SET_SCOPE, *self._home)
            await conn.execute(
                "INSERT INTO history_entities (entity_id, tenant_id, home_id) SELECT unnest($1::text[]), $2, $3 "
                "ON CONFLICT DO NOTHING",
                missing,
                *self._home,
            )
            rows = await conn.fetch(
                "SELECT id, entity_id FROM history_entities WHERE entity_id = ANY($1::text[]) AND tenant_id = $2 "
                "AND home_id = $3",
                missing,
                *self._home,
            )
        for id_, entity_id in rows:
            self._ids[entity_id] = id_
            self._names[id_] = entity_id

    async def _call(
        self, method: Callable[Concatenate[asyncpg.Connection, _P], Awaitable[_R]], *args: _P.args, **kwargs: _P.kwargs
    ) -> _R:
        pool = await self._ensure()
        try:
            # One transaction per call: the home's settings (row-level security) hold for exactly it.
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(_SET_SCOPE, *self._home)
                return await method(conn, *args, **kwargs)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
            raise as_error(self.name, err) from err

    async def _call_writing(
        self, method: Callable[Concatenate[asyncpg.Connection, _P], Awaitable[_R]], *args: _P.args, **kwargs: _P.kwargs
    ) -> _R:
        """Run a write, which makes entity ids and partitions first and opens its own transaction."""
        pool = await self._ensure()
        try:
            async with pool.acquire() as conn:
                return await method(conn, *args, **kwargs)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
            raise as_error(self.name, err) from err

    async def write(self, batch: Batch) -> None:
        """Store a batch in one transaction; a replay changes nothing."""
        await self._call_writing(self._write, batch)

    async def _write(self, conn: asyncpg.Connection, batch: Batch) -> None:
        points = batch.points
        await self._entity_ids(conn, {p.entity_id for p in points} | {a.entity_id for a in batch.attributes})
        if points and not self.timescale:
            await self._ensure_partitions(conn, {int(p.ts // self.width) for p in points})
        async with conn.transaction():
            await conn.execute(_SET_SCOPE, *self._home)
            await self._insert(conn, batch)

    async def _insert(self, conn: asyncpg.Connection, batch: Batch) -> None:
        points = batch.points
        tenant, home = self._home
        if points:
            ids = self._ids
            await conn.execute(
                "INSERT INTO history_raw (entity, ts, value, state, tenant_id, home_id) SELECT e, to_timestamp(t), v, s, "
                "$5, $6 FROM unnest($1::int[], $2::float8[], $3::float8[], $4::text[]) AS u(e, t, v, s) "
                "ON CONFLICT DO NOTHING",
                [ids[p.entity_id] for p in points],
                [p.ts for p in points],
                [p.value for p in points],
                [p.state for p in points],
                tenant,
                home,
            )
        if batch.attributes:
            sets = {hashlib.blake2b(a.attributes.encode(), digest_size=12).hexdigest(): a.attributes for a in batch.attributes}
            await conn.executemany(
                "INSERT INTO history_attribute_sets (hash, json, tenant_id, home_id) VALUES ($1, $2, $3, $4) "
                "ON CONFLICT DO NOTHING",
                [(digest, text, tenant, home) for digest, text in sets.items()],
            )
            await conn.executemany(
                "INSERT INTO history_attributes (entity, ts, hash, tenant_id, home_id) VALUES ($1, to_timestamp($2), $3, $4, $5) "
                "ON CONFLICT DO NOTHING",
                [
                    (self._ids[a.entity_id], a.ts, hashlib.blake2b(a.attributes.encode(), digest_size=12).hexdigest(), tenant, home)
                    for a in batch.attributes
                ],
            )

    async def write_tier(self, tier: str, rows: list[TierRow]) -> None:
        """Upsert tier rows."""
        await self._call_writing(self._write_tier, tier, rows)

    async def _write_tier(self, conn: asyncpg.Connection, tier: str, rows: list[TierRow]) -> None:
        assert tier in TIERS
        await self._entity_ids(conn, {r.entity_id for r in rows})
        async with conn.transaction():
            await conn.execute(_SET_SCOPE, *self._home)
            await self._upsert_tier(conn, tier, rows)

    async def _upsert_tier(self, conn: asyncpg.Connection, tier: str, rows: list[TierRow]) -> None:
        await conn.execute(
            f"INSERT INTO history_{tier} ({_TIER_COLUMNS}, tenant_id, home_id) SELECT e, to_timestamp(s), a, b, c, d, f, n, "
            "$9, $10 FROM unnest($1::int[], $2::float8[], $3::float8[], $4::float8[], $5::float8[], $6::float8[], "
            "$7::float8[], $8::int[]) AS u(e, s, a, b, c, d, f, n) ON CONFLICT (entity, start) DO UPDATE SET "
            "mean = EXCLUDED.mean, min = EXCLUDED.min, max = EXCLUDED.max, last = EXCLUDED.last, delta = EXCLUDED.delta, "
            "count = EXCLUDED.count",
            [self._ids[r.entity_id] for r in rows],
            *([r[i] for r in rows] for i in range(1, 8)),
            *self._home,
        )

    async def purge(
        self, tier: str, before: float, *, only: Iterable[str] | None = None, exclude: Iterable[str] = ()
    ) -> None:
        """Delete old rows; whole raw partitions are dropped when no override keeps them."""
        await self._call(self._purge, tier, before, None if only is None else list(only), list(exclude))

    async def _purge(
        self, conn: asyncpg.Connection, tier: str, before: float, only: list[str] | None, exclude: list[str]
    ) -> None:
        table, column = ("history_raw", "ts") if tier == "raw" else (f"history_{tier}", "start")
        assert tier == "raw" or tier in TIERS
        await self._refresh(conn)
        if only is not None:
            ids = [self._ids[e] for e in only if e in self._ids]
            if ids:
                await conn.execute(f"DELETE FROM {table} WHERE {column} < to_timestamp($1) AND entity = ANY($2::int[])", before, ids)
            return
        keep = [self._ids[e] for e in exclude if e in self._ids]
        if tier == "raw" and not self.timescale and not keep and self.drop_partitions:
            for slot in sorted(self._partitions | await self._existing_slots(conn)):
                if (slot + 1) * self.width <= before:
                    start = datetime.fromtimestamp(slot * self.width, UTC)
                    await conn.execute(f"DROP TABLE IF EXISTS history_raw_{start:%Y%m%d}")
                    self._partitions.discard(slot)
        await conn.execute(
            f"DELETE FROM {table} WHERE {column} < to_timestamp($1) AND NOT entity = ANY($2::int[]) "
            "AND tenant_id = $3 AND home_id = $4",
            before,
            keep,
            *self._home,
        )
        if tier == "raw":
            await conn.execute(
                "DELETE FROM history_attributes a WHERE ts < to_timestamp($1) AND tenant_id = $2 AND home_id = $3 "
                "AND ts < (SELECT max(ts) FROM history_attributes b WHERE b.entity = a.entity AND b.ts <= to_timestamp($1))",
                before,
                *self._home,
            )

    async def _existing_slots(self, conn: asyncpg.Connection) -> set[int]:
        rows = await conn.fetch(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'history_raw'"
        )
        slots = set()
        for row in rows:
            stamp = datetime.strptime(row["relname"][-8:], "%Y%m%d").replace(tzinfo=UTC).timestamp()
            slots.add(int(stamp // self.width))
        return slots

    async def _refresh(self, conn: asyncpg.Connection) -> None:
        for id_, entity_id in await conn.fetch(
            "SELECT id, entity_id FROM history_entities WHERE id <> ALL($1::int[]) AND tenant_id = $2 AND home_id = $3",
            list(self._names),
            *self._home,
        ):
            self._ids[entity_id] = id_
            self._names[id_] = entity_id

    def _filter(self, entity_ids: Iterable[str] | None) -> list[int] | None:
        if entity_ids is None:
            return None
        return [self._ids[e] for e in entity_ids if e in self._ids]

    async def read_states(
        self, entity_ids: Iterable[str] | None, start: float, end: float, *, include_start: bool = False
    ) -> dict[str, list[Sample]]:
        """Return points per entity in [start, end)."""
        return await self._call(self._read_states, None if entity_ids is None else list(entity_ids), start, end, include_start)

    async def _read_states(
        self, conn: asyncpg.Connection, entity_ids: list[str] | None, start: float, end: float, include_start: bool
    ) -> dict[str, list[Sample]]:
        await self._refresh(conn)
        ids = self._filter(entity_ids)
        # The home's entities only: their ids are the home's, and without ids the home is named.
        where = " AND tenant_id = $3 AND home_id = $4" if ids is None else " AND entity = ANY($3::int[])"
        args: list[Any] = [start, end, *self._home] if ids is None else [start, end, ids]
        out: dict[str, list[Sample]] = {}
        if include_start:
            sql = (
                "SELECT DISTINCT ON (entity) entity, extract(epoch FROM ts)::float8, value, state FROM history_raw "
                f"WHERE ts < to_timestamp($1) AND $2::float8 IS NOT NULL{where} ORDER BY entity, ts DESC"
            )
            for entity, ts, value, state in await conn.fetch(sql, *args):
                out.setdefault(self._names[entity], []).append(Sample(ts, value, state))
        sql = (
            "SELECT entity, extract(epoch FROM ts)::float8, value, state FROM history_raw "
            f"WHERE ts >= to_timestamp($1) AND ts < to_timestamp($2){where} ORDER BY entity, ts"
        )
        names = self._names
        for entity, ts, value, state in await conn.fetch(sql, *args):
            out.setdefault(names[entity], []).append(Sample(ts, value, state))
        return out

    async def read_attributes(
        self, entity_ids: Iterable[str], start: float, end: float
    ) -> dict[str, list[tuple[float, dict[str, Any]]]]:
        """Return attribute changes, led by the set in force at start."""
        return await self._call(self._read_attributes, list(entity_ids), start, end)

    async def _read_attributes(
        self, conn: asyncpg.Connection, entity_ids: list[str], start: float, end: float
    ) -> dict[str, list[tuple[float, dict[str, Any]]]]:
        await self._refresh(conn)
        ids = self._filter(entity_ids)
        sql = (
            "SELECT a.entity, extract(epoch FROM a.ts)::float8, s.json FROM history_attributes a "
            "JOIN history_attribute_sets s ON s.hash = a.hash AND s.tenant_id = a.tenant_id AND s.home_id = a.home_id "
            "WHERE a.entity = ANY($3::int[]) AND "
            "((a.ts >= to_timestamp($1) AND a.ts < to_timestamp($2)) OR a.ts = (SELECT max(ts) FROM "
            "history_attributes b WHERE b.entity = a.entity AND b.ts < to_timestamp($1))) ORDER BY a.entity, a.ts"
        )
        out: dict[str, list[tuple[float, dict[str, Any]]]] = {}
        for entity, ts, text in await conn.fetch(sql, start, end, ids):
            out.setdefault(self._names[entity], []).append((ts, orjson.loads(text)))
        return out

    async def last_values(self, before: float, entity_ids: Iterable[str] | None = None) -> dict[str, float]:
        """Return each entity's last numeric value before a time."""
        return await self._call(self._last_values, before, None if entity_ids is None else list(entity_ids))

    async def _last_values(self, conn: asyncpg.Connection, before: float, entity_ids: list[str] | None) -> dict[str, float]:
        await self._refresh(conn)
        ids = self._filter(entity_ids)
        if ids is not None:
            # One index step back per entity: DISTINCT ON reads every point before the time.
            sql = (
                "SELECT e, (SELECT value FROM history_raw WHERE entity = e AND ts < to_timestamp($1) "
                "AND value IS NOT NULL ORDER BY ts DESC LIMIT 1) AS v FROM unnest($2::int[]) AS e"
            )
            return {self._names[e]: v for e, v in await conn.fetch(sql, before, ids) if v is not None}
        sql = (
            "SELECT DISTINCT ON (entity) entity, value FROM history_raw WHERE ts < to_timestamp($1) "
            "AND value IS NOT NULL AND tenant_id = $2 AND home_id = $3 ORDER BY entity, ts DESC"
        )
        args: list[Any] = [before, *self._home]
        return {self._names[e]: v for e, v in await conn.fetch(sql, *args)}

    async def entities_between(self, start: float, end: float) -> list[str]:
        """Return every entity history knows: a superset of those with points in [start, end).

        Probing each entity's key over the day partitions took longer than reading a group
        that has no points in the range, which costs one small query.
        """
        del start, end
        return await self._call(self._known_entities)

    async def _known_entities(self, conn: asyncpg.Connection) -> list[str]:
        await self._refresh(conn)
        return list(self._names.values())

    async def aggregate_points(
        self, entity_ids: Iterable[str], start: float, end: float, width: float
    ) -> dict[str, list[Partial]]:
        """Return numeric points summed up per bucket, in one windowed GROUP BY."""
        return await self._call(self._aggregate_points, list(entity_ids), start, end, width)

    async def _aggregate_points(
        self, conn: asyncpg.Connection, entity_ids: list[str], start: float, end: float, width: float
    ) -> dict[str, list[Partial]]:
        await self._refresh(conn)
        ids = self._filter(entity_ids)
        if not ids:
            return {}
        out: dict[str, list[Partial]] = {}
        names = self._names
        for entity, *row in await conn.fetch(_AGGREGATE_SQL, start, end, ids, width):
            out.setdefault(names[entity], []).append(Partial(*row))
        return out

    async def read_tier(
        self, tier: str, entity_ids: Iterable[str] | None, start: float, end: float
    ) -> dict[str, list[TierRow]]:
        """Return tier rows per entity."""
        return await self._call(self._read_tier, tier, None if entity_ids is None else list(entity_ids), start, end)

    async def _read_tier(
        self, conn: asyncpg.Connection, tier: str, entity_ids: list[str] | None, start: float, end: float
    ) -> dict[str, list[TierRow]]:
        assert tier in TIERS
        await self._refresh(conn)
        ids = self._filter(entity_ids)
        where = " AND tenant_id = $3 AND home_id = $4" if ids is None else " AND entity = ANY($3::int[])"
        sql = (
            "SELECT entity, extract(epoch FROM start)::float8, mean, min, max, last, delta, count "
            f"FROM history_{tier} WHERE start >= to_timestamp($1) AND start < to_timestamp($2){where} ORDER BY entity, start"
        )
        args: list[Any] = [start, end, *self._home] if ids is None else [start, end, ids]
        out: dict[str, list[TierRow]] = {}
        for row in await conn.fetch(sql, *args):
            name = self._names[row[0]]
            out.setdefault(name, []).append(TierRow(name, *row[1:]))
        return out
