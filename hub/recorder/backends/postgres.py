"""PostgreSQL history: tables partitioned by plan, then by time (the raw table a hypertable with TimescaleDB).

Writes are one `INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING` per batch, so a
batch costs one round trip and a replayed one changes nothing. The layout is in pg_partitions:
the raw points and the three tiers are partitioned by plan, then by day or week, so a plan's old
history goes by dropping whole partitions, which is instant however large they are.

Every row belongs to a home (`tenant_id`, `home_id`; "default"/"default" for a single-home
install and for history from before homes existed). Row-level security, forced on the owner
too, lets a transaction see only the home its `app.tenant_id`/`app.home_id` settings name; the
backend sets both at the start of each of its transactions and filters by home in its queries
as well. A backend serves one home; the homes of a process that use one history URL share one
connection pool (pg_pool).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import asyncpg
import orjson

from hub.core.scope import DEFAULT_SCOPE, HomeScope
from hub.logfilter import one_line_warnings
from hub.recorder.backends import pg_partitions as layout
from hub.recorder.backends.base import TIERS, BackendError, Batch, HistoryBackend, Partial, Sample, TierRow, as_error
from hub.recorder.backends.pg_pool import DEFAULT_POOL_SIZE, POOLS, PoolRegistry, SharedPool
from hub.recorder.tiers import AS_RAW

if TYPE_CHECKING:
    import numpy as np

_LOGGER = logging.getLogger(__name__)
# The pool's "failed to restore the connection floor" while PostgreSQL is down: once per retry.
one_line_warnings("asyncpg.pool")
_P = ParamSpec("_P")
_R = TypeVar("_R")
DAY = layout.DAY
WEEK = layout.WEEK
_TIER_COLUMNS = "entity, start, mean, min, max, last, delta, count"
STRAY_WARNING_EVERY = 3600.0  # a default partition's rows are warned about once an hour
# How long a new connection's planning ahead may wait for a table another session changes.
WARM_LOCK_TIMEOUT_MS = 100
UPKEEP_POOL_SIZE = 2  # the owner's connections (schema, partitions): one job at a time, and a spare

_HOME = "tenant_id text NOT NULL DEFAULT 'default', home_id text NOT NULL DEFAULT 'default'"
# The tables that are not partitioned: entity names, attribute sets and their changes.
SCHEMA = [
    f"CREATE TABLE IF NOT EXISTS history_entities (id serial PRIMARY KEY, entity_id text NOT NULL, {_HOME})",
    f"CREATE TABLE IF NOT EXISTS history_attribute_sets (hash text NOT NULL, json text NOT NULL, {_HOME}, "
    "PRIMARY KEY (tenant_id, home_id, hash))",
    "CREATE TABLE IF NOT EXISTS history_attributes (entity int NOT NULL, ts timestamptz NOT NULL, "
    f"hash text NOT NULL, {_HOME}, PRIMARY KEY (entity, ts))",
]
HOME_TABLES = ("history_entities", "history_attribute_sets", "history_attributes", *layout.TABLES)
HOME_POLICY = layout.HOME_POLICY
_SET_SCOPE = "SELECT set_config('app.tenant_id', $1, true), set_config('app.home_id', $2, true)"
# Retention per key ("raw", "fifteen_second", "minute", "five_minute", "hour", "day") in seconds; None or inf: kept for ever.
Retentions = Mapping[str, float | None]


def _fine_as_raw(kept: dict[str, float]) -> dict[str, float]:
    """A plan that names no 15-second or minute retention keeps those rows as long as raw points (hub.recorder.tiers)."""
    if "raw" in kept:
        for tier in AS_RAW:
            kept.setdefault(tier, kept["raw"])
    return kept


# A chart's raw points, each entity's as two arrays in time order (the covering index's order:
# the subquery's ORDER BY costs no sort), summed up per bucket by partials.sum_up as SQLite's and
# InfluxDB's are. The windowed GROUP BY that summed them up here spent twice as long per point
# (a 2.5-hour chart of 10 sensors at 1 Hz reads 90,000). The range is two timestamptz parameters
# rather than to_timestamp(), so the planner prunes the partitions outside it. Each array comes
# as the binary forms run together, which numpy reads as they are: a float8[] became a Python
# float per point first, a third of that chart's client CPU. Times come as they are stored
# (timestamptz_send: microseconds since 2000) and become seconds in numpy as date_part('epoch')
# makes them (_epoch_seconds): date_part() and float8send() on every row took a sixth of that chart's time.
_CHART_POINTS_SQL = """
SELECT entity, string_agg(timestamptz_send(ts), ''::bytea), string_agg(float8send(value), ''::bytea)
FROM (SELECT entity, ts, value FROM history_raw
      WHERE entity = ANY($3::int[]) AND ts >= $1 AND ts < $2 AND value IS NOT NULL ORDER BY entity, ts) p
GROUP BY entity
"""
_EPOCH_FROM_2000_US = 946_684_800_000_000  # PostgreSQL's timestamps count microseconds from 2000-01-01


# One index step back per entity (DISTINCT ON would read every point before the time).
_LAST_VALUES_SQL = (
    "SELECT e, (SELECT value FROM history_raw WHERE entity = e AND ts < to_timestamp($1) "
    "AND value IS NOT NULL ORDER BY ts DESC LIMIT 1) AS v FROM unnest($2::int[]) AS e"
)


def _epoch_seconds(stamps: np.ndarray) -> np.ndarray:
    """Return timestamptz values (microseconds since 2000) as date_part('epoch') gives them, to the last bit.

    PostgreSQL divides the whole microseconds since 1970, made a float8, by 1e6 (timestamptz_part);
    its infinities are the extreme int64s.
    """
    import numpy as np

    seconds = (stamps.astype(np.int64) + _EPOCH_FROM_2000_US).astype(np.float64) / 1e6
    seconds[stamps == np.iinfo(np.int64).max] = math.inf
    seconds[stamps == np.iinfo(np.int64).min] = -math.inf
    return seconds


def _tier_sql(tier: str, *, by_home: bool) -> str:
    """Return the query of a tier's rows in [$1, $2) of the home ($3, $4) or of entities ($3)."""
    where = " AND tenant_id = $3 AND home_id = $4" if by_home else " AND entity = ANY($3::int[])"
    return (
        "SELECT entity, date_part('epoch', start), mean, min, max, last, delta, count "
        f"FROM history_{tier} WHERE start >= to_timestamp($1) AND start < to_timestamp($2){where} ORDER BY entity, start"
    )


async def warm_chart_queries(conn: asyncpg.Connection) -> None:
    """Plan a chart's queries once on a new connection, so that the first chart after a start does not.

    A connection's first plan of a query loads what the catalog says of every partition it
    may read (the hour tier alone has a partition a week), which the 4 h to 365 d charts on a
    fresh connection waited for. Run with no entities, so nothing is read. Before the
    schema exists (a first start) there is nothing to plan: the backend warms it once migrated.

    Planning locks every partition of the tables, and a partition being made holds its parent
    until it commits: the warm-up waits for no lock longer than WARM_LOCK_TIMEOUT (it gives up,
    and the connection's first chart plans instead), so a new connection never waits for one.
    """
    try:
        async with conn.transaction():
            await conn.execute(f"SET LOCAL lock_timeout = '{WARM_LOCK_TIMEOUT_MS}ms'")
            await conn.execute(_SET_SCOPE, "", "")
            await conn.fetch(_CHART_POINTS_SQL, _stamp(-math.inf), _stamp(math.inf), [])
            await conn.fetch(_LAST_VALUES_SQL, 0.0, [])
            for tier in TIERS:
                await conn.fetch(_tier_sql(tier, by_home=False), 0.0, 0.0, [])
    except asyncpg.PostgresError as err:  # a warm-up never keeps a connection from the pool
        _LOGGER.debug("Recorder: chart queries not planned ahead on a new connection: %s", err)


_FIRST_STAMP = datetime.min.replace(tzinfo=UTC).timestamp()
_LAST_STAMP = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()


def _stamp(ts: float) -> datetime:
    """Return epoch seconds as an aware datetime, clamped to the years datetime holds (1 to 9999)."""
    return datetime.fromtimestamp(min(max(ts, _FIRST_STAMP), _LAST_STAMP), UTC)


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
        pool_size: int = DEFAULT_POOL_SIZE,
        scope: HomeScope = DEFAULT_SCOPE,
        plan: str | None = None,
        retentions: Mapping[str, Retentions] | None = None,
        pools: PoolRegistry = POOLS,
        clock: Callable[[], float] = time.time,
        owner_url: str | None = None,
    ) -> None:
        """Serve the history of one home (scope) on its plan (None: a single-home install).

        Args:
            url: the database (postgresql:// or SQLAlchemy's postgresql+asyncpg://).
            partition: "day" or "week", the width of the raw points' partitions.
            pool_size: the connections of the process's pool for this URL, if this home opens it.
            scope: the home whose rows this backend reads and writes.
            plan: the home's plan: its rows go to the plan's partitions, shared by the plan's
                homes. Without one, the partitions of a single home (plan key '').
            retentions: every plan of the process, by name, and how long it keeps each tier, so
                that the partitions of a plan no home is on any more (a home changed plan)
                expire too. The home's own plan is among them.
            pools: where the process's pools are (one pool per URL, shared by the homes).
            clock: the time now, for the partitions made ahead and other plans' retention.
            owner_url: the tables' owner (`recorder: migrate_url`), when `url` is an application
                role that may read and write rows but not change tables: the schema, the
                partitions made ahead or on demand and the expired ones dropped go through a
                connection of the owner's (pg_partitions.py, "Upkeep").
        """
        self.dsn = _dsn(url)
        self.owner_dsn = _dsn(owner_url) if owner_url else None
        self._owner: SharedPool | None = None
        self.scope = scope
        self.plan = plan
        self.plan_key = layout.SINGLE if plan is None else plan
        self._home = (scope.tenant_id, scope.home_id)
        self.width = WEEK if partition == "week" else DAY
        self.widths = layout.widths(self.width)
        self.pool_size = pool_size
        self.retentions: dict[str, dict[str, float]] = {
            name: _fine_as_raw({key: math.inf if kept is None else float(kept) for key, kept in kept_by_key.items()})
            for name, kept_by_key in (retentions or {}).items()
        }
        if plan is not None and self.retentions and layout.SINGLE not in self.retentions:
            # History from before plans (the partitions of no plan) goes with the longest plan's.
            self.retentions[layout.SINGLE] = {
                key: max(kept.get(key, math.inf) for kept in self.retentions.values()) for key in layout.RETENTION_KEYS
            }
        self.pools = pools
        self.clock = clock
        self.timescale = False
        self._shared: SharedPool | None = None
        self._opening = asyncio.Lock()
        self._moved = False  # the home has tier rows under another plan (it changed plan)
        self._warned: dict[str, float] = {}
        self._ids: dict[str, int] = {}
        self._names: dict[int, str] = {}

    @property
    def _partitions(self) -> set[tuple[str, str, int]]:
        return self._shared.partitions if self._shared is not None else set()

    def _own_retention(self) -> dict[str, float]:
        return self.retentions.get(self.plan_key, {})

    async def open(self) -> None:
        """Connect (through the process's pool for the URL), migrate, and make the partitions ahead."""
        await self._ensure()

    async def _ensure(self) -> asyncpg.Pool:
        if self._shared is not None:
            return self._shared.pool
        async with self._opening:  # a read and a write at start take one reference, not two
            if self._shared is not None:
                return self._shared.pool
            return await self._open_shared()

    async def _open_shared(self) -> asyncpg.Pool:
        try:
            shared = await self.pools.acquire(self.dsn, max_size=self.pool_size, command_timeout=60, init=warm_chart_queries)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
            raise as_error(self.name, err) from err
        try:
            if self.owner_dsn is not None:
                self._owner = await self.pools.acquire(self.owner_dsn, max_size=UPKEEP_POOL_SIZE, command_timeout=60)
            async with shared.pool.acquire() as conn:
                async with shared.schema_lock:  # the homes of a process: one migrates, once
                    if not shared.migrated:
                        async with self._upkeep(conn) as owner, owner.transaction():
                            await owner.execute(_SET_SCOPE, *self._home)
                            shared.timescale = await self._migrate(owner)
                        shared.migrated = True
                        await warm_chart_queries(conn)  # on a first start, it was made before the tables
                self.timescale = shared.timescale
                self._shared = shared
                await self._ensure_ahead(conn)
                async with conn.transaction():
                    await conn.execute(_SET_SCOPE, *self._home)
                    for id_, entity_id in await conn.fetch(
                        "SELECT id, entity_id FROM history_entities WHERE tenant_id = $1 AND home_id = $2", *self._home
                    ):
                        self._ids[entity_id] = id_
                        self._names[id_] = entity_id
                    # Buckets are recomputed for the last hours only: a week back (one partition a plan) tells.
                    self._moved = bool(
                        await conn.fetchval(
                            "SELECT EXISTS (SELECT 1 FROM history_five_minute WHERE start >= to_timestamp($4) "
                            "AND tenant_id = $1 AND home_id = $2 AND plan <> $3)",
                            *self._home,
                            self.plan_key,
                            self.clock() - WEEK,
                        )
                    )
        except asyncpg.InsufficientPrivilegeError as err:
            self._shared = None
            await self.pools.release(shared)
            await self._release_owner()
            if self.owner_dsn is not None:
                raise as_error(self.name, err) from err
            message = (
                f"the role of recorder: db_url may read and write history but not change its tables ({err}): set "
                "recorder: migrate_url to the tables' owner (or storage: migrate_url, for the same database), "
                "which migrates them, makes the partitions ahead and drops the expired ones"
            )
            raise BackendError(message) from err
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
            self._shared = None
            await self.pools.release(shared)
            await self._release_owner()
            raise as_error(self.name, err) from err
        except BaseException:
            self._shared = None
            await self.pools.release(shared)
            await self._release_owner()
            raise
        return shared.pool

    @contextlib.asynccontextmanager
    async def _upkeep(self, conn: asyncpg.Connection) -> AsyncIterator[asyncpg.Connection]:
        """The connection that changes tables: the owner's when the backend has one, else `conn`."""
        if self._owner is None:
            yield conn
            return
        async with self._owner.pool.acquire() as owner:
            yield owner

    async def _release_owner(self) -> None:
        owner, self._owner = self._owner, None
        if owner is not None:
            await self.pools.release(owner)

    async def _migrate(self, conn: asyncpg.Connection) -> bool:
        """Create or convert the schema; return whether the raw table is a TimescaleDB hypertable."""
        # Processes of one database start side by side: one migrates at a time.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('hub history schema'))")
        for statement in SCHEMA:
            await conn.execute(statement)
        await self._secure(conn)
        # TimescaleDB is not installed on the machines the tests run on: the native path is the
        # tested one; with the extension available, a new raw table becomes a hypertable instead.
        available = await conn.fetchval("SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'")
        for table in layout.TABLES:
            kind = await conn.fetchval(
                "SELECT CASE WHEN c.relkind = 'p' THEN pt.partstrat::text ELSE c.relkind::text END FROM pg_class c "
                "LEFT JOIN pg_partitioned_table pt ON pt.partrelid = c.oid WHERE c.oid = to_regclass($1)",
                table,
            )
            if kind is None:
                if table == "history_raw" and available:
                    await conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
                    await conn.execute(f"CREATE TABLE history_raw ({layout.COLUMNS[table]})")
                    await conn.execute("SELECT create_hypertable('history_raw', 'ts', if_not_exists => TRUE)")
                    await layout.secure(conn, table)
                else:
                    await layout.create_parent(conn, table)
            elif kind != "l" and not (table == "history_raw" and await self._is_hypertable(conn)):
                moved = await layout.convert(conn, table, self.widths[table])
                _LOGGER.info("Recorder: %s is now partitioned by plan and time (%d rows moved, none lost)", table, moved)
        try:
            async with conn.transaction():  # a savepoint: a role that owns nothing opens the schema as it is
                await layout.ensure_chart_index(conn)
        except asyncpg.InsufficientPrivilegeError:
            _LOGGER.warning("Recorder: history_raw has no %s index and this role may not make it: charts read "
                            "raw points slower until the tables' owner connects once (recorder: migrate_url)",
                            layout.CHART_INDEX)
        return bool(available) and await self._is_hypertable(conn)

    @staticmethod
    async def _is_hypertable(conn: asyncpg.Connection) -> bool:
        return bool(
            await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relname = 'history_raw' AND c.relkind = 'r' AND EXISTS (SELECT 1 FROM pg_extension "
                "WHERE extname = 'timescaledb'))"
            )
        )

    async def _secure(self, conn: asyncpg.Connection) -> None:
        """Give every table its home columns (old rows: the default home) and its row-level security.

        Only what is missing: a role that is not the tables' owner opens a secured schema as is.
        """
        tables = await conn.fetch(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, EXISTS (SELECT 1 FROM pg_attribute a "
            "WHERE a.attrelid = c.oid AND a.attname = 'home_id' AND NOT a.attisdropped), (SELECT strpos(p.polqual::text, $2) > 0 "
            "FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'home_isolation') FROM pg_class c "
            "WHERE c.relname = ANY($1::text[]) AND c.relkind IN ('r', 'p') AND pg_table_is_visible(c.oid)",
            list(HOME_TABLES),
            layout.HOME_POLICY_MARK,
        )
        if not all(row[3] for row in tables):
            _LOGGER.info("Recorder: history from before homes becomes the default home's")
            for table, *_rest in tables:
                await conn.execute(
                    f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default', "
                    "ADD COLUMN IF NOT EXISTS home_id text NOT NULL DEFAULT 'default'"
                )
            await conn.execute("ALTER TABLE history_entities DROP CONSTRAINT IF EXISTS history_entities_entity_id_key")
            # A set's hash alone as its key would let one home's attributes answer for another's.
            await conn.execute(
                "ALTER TABLE history_attribute_sets DROP CONSTRAINT IF EXISTS history_attribute_sets_pkey, "
                "ADD PRIMARY KEY (tenant_id, home_id, hash)"
            )
        if await conn.fetchval("SELECT to_regclass('history_entities_home_entity') IS NULL"):
            await conn.execute("CREATE UNIQUE INDEX history_entities_home_entity ON history_entities (tenant_id, home_id, entity_id)")
        for table, enabled, forced, _columns, current in tables:
            if current is None:
                await conn.execute(f"CREATE POLICY home_isolation ON {table} {HOME_POLICY}")
            if not enabled:
                await conn.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            if not forced:
                await conn.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        if any(current is False for *_rest, current in tables):
            await self._renew_policies(conn)

    @staticmethod
    async def _renew_policies(conn: asyncpg.Connection) -> None:
        """Give the history tables and partitions whose home policy is older its current form (the same rule).

        The tables are renewed with their partitions, at once: while the tables have the current
        form, the partitions (hundreds, in a database of a few plans) are not looked at.
        """
        older = await conn.fetch(
            "SELECT c.relname FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid WHERE p.polname = 'home_isolation' "
            "AND c.relname LIKE 'history%' AND pg_table_is_visible(c.oid) AND strpos(p.polqual::text, $1) = 0",
            layout.HOME_POLICY_MARK,
        )
        try:
            async with conn.transaction():  # a savepoint: a role that owns nothing opens the schema as it is
                for (table,) in older:
                    await conn.execute(f"ALTER POLICY home_isolation ON {table} {HOME_POLICY}")
        except asyncpg.InsufficientPrivilegeError:
            _LOGGER.warning("Recorder: the history tables' home policy reads the home's settings on every row and this "
                            "role may not change it: history reads are slower until the tables' owner connects once "
                            "(recorder: migrate_url)")

    async def close(self) -> None:
        """Give the process's pool back (the last home to do so closes it)."""
        shared, self._shared = self._shared, None
        if shared is not None:
            await self.pools.release(shared)
        await self._release_owner()

    def _table(self, tier: str) -> str:
        assert tier == "raw" or tier in TIERS
        return "history_raw" if tier == "raw" else f"history_{tier}"

    def _partitioned(self, table: str) -> bool:
        return not (self.timescale and table == "history_raw")

    def _slots(self, table: str, stamps: Iterable[float]) -> set[int]:
        """Return the time partitions of stamps that should exist: from retention's start to the ones ahead.

        A time outside them (a clock far ahead, a point older than the plan keeps) is left to
        the plan's default partition, where the purge finds it and says so.
        """
        width = self.widths[table]
        now = self.clock()
        last = int(now // width) + layout.AHEAD
        kept = self._own_retention().get(layout.TABLES[table][1], math.inf)
        first = -math.inf if math.isinf(kept) else (now - kept) // width
        return {slot for slot in {int(ts // width) for ts in stamps} if first <= slot <= last}

    async def _ensure_slots(self, conn: asyncpg.Connection, table: str, slots: set[int]) -> None:
        """Create missing partitions of the home's plan in a transaction of their own, remembered once committed.

        Never inside a write's transaction: a write that fails or is cancelled would take the
        partitions back with it while they stayed remembered.
        """
        plan = self.plan_key
        missing = sorted(slot for slot in slots if (table, plan, slot) not in self._partitions)
        if not missing:
            return
        width = self.widths[table]
        async with self._upkeep(conn) as owner, owner.transaction():
            # Homes and processes share the partitions: one creates them at a time.
            await owner.execute("SELECT pg_advisory_xact_lock(hashtext('hub history partitions'))")
            await layout.ensure_plan(owner, table, plan)
            for slot in missing:
                await layout.ensure_slot(owner, table, plan, slot * width, (slot + 1) * width)
        self._partitions.update((table, plan, slot) for slot in missing)

    async def _ensure_ahead(self, conn: asyncpg.Connection) -> None:
        """Make the plan's partitions of now and the next ones, so no reading waits for one."""
        for table, width in self.widths.items():
            if self._partitioned(table):
                now = int(self.clock() // width)
                await self._ensure_slots(conn, table, set(range(now, now + layout.AHEAD + 1)))

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
        await self._entity_ids(conn, {p[0] for p in points} | {a.entity_id for a in batch.attributes})
        if points and not self.timescale:
            await self._ensure_slots(conn, "history_raw", self._slots("history_raw", {p[1] for p in points}))
        async with conn.transaction():
            await conn.execute(_SET_SCOPE, *self._home)
            await self._insert(conn, batch)

    async def _insert(self, conn: asyncpg.Connection, batch: Batch) -> None:
        points = batch.points
        tenant, home = self._home
        if points:
            ids = self._ids
            await conn.execute(
                "INSERT INTO history_raw (entity, ts, value, state, tenant_id, home_id, plan) SELECT e, to_timestamp(t), v, "
                "s, $5, $6, $7 FROM unnest($1::int[], $2::float8[], $3::float8[], $4::text[]) AS u(e, t, v, s) "
                "ON CONFLICT DO NOTHING",
                [ids[p[0]] for p in points],
                [p[1] for p in points],
                [p[2] for p in points],
                [p[3] for p in points],
                tenant,
                home,
                self.plan_key,
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
        table = self._table(tier)
        await self._ensure_slots(conn, table, self._slots(table, {r.start for r in rows}))
        async with conn.transaction():
            await conn.execute(_SET_SCOPE, *self._home)
            if self._moved and rows:
                # A home that changed plan: the buckets recomputed now leave the old plan's partitions.
                await conn.execute(
                    f"DELETE FROM {table} WHERE plan <> $1 AND entity = ANY($2::int[]) AND start = ANY($3::timestamptz[])",
                    self.plan_key,
                    [self._ids[r.entity_id] for r in rows],
                    [datetime.fromtimestamp(r.start, UTC) for r in rows],
                )
            await self._upsert_tier(conn, tier, rows)

    async def _upsert_tier(self, conn: asyncpg.Connection, tier: str, rows: list[TierRow]) -> None:
        await conn.execute(
            f"INSERT INTO history_{tier} ({_TIER_COLUMNS}, tenant_id, home_id, plan) SELECT e, to_timestamp(s), a, b, c, d, "
            "f, n, $9, $10, $11 FROM unnest($1::int[], $2::float8[], $3::float8[], $4::float8[], $5::float8[], $6::float8[], "
            "$7::float8[], $8::int[]) AS u(e, s, a, b, c, d, f, n) ON CONFLICT (entity, start, plan) DO UPDATE SET "
            "mean = EXCLUDED.mean, min = EXCLUDED.min, max = EXCLUDED.max, last = EXCLUDED.last, delta = EXCLUDED.delta, "
            "count = EXCLUDED.count",
            [self._ids[r.entity_id] for r in rows],
            *([r[i] for r in rows] for i in range(1, 8)),
            *self._home,
            self.plan_key,
        )

    async def purge(
        self, tier: str, before: float, *, only: Iterable[str] | None = None, exclude: Iterable[str] = ()
    ) -> None:
        """Drop the partitions past retention; delete rows only where a partition cannot go.

        A home on a plan drops its plan's partitions that end before `before` (the plan's homes
        keep the same span, and overrides only shorten it) and every other plan's that its
        retention has passed; it deletes no rows but an override's and those of its own that a
        default partition holds. A home without a plan, the only home of its database, drops
        whole partitions as well and deletes what is left before `before`, as precisely as the
        other backends (unless an override keeps some entities longer: then it deletes rows).
        """
        await self._call_writing(self._purge, tier, before, None if only is None else list(only), list(exclude))

    async def _purge(
        self, conn: asyncpg.Connection, tier: str, before: float, only: list[str] | None, exclude: list[str]
    ) -> None:
        table = self._table(tier)
        column = layout.TABLES[table][0]
        async with conn.transaction():
            await conn.execute(_SET_SCOPE, *self._home)
            await self._refresh(conn)
        if only is not None:
            ids = [self._ids[e] for e in only if e in self._ids]
            if ids:
                async with conn.transaction():
                    await conn.execute(_SET_SCOPE, *self._home)
                    await conn.execute(
                        f"DELETE FROM {table} WHERE {column} < to_timestamp($1) AND entity = ANY($2::int[])", before, ids
                    )
            return
        keep = [self._ids[e] for e in exclude if e in self._ids]
        single = self.plan is None
        if self._partitioned(table):
            await self._ensure_ahead(conn)
            expiry: dict[str, float] = {}
            if not (single and keep):
                expiry[self.plan_key] = before
            now = self.clock()
            key = layout.TABLES[table][1]
            for plan, kept in self.retentions.items():
                if plan != self.plan_key and not math.isinf(kept.get(key, math.inf)):
                    expiry[plan] = now - kept[key]
            await self._drop(conn, table, expiry)
        async with conn.transaction():
            await conn.execute(_SET_SCOPE, *self._home)
            if single or not self._partitioned(table):
                await conn.execute(
                    f"DELETE FROM {table} WHERE {column} < to_timestamp($1) AND NOT entity = ANY($2::int[]) "
                    "AND tenant_id = $3 AND home_id = $4",
                    before,
                    keep,
                    *self._home,
                )
            else:
                # What lies outside every partition does not go with one: the home's own, past retention.
                await conn.execute(
                    f"DELETE FROM {layout.default_table(table, self.plan_key)} WHERE {column} < to_timestamp($1) "
                    "AND NOT entity = ANY($2::int[]) AND tenant_id = $3 AND home_id = $4",
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
            if self._partitioned(table):
                self._warn_strays(await layout.strays(conn, [table]))

    async def _drop(self, conn: asyncpg.Connection, table: str, expiry: Mapping[str, float]) -> None:
        """Drop each plan's partitions of a table that end before its time; forget them."""
        if not expiry:
            return
        async with self._upkeep(conn) as owner, owner.transaction():
            await owner.execute("SELECT pg_advisory_xact_lock(hashtext('hub history partitions'))")
            found = await layout.read_layout(owner, table)
            width = self.widths[table]
            for leaf in found.leaves:
                if leaf.plan in expiry and leaf.end <= expiry[leaf.plan]:
                    await owner.execute(f"DROP TABLE IF EXISTS {leaf.name}")
                    _LOGGER.debug("Recorder: dropped %s (plan %r, past its retention)", leaf.name, leaf.plan)
                    self._partitions.discard((table, leaf.plan, int(leaf.start // width)))

    def _warn_strays(self, strays: list[layout.Stray]) -> None:
        now = time.monotonic()
        for stray in strays:
            if now - self._warned.get(stray.table, -math.inf) < STRAY_WARNING_EVERY:
                continue
            self._warned[stray.table] = now
            _LOGGER.warning(
                "Recorder: home %s has %d rows in %s, outside the partitions kept (times %s to %s): readings "
                "from a clock far off, or older than the plan keeps; they go when past retention",
                self.scope,
                stray.rows,
                stray.table,
                datetime.fromtimestamp(stray.first, UTC).isoformat(),
                datetime.fromtimestamp(stray.last, UTC).isoformat(),
            )

    async def strays(self) -> list[layout.Stray]:
        """Return the home's rows that default partitions hold (times outside the partitions made)."""
        tables = [table for table in layout.TABLES if self._partitioned(table)]

        async def counted(conn: asyncpg.Connection) -> list[layout.Stray]:
            return await layout.strays(conn, tables)

        return await self._call(counted)

    async def retention_hint(self, retention: Mapping[str, float]) -> None:
        """Learn how long the home keeps each tier: no partition is made for a time past it."""
        self.retentions[self.plan_key] = {key: float(kept) for key, kept in retention.items()}

    async def _refresh(self, conn: asyncpg.Connection, wanted: list[str] | None = None) -> None:
        """Learn the entity ids made since (by this process's writes or another's), unless every one wanted is known.

        Ids are never taken back, so a known entity needs no round trip (nor, in a home of many
        entities, the scan of the home's entities that the query is).
        """
        if wanted is not None and all(entity_id in self._ids for entity_id in wanted):
            return
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
        await self._refresh(conn, entity_ids)
        ids = self._filter(entity_ids)
        # The home's entities only: their ids are the home's, and without ids the home is named.
        where = " AND tenant_id = $3 AND home_id = $4" if ids is None else " AND entity = ANY($3::int[])"
        args: list[Any] = [start, end, *self._home] if ids is None else [start, end, ids]
        out: dict[str, list[Sample]] = {}
        if include_start:
            sql = (
                "SELECT DISTINCT ON (entity) entity, date_part('epoch', ts), value, state FROM history_raw "
                f"WHERE ts < to_timestamp($1) AND $2::float8 IS NOT NULL{where} ORDER BY entity, ts DESC"
            )
            for entity, ts, value, state in await conn.fetch(sql, *args):
                out.setdefault(self._names[entity], []).append(Sample(ts, value, state))
        sql = (
            "SELECT entity, date_part('epoch', ts), value, state FROM history_raw "
            f"WHERE ts >= to_timestamp($1) AND ts < to_timestamp($2){where} ORDER BY entity, ts"
        )
        names = self._names
        for entity, ts, value, state in await conn.fetch(sql, *args):
            out.setdefault(names[entity], []).append(Sample(ts, value, state))
        return out

    async def read_points(
        self, entity_ids: Iterable[str], start: float, end: float, *, include_start: bool = False
    ) -> dict[str, list[tuple[float, float | str | None]]]:
        """Return plain (ts, value or state) pairs per entity, each entity's columns read as three arrays."""
        return await self._call(self._read_points, list(entity_ids), start, end, include_start)

    async def _read_points(
        self, conn: asyncpg.Connection, entity_ids: list[str], start: float, end: float, include_start: bool
    ) -> dict[str, list[tuple[float, float | str | None]]]:
        await self._refresh(conn, entity_ids)
        ids = self._filter(entity_ids)
        out: dict[str, list[tuple[float, float | str | None]]] = {}
        if not ids:
            return out
        leads: dict[int, tuple[float, float | str | None]] = {}
        if include_start:
            sql = (
                "SELECT DISTINCT ON (entity) entity, date_part('epoch', ts), value, state FROM history_raw "
                "WHERE ts < to_timestamp($1) AND entity = ANY($2::int[]) ORDER BY entity, ts DESC"
            )
            for entity, ts, value, state in await conn.fetch(sql, start, ids):
                leads[entity] = (ts, value if state is None else state)
        # A day of 1 Hz points is 86,400 rows an entity: as arrays, the driver decodes them in
        # bulk instead of making a record per row.
        sql = (
            "SELECT array_agg(date_part('epoch', ts) ORDER BY ts), array_agg(value ORDER BY ts), "
            "array_agg(state ORDER BY ts) FROM history_raw "
            "WHERE entity = $3 AND ts >= to_timestamp($1) AND ts < to_timestamp($2)"
        )
        for entity in ids:
            stamps, values, states = await conn.fetchrow(sql, start, end, entity)
            pairs: list[tuple[float, float | str | None]] = []
            if entity in leads:
                pairs.append(leads[entity])
            if stamps:
                if states.count(None) == len(states):
                    pairs.extend(zip(stamps, values, strict=True))
                else:
                    pairs.extend((ts, value if state is None else state) for ts, value, state in zip(stamps, values, states, strict=True))
            if pairs:
                out[self._names[entity]] = pairs
        return out

    async def read_attributes(
        self, entity_ids: Iterable[str], start: float, end: float
    ) -> dict[str, list[tuple[float, dict[str, Any]]]]:
        """Return attribute changes, led by the set in force at start."""
        return await self._call(self._read_attributes, list(entity_ids), start, end)

    async def _read_attributes(
        self, conn: asyncpg.Connection, entity_ids: list[str], start: float, end: float
    ) -> dict[str, list[tuple[float, dict[str, Any]]]]:
        await self._refresh(conn, entity_ids)
        ids = self._filter(entity_ids)
        sql = (
            "SELECT a.entity, date_part('epoch', a.ts), s.json FROM history_attributes a "
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
        await self._refresh(conn, entity_ids)
        ids = self._filter(entity_ids)
        if ids is not None:
            # One index step back per entity: DISTINCT ON reads every point before the time.
            return {self._names[e]: v for e, v in await conn.fetch(_LAST_VALUES_SQL, before, ids) if v is not None}
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
        """Return numeric points summed up per bucket: read as arrays, summed up with numpy off the loop."""
        found = await self._call(self._chart_points, list(entity_ids), start, end)
        if not found:
            return {}

        def summed() -> dict[str, list[Partial]]:
            # Imported with the first chart, as SQLite's: a start without charts does not need numpy.
            import numpy as np

            from hub.recorder.partials import sum_up

            out: dict[str, list[Partial]] = {}
            for entity_id, times, values in found:
                ts, vs = _epoch_seconds(np.frombuffer(times, ">i8")), np.frombuffer(values, ">f8").astype(np.float64)
                if len(ts) > 1 and (np.diff(ts) < 0).any():  # string_agg keeps the subquery's order; if ever not, sort
                    order = np.argsort(ts, kind="stable")
                    ts, vs = ts[order], vs[order]
                out[entity_id] = sum_up(ts, vs, width)
            return out

        return await asyncio.to_thread(summed)

    async def _chart_points(
        self, conn: asyncpg.Connection, entity_ids: list[str], start: float, end: float
    ) -> list[tuple[str, bytes, bytes]]:
        await self._refresh(conn, entity_ids)
        ids = self._filter(entity_ids)
        if not ids:
            return []
        names = self._names
        rows = await conn.fetch(_CHART_POINTS_SQL, _stamp(start), _stamp(end), ids)
        return [(names[entity], times, values) for entity, times, values in rows]

    async def read_tier(
        self, tier: str, entity_ids: Iterable[str] | None, start: float, end: float
    ) -> dict[str, list[TierRow]]:
        """Return tier rows per entity."""
        return await self._call(self._read_tier, tier, None if entity_ids is None else list(entity_ids), start, end)

    async def _read_tier(
        self, conn: asyncpg.Connection, tier: str, entity_ids: list[str] | None, start: float, end: float
    ) -> dict[str, list[TierRow]]:
        assert tier in TIERS
        await self._refresh(conn, entity_ids)
        ids = self._filter(entity_ids)
        sql = _tier_sql(tier, by_home=ids is None)
        args: list[Any] = [start, end, *self._home] if ids is None else [start, end, ids]
        out: dict[str, list[TierRow]] = {}
        for row in await conn.fetch(sql, *args):
            name = self._names[row[0]]
            out.setdefault(name, []).append(TierRow(name, *row[1:]))
        return out
