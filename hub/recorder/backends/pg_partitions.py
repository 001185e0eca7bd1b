"""PostgreSQL history laid out by plan, then by time, so that a plan's retention drops partitions.

The raw table and the five tiers are each partitioned by LIST (plan), every plan's partition by
RANGE of time:

    history_raw                      PARTITION BY LIST (plan)
      history_raw_p_free             FOR VALUES IN ('free')  PARTITION BY RANGE (ts)
        history_raw_p_free_20250601  one day (or week) of the free plan's homes
        history_raw_p_free_default   what falls outside the partitions made (reported, see below)
      history_raw_single             FOR VALUES IN ('')  (no plan: a single-home install)
        history_raw_single_20250601 ...

Homes on one plan share its partitions and keep the same span, so a plan's expired history goes
by `DROP TABLE` of whole partitions, never by deleting rows. A home without a plan (plan key '')
is the only home of its database. Partitions are made for the days ahead before they are needed
and on demand for a write; a reading whose time lies outside the span kept (a clock far off, a
backfill older than retention) lands in the plan's default partition, which `strays()` counts.

Row-level security is enabled, forced and given the home policy on every partition as on the
parent: a query that names a partition directly still sees its own home's rows only.

Widths: raw points, 15-second and minute rows by `recorder: partition` (a day, or a week); 5-minute and hour rows by week,
day rows by four weeks. A partition goes once its end is past the retention, so a plan keeps up
to one width longer than its retention.

Charts read raw points by (entity, ts) and need only their value: `history_raw_chart`, made on the
parent (so on every partition there is and every one made later), holds those and the home's
columns row-level security checks, so a chart's raw part is an index-only scan.

Upkeep: every function here that changes tables (create_parent, ensure_plan, ensure_slot,
convert, secure, and the backend's DROP of expired partitions) needs the tables' owner. A hub of
many homes serves rows as an application role that owns nothing; its backend runs these through a
connection of the owner (`recorder: migrate_url`, or storage's for the same database), never
through the application role's (docs/homes.md, "Upkeep as the application role").
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from hub.recorder import tiers
from hub.recorder.backends.base import BackendError

DAY = 86400
WEEK = 7 * DAY
SINGLE = ""  # the plan key of a home without a plan
# table: (time column, retention key); widths per table are in widths().
TABLES = {
    "history_raw": ("ts", "raw"),
    "history_fifteen_second": ("start", "fifteen_second"),
    "history_minute": ("start", "minute"),
    "history_five_minute": ("start", "five_minute"),
    "history_hour": ("start", "hour"),
    "history_day": ("start", "day"),
}
RETENTION_KEYS = tuple(key for _column, key in TABLES.values())
TIER_WIDTHS = {"history_five_minute": WEEK, "history_hour": WEEK, "history_day": 4 * WEEK}
# 15-second and minute rows are kept as long as raw points (unless a plan says otherwise): partitioned alike.
AS_RAW = tuple(f"history_{tier}" for tier in tiers.AS_RAW)
TIER_TABLES = (*AS_RAW, *TIER_WIDTHS)
AHEAD = 2  # partitions made ahead of now, besides the current one
_HOME = "tenant_id text NOT NULL DEFAULT 'default', home_id text NOT NULL DEFAULT 'default'"
_PLAN = "plan text NOT NULL DEFAULT ''"
COLUMNS = {
    "history_raw": f"entity int NOT NULL, ts timestamptz NOT NULL, value float8, state text, {_HOME}, {_PLAN}, "
    "PRIMARY KEY (entity, ts, plan)",
    **{
        table: "entity int NOT NULL, start timestamptz NOT NULL, mean float8, min float8, max float8, last float8, "
        f"delta float8, count int, {_HOME}, {_PLAN}, PRIMARY KEY (entity, start, plan)"
        for table in TIER_TABLES
    },
}
# The settings as subqueries, which PostgreSQL evaluates once per query (an InitPlan). Called on
# every row, current_setting() made the raw part of a 2.5-hour chart of 10 sensors at 1 Hz (90,000
# index entries) take 1.7 times as long.
_SAME_HOME = (
    "tenant_id = (SELECT current_setting('app.tenant_id', true)) AND home_id = (SELECT current_setting('app.home_id', true))"
)
HOME_POLICY = f"USING ({_SAME_HOME}) WITH CHECK ({_SAME_HOME})"
# What the policy's stored form (pg_policy.polqual, a node tree) holds in its current form, the
# subqueries, and an older one does not (read without deparsing, which opens every partition).
HOME_POLICY_MARK = "{SUBLINK"
_QUOTED = re.compile(r"'([^']*)'")


def widths(raw_width: int) -> dict[str, int]:
    """Return each partitioned table's partition width in seconds."""
    return {"history_raw": raw_width, **dict.fromkeys(AS_RAW, raw_width), **TIER_WIDTHS}


def _ident(name: str) -> str:
    # PostgreSQL keeps 63 bytes of a name: a long plan name is shortened with a hash, kept unique.
    if len(name) <= 63:
        return name
    return f"{name[:54]}_{hashlib.blake2b(name.encode(), digest_size=4).hexdigest()}"


def plan_table(table: str, plan: str) -> str:
    """Return the name of a plan's partition of a table."""
    return f"{table}_single" if plan == SINGLE else _ident(f"{table}_p_{plan}")


def slot_table(table: str, plan: str, start: float) -> str:
    """Return the name of the time partition of a plan that starts at start (epoch seconds)."""
    return _ident(f"{plan_table(table, plan)}_{datetime.fromtimestamp(start, UTC):%Y%m%d}")


def default_table(table: str, plan: str) -> str:
    """Return the name of a plan's default partition (times outside the partitions made)."""
    return _ident(f"{plan_table(table, plan)}_default")


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _stamp(seconds: float) -> str:
    return _literal(datetime.fromtimestamp(seconds, UTC).isoformat())


async def secure(conn: asyncpg.Connection, name: str) -> None:
    """Enable and force row-level security on a table or partition and give it the home policy."""
    await conn.execute(f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY")
    await conn.execute(f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY")
    await conn.execute(f"DROP POLICY IF EXISTS home_isolation ON {name}")
    await conn.execute(f"CREATE POLICY home_isolation ON {name} {HOME_POLICY}")


async def create_parent(conn: asyncpg.Connection, table: str, *, secured: bool = True) -> None:
    """Create a partitioned table (by plan), secured unless told otherwise."""
    await conn.execute(f"CREATE TABLE {table} ({COLUMNS[table]}) PARTITION BY LIST (plan)")
    if secured:
        await secure(conn, table)


@dataclass(frozen=True, slots=True)
class Leaf:
    """A time partition of a plan: [start, end) in epoch seconds."""

    name: str
    plan: str
    start: float
    end: float


@dataclass(slots=True)
class Layout:
    """What the catalog says of one partitioned table: its plans' partitions and their time partitions."""

    plans: dict[str, str]  # plan -> its partition's name
    leaves: list[Leaf]
    defaults: dict[str, str]  # plan -> its default partition's name


async def read_layout(conn: asyncpg.Connection, table: str) -> Layout:
    """Read a table's partitions from the catalog (the names are labels; the bounds decide)."""
    await conn.execute("SET LOCAL TimeZone = 'UTC'")  # bounds printed in UTC
    rows = await conn.fetch(
        "SELECT c.relname, p.relname, t.level, pg_get_expr(c.relpartbound, c.oid) FROM pg_partition_tree($1::regclass) t "
        "JOIN pg_class c ON c.oid = t.relid LEFT JOIN pg_class p ON p.oid = t.parentrelid WHERE t.level > 0 "
        "ORDER BY t.level",
        table,
    )
    layout = Layout({}, [], {})
    plan_of_table: dict[str, str] = {}
    for name, parent, level, bound in rows:
        values = _QUOTED.findall(bound or "")
        if level == 1 and values:
            layout.plans[values[0]] = name
            plan_of_table[name] = values[0]
        elif level == 2 and parent in plan_of_table:
            plan = plan_of_table[parent]
            if bound == "DEFAULT":
                layout.defaults[plan] = name
            elif len(values) == 2:
                start, end = (datetime.fromisoformat(v).timestamp() for v in values)
                layout.leaves.append(Leaf(name, plan, start, end))
    return layout


async def ensure_plan(conn: asyncpg.Connection, table: str, plan: str, *, secured: bool = True) -> None:
    """Create a plan's partition of a table and its default partition, unless they exist."""
    column, _key = TABLES[table]
    name = plan_table(table, plan)
    exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name)
    if exists:
        return
    await conn.execute(
        f"CREATE TABLE {name} PARTITION OF {table} FOR VALUES IN ({_literal(plan)}) PARTITION BY RANGE ({column})"
    )
    default = default_table(table, plan)
    await conn.execute(f"CREATE TABLE {default} PARTITION OF {name} DEFAULT")
    if secured:
        await secure(conn, name)
        await secure(conn, default)


async def ensure_slot(
    conn: asyncpg.Connection, table: str, plan: str, start: float, end: float, *, secured: bool = True
) -> str:
    """Create the time partition [start, end) of a plan, unless it exists; return its name.

    Rows the plan's default partition holds for that time (readings that came early, from a
    clock ahead) move into the new partition with it.
    """
    column, _key = TABLES[table]
    name = slot_table(table, plan, start)
    if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name):
        return name
    parent, default = plan_table(table, plan), default_table(table, plan)
    bounds = f"FOR VALUES FROM ({_stamp(start)}) TO ({_stamp(end)})"
    # Every home's rows, not the connection's: the owner is exempt for the rest of this transaction only.
    await conn.execute(f"ALTER TABLE {default} NO FORCE ROW LEVEL SECURITY")
    waiting = await conn.fetchval(
        f"SELECT EXISTS (SELECT 1 FROM {default} WHERE {column} >= to_timestamp($1) AND {column} < to_timestamp($2))",
        start,
        end,
    )
    if waiting:
        await conn.execute(f"CREATE TABLE {name} (LIKE {parent} INCLUDING DEFAULTS)")
        await conn.execute(
            f"WITH moved AS (DELETE FROM {default} WHERE {column} >= to_timestamp($1) AND {column} < to_timestamp($2) "
            f"RETURNING *) INSERT INTO {name} SELECT * FROM moved",
            start,
            end,
        )
        await conn.execute(f"ALTER TABLE {parent} ATTACH PARTITION {name} {bounds}")
    else:
        await conn.execute(f"CREATE TABLE {name} PARTITION OF {parent} {bounds}")
    if secured:
        await secure(conn, name)
        await conn.execute(f"ALTER TABLE {default} FORCE ROW LEVEL SECURITY")
    return name


CHART_INDEX = "history_raw_chart"


async def ensure_chart_index(conn: asyncpg.Connection) -> bool:
    """Create the raw points' covering index for charts unless it exists; return whether it was made.

    Made on the partitioned parent, PostgreSQL builds it on every partition and gives it to each
    partition made or attached later. A database with history builds it once, at the first start
    of a hub with it (under the schema lock, as the owner).
    """
    if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", CHART_INDEX):
        return False
    await conn.execute(f"CREATE INDEX {CHART_INDEX} ON history_raw (entity, ts) INCLUDE (value, tenant_id, home_id)")
    return True


class LayoutError(BackendError):
    """The history tables cannot be brought to the layout by plan (not their owner, rows lost)."""


async def convert(conn: asyncpg.Connection, table: str, width: int) -> int:
    """Turn a table of the layout before plans into the layout by plan; return the rows moved.

    The old table (the raw points by day or week, a tier unpartitioned) becomes the partitions
    of the home without a plan (plan key ''), one per time its rows cover, in the caller's
    transaction: every row or none. Run by the tables' owner, which row-level security does not
    hold back for this copy alone (the old table is dropped after it).

    Raises:
        LayoutError: the connection's role does not own the table, or the count of rows differs.
    """
    column, _key = TABLES[table]
    owner = await conn.fetchval("SELECT pg_has_role(current_user, relowner, 'USAGE') FROM pg_class WHERE oid = $1::regclass", table)
    if not owner:
        message = (
            f"{table} has the layout from before plans; connect once as the role that owns it "
            "(the migration copies every home's rows into the partitions by plan)"
        )
        raise LayoutError(message)
    old = _ident(f"{table}_before_plans")
    await conn.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    await conn.execute(f"ALTER TABLE {table} RENAME TO {old}")
    before = await conn.fetchval(f"SELECT count(*) FROM {old}")
    await create_parent(conn, table, secured=False)
    await ensure_plan(conn, table, SINGLE, secured=False)
    for (slot,) in await conn.fetch(f"SELECT DISTINCT floor(extract(epoch FROM {column}) / $1)::bigint FROM {old}", width):
        await ensure_slot(conn, table, SINGLE, slot * width, (slot + 1) * width, secured=False)
    names = [row[0] for row in await conn.fetch("SELECT relid::regclass::text FROM pg_partition_tree($1::regclass)", table)]
    columns = [
        row[0]
        for row in await conn.fetch(
            "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped "
            "AND attname <> 'plan' ORDER BY attnum",
            table,
        )
    ]
    listed = ", ".join(columns)
    status = await conn.execute(f"INSERT INTO {table} ({listed}, plan) SELECT {listed}, '' FROM {old}")
    moved = int(status.split()[-1])
    after = await conn.fetchval(f"SELECT count(*) FROM {table}")
    if not before == moved == after:
        message = f"{table}: {before} rows before the layout by plan, {after} after; nothing was changed"
        raise LayoutError(message)
    await conn.execute(f"DROP TABLE {old}")
    for name in names:
        await secure(conn, name)
    return moved


@dataclass(frozen=True, slots=True)
class Stray:
    """Rows a default partition holds: times outside every partition made."""

    table: str
    rows: int
    first: float
    last: float


async def strays(conn: asyncpg.Connection, tables: Iterable[str]) -> list[Stray]:
    """Count the rows of every plan's default partition (as the connection's home sees them)."""
    out = []
    for table in tables:
        column, _key = TABLES[table]
        layout = await read_layout(conn, table)
        for name in layout.defaults.values():
            rows, first, last = await conn.fetchrow(
                f"SELECT count(*), extract(epoch FROM min({column}))::float8, extract(epoch FROM max({column}))::float8 "
                f"FROM {name}"
            )
            if rows:
                out.append(Stray(name, rows, first, last))
    return out
