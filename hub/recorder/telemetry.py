"""Telemetry queries: pages of raw points or bucket aggregates for some entities, with a cursor.

Rows come oldest first, entities of one time ordered by id. A page holds at most `limit`
rows; the cursor of the next page carries the last row's (time, entity) and the query's
resolved range, so "the last 24 hours" pages through the same 24 hours, and a cursor used
with another query is refused. Aggregates are those of hub.recorder.buckets (time-weighted
mean; `sum` is the increase of a counter over the bucket, as Home Assistant's statistics'
`change`), so every backend answers alike.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from hub.exceptions import HubError
from hub.recorder.backends.base import HistoryBackend, TierRow
from hub.recorder.buckets import MAX_BUCKETS, Coverage, effective_width, query_buckets

AGGREGATES: dict[str, float | None] = {"raw": None, "1m": 60.0, "5m": 300.0, "1h": 3600.0, "1d": 86400.0}
FUNCTIONS = ("mean", "min", "max", "last", "sum", "count")
MAX_LIMIT = 10_000
RAW_WINDOW = 3600.0  # raw points are read an hour at a time, more while the hours are sparse


class CursorError(HubError, ValueError):
    """A cursor that is not one this query gave."""


@dataclass(frozen=True, slots=True)
class TelemetryQuery:
    """What to read: entities, the range, raw or a bucket size with a function, the page."""

    entity_ids: Sequence[str]
    start: float
    end: float
    aggregate: str = "raw"
    fn: str = "mean"
    limit: int = 1000
    after: tuple[float, str] | None = None  # the last row of the page before

    def fingerprint(self) -> str:
        """Return what identifies the query apart from its page."""
        text = orjson.dumps([sorted(self.entity_ids), self.start, self.end, self.aggregate, self.fn])
        return hashlib.sha256(text).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Page:
    """One page: rows (ts, entity_id, value), the bucket width used, the next page's cursor."""

    rows: list[tuple[float, str, float | str | None]]
    width: float | None
    next_cursor: str | None


def encode_cursor(query: TelemetryQuery, last: tuple[float, str]) -> str:
    """Return the opaque cursor of the page after the row `last`."""
    data = orjson.dumps([last[0], last[1], query.start, query.end, query.fingerprint()])
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str, float, float, str]:
    """Return (ts, entity_id, start, end, fingerprint) of a cursor.

    Raises:
        CursorError: the text is not a cursor.
    """
    try:
        data = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        ts, entity_id, start, end, fingerprint = data
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (ts, start, end)):
            raise TypeError
        if not isinstance(entity_id, str) or not isinstance(fingerprint, str):
            raise TypeError
    except (binascii.Error, ValueError, TypeError) as err:
        message = "not a cursor this API gave (pass next_cursor of the page before, unchanged)"
        raise CursorError(message) from err
    return float(ts), entity_id, float(start), float(end), fingerprint


def _pick(row: TierRow, fn: str) -> float:
    if fn == "sum":
        return row.delta
    if fn == "count":
        return float(row.count)
    value: float = getattr(row, fn)
    return value


async def _raw_rows(
    backend: HistoryBackend, query: TelemetryQuery, begin: float, finish: float
) -> list[tuple[float, str, float | str | None]]:
    found = await backend.read_states(query.entity_ids, begin, finish)
    rows = [(s.ts, e, s.value if s.state is None else s.state) for e, samples in found.items() for s in samples]
    rows.sort(key=lambda r: (r[0], r[1]))
    return rows


async def run_query(backend: HistoryBackend, coverage: Coverage, query: TelemetryQuery) -> Page:
    """Return one page of a telemetry query.

    Raw points are read window by window (an hour, doubled while windows come back sparse),
    buckets `limit` buckets at a time, so a page never reads much more than it returns.
    """
    width = AGGREGATES[query.aggregate]
    if width is not None:
        # One width for every page and window: the one the oldest part of the range allows.
        width = effective_width(width, query.start, coverage)
    rows: list[tuple[float, str, float | str | None]] = []
    after = query.after
    begin = query.start if after is None else max(query.start, after[0])
    used: float | None = None
    # A window of `limit` buckets, one or two more once aligned: within query_buckets' bound.
    window = RAW_WINDOW if width is None else width * min(query.limit, MAX_BUCKETS - 2)
    while begin < query.end and len(rows) <= query.limit:
        finish = min(query.end, begin + window)
        if width is None:
            found = await _raw_rows(backend, query, begin, finish)
        else:
            buckets = await query_buckets(backend, query.entity_ids, begin, finish, width, coverage)
            used = buckets.width
            found = sorted(
                ((r.start, e, _pick(r, query.fn)) for e, series in buckets.series.items() for r in series),
                key=lambda r: (r[0], r[1]),
            )
            finish = max(finish, buckets.end)
        if after is not None:
            found = [r for r in found if (r[0], r[1]) > after]
        rows.extend(found)
        if width is None and len(found) < query.limit // 4:
            window *= 2
        begin = finish
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    cursor = encode_cursor(query, (rows[-1][0], rows[-1][1])) if more else None
    return Page(rows, used if width is not None else None, cursor)
