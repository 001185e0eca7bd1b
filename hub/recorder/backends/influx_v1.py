"""InfluxDB 1.x history over its HTTP API: line protocol to /write, InfluxQL to /query (answers in MessagePack).

Layout: measurement `state` (tag entity_id; field `value` for numbers, `state` for text),
`attributes` (field `json`), and the tiers `fifteen_second`, `minute`, `five_minute`, `hour` and `day` (fields
mean, min, max, last, delta, count). Each lives in a retention policy of its own name (`raw`
for the first two), so InfluxDB expires data itself once the recorder has set their durations; the hub
downsamples (it computes the time-weighted mean and reset-aware counter deltas, which
continuous queries cannot) and deletes only what per-entity overrides keep shorter.
A point is identified by measurement, tags and timestamp, so a replayed batch overwrites
itself and never duplicates.

Every point carries its home in the tags `tenant` and `home`, and every query filters on them
(points written before homes existed have neither and belong to the default home). A home on a
plan writes into the retention policies of its plan (`<plan>_raw`, `<plan>_five_minute`, ...),
whose durations are the plan's, so InfluxDB expires each plan's points by itself.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import aiohttp
import msgpack
import orjson

from hub.core.scope import DEFAULT_SCOPE, HomeScope
from hub.recorder.backends.base import (
    TIERS,
    BackendError,
    Batch,
    CarriedPartials,
    HistoryBackend,
    Partial,
    RefusedWrite,
    Sample,
    TierRow,
    as_error,
)

if TYPE_CHECKING:
    import numpy as np

RP_RAW = "raw"
_TIER_FIELDS = ("mean", "min", "max", "last", "delta", "count")


LOOKBACK = 86400.0  # how far back last_values looks before it reads all time
# A write goes out in requests of at most this many lines and bytes: InfluxDB's guidance is 5,000 to
# 10,000 points a request, and aiohttp warns (ResourceWarning) of bodies over 1 MiB, which a replay
# after an outage (the spool's backlog, merged up to the recorder's max_batch) passes easily.
WRITE_LINES = 5_000
WRITE_BYTES = 1_000_000

CARRY = 60.0  # how far before a chart's raw points aggregate_points reads, for the value carried in
# The day tier's shard groups: with InfluxDB's 7 days a year's chart reads 52 of them, each opened
# per series (twice the CPU of the same rows in two groups). A tenth of the tier's retention, at
# most 26 weeks: InfluxDB drops a group once all of it has expired, so rows outlive the retention
# by that much at most. ALTER RETENTION POLICY shapes new groups only: an existing database's
# 7-day groups stay as they are until they expire.
DAY_SHARDS = 26 * 7 * 86400
# The raw points' shard groups: 3 hours. A raw query costs influxd a copy of all the cached points
# of each series in every group it touches, and a group's cache holds everything written to it
# until it is snapshotted (25 MB, or ten minutes after its last write): in InfluxDB's 7-day groups
# for a week's policy, the newest 10 minutes of a chart cost influxd 57 ms of CPU for 10 sensors at
# 1 Hz, in 3-hour groups about 10 (1-hour groups: 9). Shorter groups cost a DELETE more (each
# touches every group it spans: a per-entity retention override's purge of a week is 56 groups).
RAW_SHARDS = 3 * 3600
# A chart's raw points and tier rows are read in this many queries of a share of the entities each,
# at the same time: influxd answers each on a core of its own (one query is one core's work).
CHART_READS = 2


def _shards(tier: str, seconds: float = math.inf) -> str:
    """Return the SHARD DURATION clause of a tier's retention policy kept `seconds` ("" for InfluxDB's own)."""
    # A shard group may not be longer than its policy's duration (at least an hour).
    if tier in ("raw", "fifteen_second"):  # a chart of hours reads either, up to the newest minutes
        return f" SHARD DURATION {max(int(min(seconds, RAW_SHARDS)), 3600)}s"
    if tier == "day":
        return f" SHARD DURATION {max(int(min(seconds / 10, DAY_SHARDS)), 3600)}s"
    return ""


def _shares(ids: list[str] | None) -> list[list[str] | None]:
    """Split the entities of a chart's read into CHART_READS shares, read at the same time (None: all, one read)."""
    if ids is None:
        return [None]
    return [ids[i::CHART_READS] for i in range(min(CHART_READS, len(ids)))]


def _string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ident(name: str) -> str:
    return '"' + name.replace('"', '\\"') + '"'


def _micros(ts: float) -> int:
    return int(round(ts * 1_000_000))


def _time(ts: float) -> str:
    return f"{_micros(ts)}u"


def _tag(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def home_tags(scope: HomeScope) -> str:
    """Return the line-protocol tags after entity_id that name a home (keys in sorted order)."""
    return f",home={_tag(scope.home_id)},tenant={_tag(scope.tenant_id)}"


def home_condition(scope: HomeScope) -> str:
    """Return the InfluxQL condition that selects one home's points (the default home's: untagged ones too)."""
    tenant, home = _literal(scope.tenant_id), _literal(scope.home_id)
    if scope == DEFAULT_SCOPE:
        return f"((tenant = {tenant} AND home = {home}) OR (tenant = '' AND home = ''))"
    return f"tenant = {tenant} AND home = {home}"


def _entity_regex(entity_ids: Iterable[str]) -> str:
    return "/^(" + "|".join(re.escape(e).replace("/", "\\/") for e in entity_ids) + ")$/"


def write_bodies(lines: list[str], max_lines: int = WRITE_LINES, max_bytes: int = WRITE_BYTES) -> Iterator[bytes]:
    """Yield the request bodies of a write: the lines in order, at most max_lines and max_bytes a body
    (a single line longer than max_bytes goes alone)."""
    for start in range(0, len(lines), max_lines):
        part = lines[start : start + max_lines]
        body = "\n".join(part).encode()
        if len(body) <= max_bytes:
            yield body
            continue
        # Long lines (attribute sets): cut by size.
        chunk: list[bytes] = []
        size = 0  # the chunk's bytes, a newline after each line
        for line in part:
            data = line.encode()
            if chunk and size + len(data) > max_bytes:
                yield b"\n".join(chunk)
                chunk, size = [], 0
            chunk.append(data)
            size += len(data) + 1
        yield b"\n".join(chunk)


def refused_for_good(name: str, answer: str) -> RefusedWrite | None:
    """Return the error for a write InfluxDB (1.x or 2.x) refuses for good, else None (an outage).

    A field type conflict: another writer stored the field with another type, and InfluxDB keeps
    a field's first type for the shard group's life. These points can never be written there,
    while later ones land in the next group (1.x raw points: within 3 hours). Points of the
    request without the conflict were stored (a partial write); writing them again overwrites
    them alike.
    """
    if "field type conflict" not in answer:
        return None
    return RefusedWrite(f"{name}: {answer[:300]} - refused for good: InfluxDB keeps a field's first type for the whole shard group")


def _error_text(body: bytes) -> str:
    """Return the error influxd answered with (a MessagePack map), or the body's start as text."""
    try:
        answer = msgpack.unpackb(body, raw=False)
    except (ValueError, msgpack.UnpackException):
        answer = None
    error = answer.get("error") if isinstance(answer, dict) else None
    return error if isinstance(error, str) else body[:300].decode(errors="replace")


def _keys(unpacker: msgpack.Unpacker) -> Iterator[str]:
    """Yield the keys of the map the unpacker is at; the caller reads or skips each one's value."""
    for _ in range(unpacker.read_map_header()):
        yield unpacker.unpack()


def _points(body: bytes, statement: str) -> dict[str, np.ndarray]:
    """Return the rows of an answer to `SELECT <one float field> ... GROUP BY entity_id` per entity: [[µs, value], ...].

    A chart's hour of ten 1 Hz sensors is 36,000 rows. influxd writes each as the same 19 bytes
    (an array of two, an int64 and a float64), so the rows are read in place as one numpy
    record array rather than as a Python list each; rows written otherwise are unpacked one by one.
    """
    import numpy as np

    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(body)
    parts: dict[str, list[np.ndarray]] = {}
    while unpacker.tell() < len(body):
        for key in _keys(unpacker):  # a document: {"results": [...]}
            if key != "results":
                unpacker.skip()
                continue
            for _ in range(unpacker.read_array_header()):
                for field in _keys(unpacker):  # a result: {"statement_id", "series", "error", "partial"}
                    if field == "error":
                        message = f"influxdb: {unpacker.unpack()} (query: {statement[:200]})"
                        raise BackendError(message)
                    if field != "series":
                        unpacker.skip()
                        continue
                    for _ in range(unpacker.read_array_header()):
                        entity_id, rows = "", np.empty((0, 2))
                        for name in _keys(unpacker):  # a series: {"name", "tags", "columns", "values"}
                            if name == "tags":
                                entity_id = unpacker.unpack()["entity_id"]
                            elif name == "values":
                                rows = _rows(unpacker, body)
                            else:
                                unpacker.skip()
                        parts.setdefault(entity_id, []).append(rows)
    return {entity_id: found[0] if len(found) == 1 else np.concatenate(found) for entity_id, found in parts.items()}


def _rows(unpacker: msgpack.Unpacker, body: bytes) -> np.ndarray:
    """Return the [time, value] rows the unpacker is at as an (n, 2) float64 array."""
    import numpy as np

    row = np.dtype([("array", "u1"), ("int64", "u1"), ("time", ">i8"), ("float64", "u1"), ("value", ">f8")])
    count, at = unpacker.read_array_header(), unpacker.tell()
    size = count * row.itemsize
    if at + size <= len(body):
        packed = np.frombuffer(body, row, count, at)
        if (packed["array"] == 0x92).all() and (packed["int64"] == 0xD3).all() and (packed["float64"] == 0xCB).all():
            unpacker.read_bytes(size)
            rows = np.empty((count, 2))
            rows[:, 0], rows[:, 1] = packed["time"], packed["value"]
            return rows
    return np.array([unpacker.unpack() for _ in range(count)], dtype=np.float64).reshape(-1, 2)


class InfluxV1Backend(HistoryBackend):
    """History in an InfluxDB 1.x database."""

    name = "influxdb"

    def __init__(
        self,
        url: str,
        database: str,
        *,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30,
        scope: HomeScope = DEFAULT_SCOPE,
        plan: str | None = None,
    ) -> None:
        """Serve one home's history (scope); a home on a plan uses that plan's retention policies."""
        self.url = url.rstrip("/")
        self.database = database
        self.scope = scope
        self._tags = home_tags(scope)
        self._home = f" AND {home_condition(scope)}"
        prefix = "" if plan is None else f"{plan}_"
        # Retention policy per tier: the plan's own, or those of a single-home install.
        self.rps = {"raw": f"{prefix}{RP_RAW}", **{tier: f"{prefix}{tier}" for tier in TIERS}}
        self.raw_rp = self.rps["raw"]
        self.has_plan = plan is not None
        self.auth = aiohttp.BasicAuth(username, password or "") if username else None
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.retention_applied = False
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            # Uncompressed answers: gzip doubles influxd's CPU per chart query (a megabyte of JSON for
            # an hour of ten 1 Hz sensors) and costs the hub inflating it, to spare a local link bytes.
            # MessagePack rather than JSON: influxd encodes it with less CPU, and the points of a
            # chart's raw read are decoded from it in place (see _points).
            headers = {"Accept-Encoding": "identity", "Accept": "application/x-msgpack"}
            self._session = aiohttp.ClientSession(auth=self.auth, timeout=self.timeout, headers=headers)
        return self._session

    async def open(self) -> None:
        """Create the database and its retention policies (both idempotent)."""
        db = _ident(self.database)
        await self._query(f"CREATE DATABASE {db}", post=True)
        # Only the missing ones: InfluxDB refuses to "create" a policy whose duration an earlier
        # run's retention_hint changed, which would keep a restarted hub from its own history.
        existing = {row[0] for item in await self._query(f"SHOW RETENTION POLICIES ON {db}") for row in item["values"]}
        for tier, rp in self.rps.items():
            if rp not in existing:
                default = " DEFAULT" if tier == "raw" and not self.has_plan else ""
                sql = f"CREATE RETENTION POLICY {_ident(rp)} ON {db} DURATION INF REPLICATION 1{_shards(tier)}{default}"
                await self._query(sql, post=True)

    async def retention_hint(self, retention: Mapping[str, float]) -> None:
        """Set each retention policy's duration to the longest retention of its tier."""
        db = _ident(self.database)
        for tier, seconds in retention.items():
            # InfluxDB refuses durations under an hour; a plan's unlimited tier is INF.
            duration = "INF" if math.isinf(seconds) else f"{max(int(seconds), 3600)}s"
            # An existing database's raw policy gets 3-hour groups here too (new groups only: those
            # already made keep their length until they expire).
            await self._query(f"ALTER RETENTION POLICY {_ident(self.rps[tier])} ON {db} DURATION {duration}{_shards(tier, seconds)}", post=True)
        self.retention_applied = True

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _query(self, statement: str, *, post: bool = False) -> list[dict[str, Any]]:
        return self._series(await self._fetch(statement, post=post), statement)

    async def _fetch(self, statement: str, *, post: bool = False) -> bytes:
        """Return the answer's body: MessagePack documents one after another (chunks of at most 50,000 rows)."""
        params = {"db": self.database, "q": statement, "epoch": "u", "chunked": "true", "chunk_size": "50000"}
        try:
            method = self._client().post if post else self._client().get
            async with method(f"{self.url}/query", params=params) as response:
                body = await response.read()
                if response.status >= 300:
                    message = f"{self.name}: /query answered {response.status}: {_error_text(body)}"
                    raise BackendError(message)
        except (aiohttp.ClientError, OSError, TimeoutError) as err:
            raise as_error(self.name, err) from err
        return body

    def _series(self, body: bytes, statement: str) -> list[dict[str, Any]]:
        """Return the series of an answer, each whole (a chunked answer splits them over documents)."""
        series: dict[tuple[str, str], dict[str, Any]] = {}
        unpacker = msgpack.Unpacker(raw=False)
        unpacker.feed(body)
        for document in unpacker:
            for result in document.get("results", []):
                if "error" in result:
                    message = f"{self.name}: {result['error']} (query: {statement[:200]})"
                    raise BackendError(message)
                for item in result.get("series") or ():
                    key = (item.get("name", ""), orjson.dumps(item.get("tags") or {}).decode())
                    found = series.get(key)
                    if found is None:
                        series[key] = item
                    else:  # a chunked answer splits a series over several documents
                        found["values"].extend(item["values"])
        return list(series.values())

    async def _write_lines(self, lines: list[str], rp: str) -> None:
        """Write lines into a retention policy in bounded requests, in order; raise at the first one refused.

        The lines of the requests before it are stored: the recorder keeps the batch and writes it
        whole again, and a point written again (same measurement, tags and timestamp) overwrites
        itself with the same fields, so the retry neither loses nor duplicates a point.
        """
        params = {"db": self.database, "precision": "u", "rp": rp}
        for body in write_bodies(lines):
            await self._write_body(body, params)

    async def _write_body(self, body: bytes, params: dict[str, str]) -> None:
        try:
            async with self._client().post(f"{self.url}/write", params=params, data=body) as response:
                if response.status == 204:
                    return
                answer = (await response.read()).decode(errors="replace")
        except (aiohttp.ClientError, OSError, TimeoutError) as err:
            raise as_error(self.name, err) from err
        if "beyond retention policy" in answer and "partial write" in answer:
            return  # points older than the policy keeps: expired by design, not an error
        refused = refused_for_good(f"{self.name}: /write answered {response.status}", answer)
        if refused is not None:
            raise refused
        message = f"{self.name}: /write answered {response.status}: {answer[:300]}"
        raise BackendError(message)

    async def write(self, batch: Batch) -> None:
        """Write a batch as line protocol (microsecond timestamps)."""
        tags = self._tags
        lines = [
            f"state,entity_id={e}{tags} value={v!r}{f',state={_string(s)}' if s is not None else ''} {_micros(t)}"
            if v is not None
            else f"state,entity_id={e}{tags} state={_string(s or '')} {_micros(t)}"
            for e, t, v, s in batch.points
        ]
        lines += [f"attributes,entity_id={a.entity_id}{tags} json={_string(a.attributes)} {_micros(a.ts)}" for a in batch.attributes]
        await self._write_lines(lines, self.rps["raw"])

    async def write_tier(self, tier: str, rows: list[TierRow]) -> None:
        """Write tier rows into the tier's retention policy (same timestamp overwrites)."""
        assert tier in TIERS
        lines = [
            f"{tier},entity_id={r.entity_id}{self._tags} mean={r.mean!r},min={r.min!r},max={r.max!r},last={r.last!r},"
            f"delta={r.delta!r},count={r.count}i {_micros(r.start)}"
            for r in rows
        ]
        await self._write_lines(lines, self.rps[tier])

    def _where(self, entity_ids: Iterable[str] | None) -> str:
        if entity_ids is None:
            return self._home
        return f"{self._home} AND entity_id =~ {_entity_regex(entity_ids)}"

    async def read_states(
        self, entity_ids: Iterable[str] | None, start: float, end: float, *, include_start: bool = False
    ) -> dict[str, list[Sample]]:
        """Return points per entity in [start, end)."""
        ids = None if entity_ids is None else list(entity_ids)
        if ids == []:
            return {}
        where = self._where(ids)
        out: dict[str, list[Sample]] = {}
        if include_start:
            sql = (
                f'SELECT "value", "state" FROM "{self.raw_rp}"."state" WHERE time < {_time(start)}{where} '
                "GROUP BY entity_id ORDER BY time DESC LIMIT 1"
            )
            self._collect(await self._query(sql), out)
        sql = (
            f'SELECT "value", "state" FROM "{self.raw_rp}"."state" WHERE time >= {_time(start)} AND time < {_time(end)}'
            f"{where} GROUP BY entity_id"
        )
        self._collect(await self._query(sql), out)
        return out

    @staticmethod
    def _collect(series: list[dict[str, Any]], out: dict[str, list[Sample]]) -> None:
        for item in series:
            columns = item["columns"]
            iv, istate = columns.index("value"), columns.index("state")
            samples = out.setdefault(item["tags"]["entity_id"], [])
            samples.extend(Sample(row[0] / 1e6, row[iv], row[istate]) for row in item["values"])

    async def aggregate_points(
        self, entity_ids: Iterable[str], start: float, end: float, width: float
    ) -> dict[str, list[Partial]]:
        """Return numeric points summed up per bucket: the value field alone, decoded and summed up off the loop.

        InfluxQL's aggregates cannot weigh a value by the time until the next point, so the
        points are read; only their numbers, straight into arrays (no Sample per point). The
        read starts a minute (CARRY) early: the last point before start is the value carried
        in, which spares busy entities last_values' query. Every raw query costs influxd a copy
        of all the cached points of each series in each shard group it touches (see RAW_SHARDS).
        The entities are read in CHART_READS queries at the same time.
        """
        ids = list(entity_ids)
        if not ids:
            return {}
        # Rows whose only selected field is empty (text states) are not returned at all.
        sqls = [
            f'SELECT "value" FROM "{self.raw_rp}"."state" WHERE time >= {_time(start - CARRY)} AND time < {_time(end)}'
            f"{self._where(share)} GROUP BY entity_id"
            for share in _shares(ids)
        ]
        bodies = await asyncio.gather(*(self._fetch(sql) for sql in sqls))

        def summed() -> CarriedPartials:
            # Imported with the first chart, as SQLite's: a start without charts does not need numpy.
            import numpy as np

            from hub.recorder.partials import sum_up

            out: dict[str, list[Partial]] = {}
            carried: dict[str, float] = {}
            for entity_id, rows in (item for body, sql in zip(bodies, sqls, strict=True) for item in _points(body, sql).items()):
                rows = rows[~np.isnan(rows[:, 1])]
                inside = int(np.searchsorted(rows[:, 0], _micros(start)))  # the first row at or after start
                if inside:
                    carried[entity_id] = float(rows[inside - 1, 1])
                if inside < len(rows):
                    out[entity_id] = sum_up(rows[inside:, 0] / 1e6, rows[inside:, 1], width)
            return CarriedPartials(out, carried)

        return await asyncio.to_thread(summed)

    async def entities_between(self, start: float, end: float) -> list[str]:
        """Return the entities with raw points in [start, end), from the tag index (no points read).

        InfluxDB 1.x answers SHOW TAG VALUES from its index; those without points in the range
        read as empty later, which costs one small query.
        """
        del start, end  # the index does not filter tag values by time
        # This home's entities, in its own policy: not every home's (a home on a plan has no "raw").
        series = await self._query(f'SHOW TAG VALUES FROM "{self.raw_rp}"."state" WITH KEY = "entity_id" WHERE {home_condition(self.scope)}')
        return sorted({row[1] for item in series for row in item.get("values", [])})

    async def read_attributes(
        self, entity_ids: Iterable[str], start: float, end: float
    ) -> dict[str, list[tuple[float, dict[str, Any]]]]:
        """Return attribute changes, led by the set in force at start."""
        ids = list(entity_ids)
        if not ids:
            return {}
        where = self._where(ids)
        out: dict[str, list[tuple[float, dict[str, Any]]]] = {}
        for sql in (
            f'SELECT "json" FROM "{self.raw_rp}"."attributes" WHERE time < {_time(start)}{where} GROUP BY entity_id ORDER BY time DESC LIMIT 1',
            f'SELECT "json" FROM "{self.raw_rp}"."attributes" WHERE time >= {_time(start)} AND time < {_time(end)}{where} GROUP BY entity_id',
        ):
            for item in await self._query(sql):
                rows = out.setdefault(item["tags"]["entity_id"], [])
                rows.extend((row[0] / 1e6, orjson.loads(row[1])) for row in item["values"])
        return out

    async def last_values(self, before: float, entity_ids: Iterable[str] | None = None) -> dict[str, float]:
        """Return each entity's last numeric value before a time."""
        ids = None if entity_ids is None else list(entity_ids)
        if ids == []:
            return {}
        # The last day first: an unbounded last() reads every shard before the time. Entities
        # quiet for longer are looked up over all time after.
        found: dict[str, float] = {}
        bounds = ("",) if ids is None else (f" AND time >= {_time(before - LOOKBACK)}", "")
        for since in bounds:
            sql = (f'SELECT last("value") FROM "{self.raw_rp}"."state" WHERE time < {_time(before)}{since}'
                   f"{self._where(ids)} GROUP BY entity_id")
            found.update({item["tags"]["entity_id"]: item["values"][0][1] for item in await self._query(sql)})
            if ids is None or not (ids := [e for e in ids if e not in found]):
                break
        return found

    async def read_tier(
        self, tier: str, entity_ids: Iterable[str] | None, start: float, end: float
    ) -> dict[str, list[TierRow]]:
        """Return tier rows per entity."""
        assert tier in TIERS
        ids = None if entity_ids is None else list(entity_ids)
        if ids == []:
            return {}
        fields = ", ".join(f'"{f}"' for f in _TIER_FIELDS)
        sqls = [
            f'SELECT {fields} FROM "{self.rps[tier]}"."{tier}" WHERE time >= {_time(start)} AND time < {_time(end)}'
            f"{self._where(share)} GROUP BY entity_id"
            for share in _shares(ids)
        ]
        answers = await asyncio.gather(*(self._query(sql) for sql in sqls))
        out: dict[str, list[TierRow]] = {}
        for item in (item for answer in answers for item in answer):
            name = item["tags"]["entity_id"]
            out[name] = [
                TierRow(name, row[0] / 1e6, row[1], row[2], row[3], row[4], row[5], int(row[6])) for row in item["values"]
            ]
        return out

    async def purge(
        self, tier: str, before: float, *, only: Iterable[str] | None = None, exclude: Iterable[str] = ()
    ) -> None:
        """Delete what per-entity overrides keep shorter than the retention policies do."""
        measurements = ["state", "attributes"] if tier == "raw" else [tier]
        exclude = list(exclude)
        if only is not None:
            condition = f"{self._home} AND entity_id =~ {_entity_regex(only)}"
        elif exclude:
            condition = f"{self._home} AND entity_id !~ {_entity_regex(exclude)}"
        elif self.retention_applied:
            return  # the retention policy expires it
        else:
            condition = self._home
        for measurement in measurements:
            if measurement == "attributes":
                continue  # attribute sets are tiny and the one in force must stay
            await self._query(f'DELETE FROM "{measurement}" WHERE time < {_time(before)}{condition}', post=True)
