"""History in the WebSocket's compressed shape, built straight from (ts, value or state) pairs.

A day of 1 Hz data from ten sensors is close to a million points, so this path formats each
distinct number once, writes rows of state changes without a dict each (pairs_json), encodes
each attribute set once rather than once a row, and reads and encodes one entity at a time
(history_bytes): the answer's JSON bytes are the only thing that grows with the entities.
"""

from __future__ import annotations

import asyncio
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
    `quoted` says whether any text so far holds a double quote (see pairs_json).
    """

    quoted = False

    def __missing__(self, value: float | str | None) -> str:
        if value is None:
            text = ""
        elif isinstance(value, str):
            text = value
            if '"' in text:
                self.quoted = True
        else:
            text = format_value(value)
        self[value] = text
        return text


def pairs_json(pairs: Sequence[tuple[str, float]], texts: StateTexts) -> bytes:
    """Return `{"s":text,"lu":ts},...` (no brackets) for (text, ts) pairs, as orjson writes the dicts.

    Without a dict per row: orjson writes the pairs as arrays (`["text",ts]`), and while no
    text holds a double quote every quote in that is a string's start or end, so two byte
    replacements turn the arrays into the rows. A text with a quote takes the dicts.
    """
    if not pairs:
        return b""
    if texts.quoted:
        return orjson.dumps([{"s": text, "lu": ts} for text, ts in pairs])[1:-1]
    body = orjson.dumps(pairs)  # [["text",ts],["text",ts]]
    return b'{"s":"' + body[3:-2].replace(b'",', b'","lu":').replace(b'],["', b'},{"s":"') + b"}"


def _attributes_at(changes: Changes | None, ts: float) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for change_ts, attributes in changes or ():
        if change_ts > ts:
            break
        found = attributes
    return found


def rows_json(
    points: Sequence[Point],
    start: float,
    texts: StateTexts,
    changes: Changes | None,
    *,
    significant_changes_only: bool,
    minimal_response: bool,
) -> bytes:
    """Return one entity's compressed history rows ({"s", "a", "lu"[, "lc"]}) as a JSON array, oldest first.

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
    if not points:
        return b"[]"
    if not minimal_response:
        return _full_json(points, start, texts, changes, significant_changes_only)
    # As Home Assistant: a minimal response leaves out every row that repeats the state
    # (attribute changes do not show), whatever significant_changes_only says, so each
    # kept row is a change and last_changed is its own time.
    pairs: list[tuple[str, float]] = []
    append = pairs.append
    previous: str | None = None
    for ts, value in points:
        text = texts[value]
        if text != previous:
            append((text, ts))
            previous = text
    first_ts = max(points[0][0], start)
    head = orjson.dumps({"s": pairs[0][0], "a": _attributes_at(changes, first_ts), "lu": first_ts})
    if len(pairs) == 1:
        return b"[" + head + b"]"
    return b"[" + head + b"," + pairs_json(pairs[1:], texts) + b"]"


def _full_json(
    points: Sequence[Point], start: float, texts: StateTexts, changes: Changes | None, significant: bool
) -> bytes:
    rows: list[dict[str, Any]] = []
    append = rows.append
    pending = list(changes or ())
    # Each attribute set encoded once, not once a row.
    encoded = [(ts, orjson.Fragment(orjson.dumps(found))) for ts, found in pending]
    index, count = 0, len(encoded)
    current: Any = orjson.Fragment(b"{}")
    previous: str | None = None
    changed = start
    for ts, value in points:
        while index < count and encoded[index][0] <= ts:
            current = encoded[index][1]
            index += 1
        text = texts[value]
        if ts < start:
            ts = start
        if text != previous:
            changed = ts
            previous = text
        elif significant:
            continue
        if changed == ts:
            append({"s": text, "a": current, "lu": ts})
        else:
            append({"s": text, "a": current, "lu": ts, "lc": changed})
    return orjson.dumps(rows)


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
    out = [b"{"]
    for entity_id, found in points.items():
        if found:
            changes = None if attributes is None else attributes.get(entity_id, [])
            _append_entity(out, entity_id, found, start, texts, changes, significant_changes_only, minimal_response)
    out.append(b"}")
    return b"".join(out)


def _append_entity(
    out: list[bytes],
    entity_id: str,
    points: Sequence[Point],
    start: float,
    texts: StateTexts,
    changes: Changes | None,
    significant_changes_only: bool,
    minimal_response: bool,
) -> None:
    """Append `"entity_id":[rows]` to out (after a comma unless it is the first)."""
    rows = rows_json(
        points, start, texts, changes, significant_changes_only=significant_changes_only, minimal_response=minimal_response
    )
    out.append((b"," if len(out) > 1 else b"") + orjson.dumps(entity_id) + b":" + rows)


async def history_bytes(
    backend: HistoryBackend,
    plan: RetentionPlan | None,
    entity_ids: Sequence[str],
    start: float,
    end: float,
    *,
    include_start: bool,
    significant_changes_only: bool,
    minimal_response: bool,
    no_attributes: bool,
    now: float,
) -> bytes:
    """Return `{entity_id: [rows]}` for [start, end) as JSON bytes, reading and encoding one entity at a time.

    An entity's rows are encoded in a worker thread while the next entity's points are read,
    so the query holds the points of two entities at most, never every entity's points and
    rows at once; only the answer's bytes grow with the entities. Entities without points are
    left out.
    """
    texts = StateTexts()  # used by one encoding thread at a time: each waits for the one before
    out: list[bytes] = [b"{"]
    encoding: asyncio.Future[None] | None = None
    try:
        for entity_id in entity_ids:
            found = await read_points(backend, plan, [entity_id], start, end, include_start=include_start, now=now)
            points = found.get(entity_id)
            if not points:
                continue
            changes = None
            if not no_attributes:
                changes = (await backend.read_attributes([entity_id], start, end)).get(entity_id, [])
            if encoding is not None:
                await encoding
            encoding = asyncio.ensure_future(
                asyncio.to_thread(
                    _append_entity, out, entity_id, points, start, texts, changes, significant_changes_only, minimal_response
                )
            )
            del found, points, changes
        if encoding is not None:
            await encoding
    except BaseException:
        if encoding is not None:
            encoding.add_done_callback(lambda done: done.cancelled() or done.exception())  # retrieved: not logged
        raise
    out.append(b"}")
    return b"".join(out)


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
