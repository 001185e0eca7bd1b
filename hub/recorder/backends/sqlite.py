"""SQLite history: history.db beside the metadata, written by one thread with executemany."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar, cast

import orjson

from hub.recorder.backends.base import (
    TIERS,
    AttributeChange,
    Batch,
    HistoryBackend,
    Partial,
    Sample,
    TierRow,
    as_error,
)

_T = TypeVar("_T")
SCHEMA_VERSION = 1
_TIER_COLUMNS = "entity, start, mean, min, max, last, delta, count"
READERS = 2  # reader threads (WAL: readers do not block each other or the writer)

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)",
    "CREATE TABLE IF NOT EXISTS entities (id INTEGER PRIMARY KEY, entity_id TEXT UNIQUE NOT NULL)",
    # WITHOUT ROWID keeps the points clustered by (entity, ts): history reads are range scans.
    "CREATE TABLE IF NOT EXISTS raw (entity INTEGER NOT NULL, ts REAL NOT NULL, value REAL, "
    "state TEXT, PRIMARY KEY (entity, ts)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS raw_ts ON raw (ts)",
    "CREATE TABLE IF NOT EXISTS attribute_sets (hash TEXT PRIMARY KEY, json TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS attributes (entity INTEGER NOT NULL, ts REAL NOT NULL, "
    "hash TEXT NOT NULL, PRIMARY KEY (entity, ts)) WITHOUT ROWID",
    *(
        f"CREATE TABLE IF NOT EXISTS {tier} (entity INTEGER NOT NULL, start REAL NOT NULL, "
        "mean REAL, min REAL, max REAL, last REAL, delta REAL, count INTEGER, "
        "PRIMARY KEY (entity, start)) WITHOUT ROWID"
        for tier in TIERS
    ),
    # The summed delta of purged hours per entity: statistics' sum stays absolute after a purge.
    "CREATE TABLE IF NOT EXISTS hour_offsets (entity INTEGER PRIMARY KEY, total REAL NOT NULL)",
]


def _hash(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


class SQLiteBackend(HistoryBackend):
    """History in a SQLite file, with its own schema (separate from the metadata database)."""

    name = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        # One writer thread owns the write connection (sqlite3 objects stay on one thread);
        # reads get their own threads, each with its connection, so a long write never delays a
        # query, and a chart's query never waits behind the downsampler reading a day of points.
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="history-sqlite-writer")
        self._reader = ThreadPoolExecutor(READERS, thread_name_prefix="history-sqlite-reader")
        self._wconn: sqlite3.Connection | None = None
        self._local = threading.local()  # each reader thread's connection
        self._rconns: list[sqlite3.Connection] = []
        self._rlock = threading.Lock()
        self._reading = False
        self._ids: dict[str, int] = {}
        self._names: dict[int, str] = {}

    async def _run(self, pool: ThreadPoolExecutor, func: Callable[..., _T], *args: Any) -> _T:
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, func, *args)
        except sqlite3.Error as err:
            raise as_error(self.name, err) from err

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL is durable across a process crash in WAL mode; the spool covers the rest.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
        return conn

    async def open(self) -> None:
        """Create or migrate history.db."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._wconn = await self._run(self._writer, self._connect)
        await self._run(self._writer, self._migrate)
        self._reading = True

    def _migrate(self) -> None:
        conn = self._wconn
        assert conn is not None
        for statement in SCHEMA:
            conn.execute(statement)
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        for id_, entity_id in conn.execute("SELECT id, entity_id FROM entities"):
            self._ids[entity_id] = id_
            self._names[id_] = entity_id

    async def close(self) -> None:
        """Close the connections and their threads."""
        self._reading = False
        if self._wconn is not None:
            await asyncio.get_running_loop().run_in_executor(self._writer, self._wconn.close)
        self._writer.shutdown(wait=True)
        await asyncio.get_running_loop().run_in_executor(None, self._reader.shutdown, True)
        with self._rlock:
            for conn in self._rconns:
                conn.close()  # the threads that used them have ended
            self._rconns.clear()
        self._wconn = None

    def _rconn(self) -> sqlite3.Connection | None:
        """Return this reader thread's connection, opened on its first read (None once closed)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None and self._reading:
            conn = self._local.conn = self._connect()
            with self._rlock:
                self._rconns.append(conn)
        return conn

    # -- writing (writer thread only)

    def _id(self, entity_id: str) -> int:
        found = self._ids.get(entity_id)
        if found is not None:
            return found
        assert self._wconn is not None
        self._wconn.execute("INSERT OR IGNORE INTO entities (entity_id) VALUES (?)", (entity_id,))
        row = self._wconn.execute("SELECT id FROM entities WHERE entity_id = ?", (entity_id,)).fetchone()
        found = cast(int, row[0])  # sqlite3 types rows as Any
        self._ids[entity_id] = found
        self._names[found] = entity_id
        return found

    async def write(self, batch: Batch) -> None:
        """Store a batch in one transaction; replays of it change nothing."""
        await self._run(self._writer, self._write, batch)

    def _write(self, batch: Batch) -> None:
        conn = self._wconn
        assert conn is not None
        ids = self._ids
        conn.execute("BEGIN")
        try:
            idf = self._id
            rows = [(ids.get(p[0]) or idf(p[0]), p[1], p[2], p[3]) for p in batch.points]
            conn.executemany("INSERT OR IGNORE INTO raw VALUES (?, ?, ?, ?)", rows)
            if batch.attributes:
                self._write_attributes(conn, batch.attributes)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _write_attributes(self, conn: sqlite3.Connection, changes: list[AttributeChange]) -> None:
        sets = {}
        rows = []
        for change in changes:
            digest = _hash(change.attributes)
            sets[digest] = change.attributes
            rows.append((self._id(change.entity_id), change.ts, digest))
        conn.executemany("INSERT OR IGNORE INTO attribute_sets VALUES (?, ?)", sets.items())
        conn.executemany("INSERT OR IGNORE INTO attributes VALUES (?, ?, ?)", rows)

    async def write_tier(self, tier: str, rows: list[TierRow]) -> None:
        """Upsert tier rows."""
        await self._run(self._writer, self._write_tier, tier, rows)

    def _write_tier(self, tier: str, rows: list[TierRow]) -> None:
        conn = self._wconn
        assert conn is not None and tier in TIERS
        conn.execute("BEGIN")
        try:
            values = [(self._id(r.entity_id), *r[1:]) for r in rows]
            conn.executemany(f"INSERT OR REPLACE INTO {tier} ({_TIER_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)", values)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    async def purge(
        self, tier: str, before: float, *, only: Iterable[str] | None = None, exclude: Iterable[str] = ()
    ) -> None:
        """Delete old rows of a tier, for all entities or some."""
        await self._run(self._writer, self._purge, tier, before, only, list(exclude))

    def _purge(self, tier: str, before: float, only: Iterable[str] | None, exclude: list[str]) -> None:
        conn = self._wconn
        assert conn is not None
        table, column = ("raw", "ts") if tier == "raw" else (tier, "start")
        assert table in ("raw", *TIERS)
        where, args = f"{column} < ?", [before]
        if only is not None:
            ids = [self._ids[e] for e in only if e in self._ids]
            if not ids:
                return
            where += f" AND entity IN ({','.join('?' * len(ids))})"
            args += ids
        elif exclude:
            ids = [self._ids[e] for e in exclude if e in self._ids]
            if ids:
                where += f" AND entity NOT IN ({','.join('?' * len(ids))})"
                args += ids
        if tier == "hour":
            conn.execute(
                f"INSERT INTO hour_offsets SELECT entity, SUM(delta) FROM hour WHERE {where} GROUP BY entity "
                "ON CONFLICT (entity) DO UPDATE SET total = total + excluded.total",
                args,
            )
        conn.execute(f"DELETE FROM {table} WHERE {where}", args)
        if tier == "raw":
            # Keep the attributes in force at the cutoff: later points still refer to them.
            conn.execute(
                "DELETE FROM attributes WHERE ts < ? AND ts < (SELECT MAX(a2.ts) FROM attributes a2 "
                "WHERE a2.entity = attributes.entity AND a2.ts <= ?)",
                (before, before),
            )
            conn.execute("DELETE FROM attribute_sets WHERE hash NOT IN (SELECT DISTINCT hash FROM attributes)")

    # -- reading (reader thread)

    def _prepare_read(self, entity_ids: Iterable[str] | None) -> tuple[sqlite3.Connection, str, list[int]] | None:
        """Return the reader connection and the entity filter, or None when no entity is known."""
        conn = self._rconn()
        assert conn is not None
        self._refresh_names(conn)
        found = self._entity_filter(entity_ids)
        if found is None:
            return None
        return conn, *found

    def _entity_filter(self, entity_ids: Iterable[str] | None) -> tuple[str, list[int]] | None:
        if entity_ids is None:
            return "", []
        ids = [self._ids[e] for e in entity_ids if e in self._ids]
        if not ids:
            return None
        return f" AND entity IN ({','.join('?' * len(ids))})", ids

    async def read_states(
        self, entity_ids: Iterable[str] | None, start: float, end: float, *, include_start: bool = False
    ) -> dict[str, list[Sample]]:
        """Return points per entity in [start, end)."""
        entity_ids = None if entity_ids is None else list(entity_ids)
        return await self._run(self._reader, self._read_states, entity_ids, start, end, include_start)

    def _read_states(
        self, entity_ids: list[str] | None, start: float, end: float, include_start: bool
    ) -> dict[str, list[Sample]]:
        prepared = self._prepare_read(entity_ids)
        if prepared is None:
            return {}
        conn, where, ids = prepared
        out: dict[int, list[Sample]] = {}
        if include_start:
            sql = (
                "SELECT r.entity, r.ts, r.value, r.state FROM raw r JOIN (SELECT entity, MAX(ts) AS ts "
                f"FROM raw WHERE ts < ?{where} GROUP BY entity) m ON r.entity = m.entity AND r.ts = m.ts"
            )
            for entity, ts, value, state in conn.execute(sql, [start, *ids]):
                out.setdefault(entity, []).append(Sample(ts, value, state))
        sql = f"SELECT entity, ts, value, state FROM raw WHERE ts >= ? AND ts < ?{where} ORDER BY entity, ts"
        for entity, ts, value, state in conn.execute(sql, [start, end, *ids]):
            out.setdefault(entity, []).append(Sample(ts, value, state))
        return {self._names[k]: v for k, v in out.items()}

    async def read_points(
        self, entity_ids: Iterable[str], start: float, end: float, *, include_start: bool = False
    ) -> dict[str, list[tuple[float, float | str | None]]]:
        """Return plain (ts, value or state) pairs per entity: one primary-key range scan each."""
        return await self._run(self._reader, self._read_points, list(entity_ids), start, end, include_start)

    def _read_points(
        self, entity_ids: list[str], start: float, end: float, include_start: bool
    ) -> dict[str, list[tuple[float, float | str | None]]]:
        conn = self._rconn()
        assert conn is not None
        self._refresh_names(conn)
        out: dict[str, list[tuple[float, float | str | None]]] = {}
        for entity_id in entity_ids:
            entity = self._ids.get(entity_id)
            if entity is None:
                continue
            # The text when a number was kept as written, else the number: two columns fetch faster.
            rows = conn.execute(
                "SELECT ts, COALESCE(state, value) FROM raw WHERE entity = ? AND ts >= ? AND ts < ? ORDER BY ts",
                (entity, start, end),
            ).fetchall()
            if include_start:
                before = conn.execute(
                    "SELECT ts, COALESCE(state, value) FROM raw WHERE entity = ? AND ts < ? ORDER BY ts DESC LIMIT 1",
                    (entity, start),
                ).fetchall()
                rows = before + rows if before else rows
            if rows:
                out[entity_id] = rows
        return out

    async def aggregate_points(
        self, entity_ids: Iterable[str], start: float, end: float, width: float
    ) -> dict[str, list[Partial]]:
        """Return numeric points summed up per bucket: a primary-key range scan and numpy, in the reader thread.

        (A windowed GROUP BY in SQLite takes five times as long as reading the pairs.)
        """
        return await self._run(self._reader, self._aggregate_points, list(entity_ids), start, end, width)

    def _aggregate_points(
        self, entity_ids: list[str], start: float, end: float, width: float
    ) -> dict[str, list[Partial]]:
        # Imported with the first chart: numpy is ~11 MB and 0.13 CPU s a start without charts does not need.
        import numpy as np

        from hub.recorder.partials import sum_up

        pair = np.dtype([("ts", np.float64), ("value", np.float64)])
        conn = self._rconn()
        assert conn is not None
        self._refresh_names(conn)
        out: dict[str, list[Partial]] = {}
        for entity_id in entity_ids:
            entity = self._ids.get(entity_id)
            if entity is None:
                continue
            cursor = conn.execute(
                "SELECT ts, value FROM raw WHERE entity = ? AND ts >= ? AND ts < ? AND value IS NOT NULL ORDER BY ts",
                (entity, start, end),
            )
            # Straight into an array: a third less time than a list of row tuples, and no burst
            # of objects for the allocator to keep (two hours of 10 sensors at 1 Hz: 72,000 rows).
            rows = np.fromiter(cursor, dtype=pair)
            if len(rows):
                out[entity_id] = sum_up(rows["ts"], rows["value"], width)
        return out

    async def entities_between(self, start: float, end: float) -> list[str]:
        """Return the entities with raw points in [start, end): one probe of the key per known entity."""
        return await self._run(self._reader, self._entities_between, start, end)

    def _entities_between(self, start: float, end: float) -> list[str]:
        conn = self._rconn()
        assert conn is not None
        self._refresh_names(conn)
        sql = "SELECT 1 FROM raw WHERE entity = ? AND ts >= ? AND ts < ? LIMIT 1"
        return [name for id_, name in list(self._names.items()) if conn.execute(sql, (id_, start, end)).fetchone()]

    async def read_tier_values(
        self, tier: str, entity_ids: Iterable[str], start: float, end: float
    ) -> dict[str, list[tuple[float, float, float, float, float, float]]]:
        """Return plain (start, mean, min, max, last, delta) tuples per entity."""
        return await self._run(self._reader, self._read_tier_values, tier, list(entity_ids), start, end)

    def _read_tier_values(
        self, tier: str, entity_ids: list[str], start: float, end: float
    ) -> dict[str, list[tuple[float, float, float, float, float, float]]]:
        conn = self._rconn()
        assert conn is not None and tier in TIERS
        self._refresh_names(conn)
        sql = f"SELECT start, mean, min, max, last, delta FROM {tier} WHERE entity = ? AND start >= ? AND start < ? ORDER BY start"
        out = {}
        for entity_id in entity_ids:
            entity = self._ids.get(entity_id)
            if entity is not None and (rows := conn.execute(sql, (entity, start, end)).fetchall()):
                out[entity_id] = rows
        return out

    async def hour_totals_before(self, entity_ids: Iterable[str], before: float) -> dict[str, float]:
        """Return summed hour deltas before a time, purged hours included."""
        return await self._run(self._reader, self._hour_totals_before, list(entity_ids), before)

    def _hour_totals_before(self, entity_ids: list[str], before: float) -> dict[str, float]:
        conn = self._rconn()
        assert conn is not None
        self._refresh_names(conn)
        out: dict[str, float] = {}
        for entity_id in entity_ids:
            entity = self._ids.get(entity_id)
            if entity is None:
                continue
            (kept,) = conn.execute(
                "SELECT TOTAL(delta) FROM hour WHERE entity = ? AND start < ?", (entity, before)
            ).fetchone()
            purged = conn.execute("SELECT total FROM hour_offsets WHERE entity = ?", (entity,)).fetchone()
            out[entity_id] = kept + (purged[0] if purged else 0.0)
        return out

    def _refresh_names(self, conn: sqlite3.Connection) -> None:
        # The writer thread fills the maps; the reader only fills gaps (e.g. a fresh process).
        if len(self._names) == len(self._ids):
            (count,) = conn.execute("SELECT COUNT(*) FROM entities").fetchone()
            if count == len(self._names):
                return
        for id_, entity_id in conn.execute("SELECT id, entity_id FROM entities"):
            self._names.setdefault(id_, entity_id)
            self._ids.setdefault(entity_id, id_)

    async def read_attributes(
        self, entity_ids: Iterable[str], start: float, end: float
    ) -> dict[str, list[tuple[float, dict[str, Any]]]]:
        """Return attribute changes, led by the set in force at start."""
        return await self._run(self._reader, self._read_attributes, list(entity_ids), start, end)

    def _read_attributes(
        self, entity_ids: list[str], start: float, end: float
    ) -> dict[str, list[tuple[float, dict[str, Any]]]]:
        prepared = self._prepare_read(entity_ids)
        if prepared is None:
            return {}
        conn, where, ids = prepared
        sql = (
            "SELECT a.entity, a.ts, s.json FROM attributes a JOIN attribute_sets s ON s.hash = a.hash "
            "WHERE ((a.ts >= ? AND a.ts < ?) OR a.ts = (SELECT MAX(ts) FROM attributes b "
            f"WHERE b.entity = a.entity AND b.ts < ?)){where.replace('entity', 'a.entity')} ORDER BY a.entity, a.ts"
        )
        out: dict[str, list[tuple[float, dict[str, Any]]]] = {}
        for entity, ts, text in conn.execute(sql, [start, end, start, *ids]):
            out.setdefault(self._names[entity], []).append((ts, orjson.loads(text)))
        return out

    async def last_values(self, before: float, entity_ids: Iterable[str] | None = None) -> dict[str, float]:
        """Return each entity's last numeric value before a time."""
        entity_ids = None if entity_ids is None else list(entity_ids)
        return await self._run(self._reader, self._last_values, before, entity_ids)

    def _last_values(self, before: float, entity_ids: list[str] | None) -> dict[str, float]:
        prepared = self._prepare_read(entity_ids)
        if prepared is None:
            return {}
        conn, where, ids = prepared
        if ids:
            # One backward step on the primary key per entity: a grouped MAX(ts) reads every
            # point before the time, seconds for a week of 1 Hz sensors.
            sql = "SELECT value FROM raw WHERE entity = ? AND ts < ? AND value IS NOT NULL ORDER BY ts DESC LIMIT 1"
            found = ((entity, conn.execute(sql, (entity, before)).fetchone()) for entity in ids)
            return {self._names[entity]: row[0] for entity, row in found if row is not None}
        sql = (
            "SELECT r.entity, r.value FROM raw r JOIN (SELECT entity, MAX(ts) AS ts FROM raw "
            f"WHERE ts < ? AND value IS NOT NULL{where} GROUP BY entity) m "
            "ON r.entity = m.entity AND r.ts = m.ts"
        )
        return {self._names[e]: v for e, v in conn.execute(sql, [before, *ids])}

    async def read_tier(
        self, tier: str, entity_ids: Iterable[str] | None, start: float, end: float
    ) -> dict[str, list[TierRow]]:
        """Return tier rows per entity."""
        entity_ids = None if entity_ids is None else list(entity_ids)
        return await self._run(self._reader, self._read_tier, tier, entity_ids, start, end)

    def _read_tier(
        self, tier: str, entity_ids: list[str] | None, start: float, end: float
    ) -> dict[str, list[TierRow]]:
        assert tier in TIERS
        prepared = self._prepare_read(entity_ids)
        if prepared is None:
            return {}
        conn, where, ids = prepared
        sql = f"SELECT {_TIER_COLUMNS} FROM {tier} WHERE start >= ? AND start < ?{where} ORDER BY entity, start"
        out: dict[str, list[TierRow]] = {}
        names = self._names
        for row in conn.execute(sql, [start, end, *ids]):
            name = names[row[0]]
            out.setdefault(name, []).append(TierRow(name, *row[1:]))
        return out
