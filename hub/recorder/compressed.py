"""History in the WebSocket's compressed shape, built straight from (ts, value or state) pairs.

A day of 1 Hz data from ten sensors is close to a million points, so this path creates no
object per point beyond the row dict the answer needs, formats each distinct number once,
and hands back JSON bytes encoded once with orjson.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from hub.recorder.backends.base import TIER_SECONDS, HistoryBackend
from hub.recorder.tiers import RetentionPlan

Point = tuple[float, float | str | None]  # (ts, the state text if stored, else the float)
Changes = list[tuple[float, dict[str, Any]]]


def format_value(value: float) -> str:
    """Return the state text of a stored number: "21" for 21.0, as the live state was written."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


class StateTexts(dict[float | str | None, str]):
    """Stored value -> state text, formatted once per distinct number (a sensor repeats its values).

    Text states map to themselves, so the hot loop does one dict lookup per point whatever it is.
    """

    def __missing__(self, value: float | str | None) -> str:
        if value is None:
            text = ""
        elif isinstance(value, str):
            text = value
        else:
            text = format_value(value)
        self[value] = text
        return text


def _attributes_at(changes: Changes | None, ts: float) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for change_ts, attributes in changes or ():
        if change_ts > ts:
            break
        found = attributes
    return found


def entity_rows(
    points: Sequence[Point],
    start: float,
    texts: StateTexts,
    changes: Changes | None,
    *,
    significant_changes_only: bool,
    minimal_response: bool,
) -> list[dict[str, Any]]:
    """Return one entity's compressed history rows ({"s", "a", "lu"[, "lc"]}), oldest first.

    Args:
        points: (ts, value or state) pairs, oldest first; one before start stands for the state
            in force at start and is stamped start.
        start: the query's start (epoch seconds).
        texts: the shared number formatter.
        changes: attribute changes (ts, attributes), led by those in force at start; None when
            the query asked for no attributes (rows then carry {}).
        significant_changes_only: leave out points whose state text did not change.
        minimal_response: rows after the first carry only {"s", "lu"}, and only changes.
    """
    rows: list[dict[str, Any]] = []
    append = rows.append
    previous: str | None = None
    if minimal_response:
        # As Home Assistant: a minimal response leaves out every row that repeats the state
        # (attribute changes do not show), whatever significant_changes_only says, so each
        # kept row is a change and last_changed is its own time.
        for ts, value in points:
            text = texts[value]
            if text != previous:
                append({"s": text, "lu": ts})
                previous = text
    else:
        rows = _full_rows(points, start, texts, changes, significant_changes_only)
    if rows and minimal_response:
        first_ts = max(points[0][0], start)
        rows[0] = {"s": rows[0]["s"], "a": _attributes_at(changes, first_ts), "lu": first_ts}
    return rows


def _full_rows(
    points: Sequence[Point], start: float, texts: StateTexts, changes: Changes | None, significant: bool
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    pending = list(changes or ())
    index = 0
    current: dict[str, Any] = {}
    previous: str | None = None
    changed = start
    for ts, value in points:
        while index < len(pending) and pending[index][0] <= ts:
            current = pending[index][1]
            index += 1
        text = texts[value]
        ts = max(ts, start)
        if text != previous:
            changed = ts
            previous = text
        elif significant:
            continue
        row: dict[str, Any] = {"s": text, "a": current, "lu": ts}
        if changed != ts:
            row["lc"] = changed
        rows.append(row)
    return rows


def encode(
    points: dict[str, list[Point]],
    attributes: dict[str, Changes] | None,
    start: float,
    *,
    significant_changes_only: bool,
    minimal_response: bool,
) -> bytes:
    """Return the whole `{entity_id: [rows]}` answer as JSON bytes."""
    texts = StateTexts()
    out = {
        entity_id: entity_rows(
            found,
            start,
            texts,
            None if attributes is None else attributes.get(entity_id, []),
            significant_changes_only=significant_changes_only,
            minimal_response=minimal_response,
        )
        for entity_id, found in points.items()
        if found
    }
    return orjson.dumps(out)


async def read_points(
    backend: HistoryBackend,
    plan: RetentionPlan | None,
    entity_ids: Iterable[str],
    start: float,
    end: float,
    *,
    include_start: bool,
    now: float | None = None,
) -> dict[str, list[Point]]:
    """Return each entity's points in [start, end): raw where retention keeps it, else tier means."""
    entity_ids = list(entity_ids)
    now = time.time() if now is None else now
    raw_from = start if plan is None else max(start, now - plan.default["raw"])
    if raw_from <= start:
        return await backend.read_points(entity_ids, start, end, include_start=include_start)
    out: dict[str, list[Point]] = {e: [] for e in entity_ids}
    five_from = max(start, now - plan.default["five_minute"])  # type: ignore[union-attr]
    spans = [("hour", start, min(five_from, end)), ("five_minute", five_from, min(raw_from, end))]
    for tier, begin, finish in spans:
        if begin < finish:
            width = TIER_SECONDS[tier]
            for entity_id, rows in (await backend.read_tier(tier, entity_ids, begin // width * width, finish)).items():
                out[entity_id].extend((max(r.start, begin), r.mean) for r in rows)
    if raw_from < end:
        for entity_id, found in (await backend.read_points(entity_ids, raw_from, end)).items():
            out[entity_id].extend(found)
    return {entity_id: found for entity_id, found in out.items() if found}
