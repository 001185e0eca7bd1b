"""Full-resolution history in Home Assistant's REST shape, read and written in parts.

`GET /api/history/period` answers `[[state, ...], ...]` (one list per entity). A month of a
1 Hz sensor is millions of rows: built whole, the answer would hold every row as a dict and
the JSON besides. Here each entity is read a window of time at a time, encoded, and handed
to the writer, so memory stays bounded by a window whatever the range; the bytes are the
same as history.full() would give.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import orjson

from hub.recorder.backends.base import HistoryBackend, Sample
from hub.recorder.history import HistoryState, StateWalk, full_row, minimal_row, read_samples
from hub.recorder.tiers import RetentionPlan

FIRST_WINDOW = 3600.0
WINDOW_POINTS = 20_000  # aim for windows of about this many points
MAX_WINDOW = 30 * 86400.0


async def sample_windows(
    backend: HistoryBackend,
    plan: RetentionPlan | None,
    entity_id: str,
    start: float,
    end: float,
    *,
    include_start: bool,
    now: float,
) -> AsyncIterator[tuple[float, float, list[Sample]]]:
    """Yield (begin, finish, samples) for consecutive windows of [start, end), oldest first.

    Windows grow while sparse and shrink while dense, so each read is about WINDOW_POINTS.
    """
    window = FIRST_WINDOW
    begin = start
    while begin < end:
        finish = min(end, begin + window)
        found = await read_samples(backend, plan, [entity_id], begin, finish,
                                   include_start=include_start and begin == start, now=now)
        samples = found.get(entity_id, [])
        yield begin, finish, samples
        scale = WINDOW_POINTS / max(len(samples), 1)
        window = min(MAX_WINDOW, max(60.0, (finish - begin) * min(max(scale, 0.25), 4.0)))
        begin = finish


async def entity_parts(
    backend: HistoryBackend,
    plan: RetentionPlan | None,
    entity_id: str,
    start: float,
    end: float,
    *,
    include_start: bool,
    significant_changes_only: bool,
    minimal_response: bool,
    no_attributes: bool,
    now: float,
) -> AsyncIterator[bytes]:
    """Yield one entity's rows as JSON pieces ("{...}", ",{...}", ...), oldest first; nothing without rows."""
    walk = StateWalk(start, significant_changes_only=significant_changes_only, no_attributes=no_attributes)
    held: HistoryState | None = None  # the row not written yet: the last one is written in full
    written = 0
    async for begin, finish, samples in sample_windows(backend, plan, entity_id, start, end, include_start=include_start, now=now):
        changes = [] if no_attributes or not samples else (await backend.read_attributes([entity_id], begin, finish)).get(entity_id, [])
        # Each attribute set encoded once, not once a row: the walk hands out the same dict until it changes.
        encoded = {id(found): orjson.Fragment(orjson.dumps(found)) for _ts, found in changes}
        rows: list[dict[str, Any]] = []
        for entry in walk.entries(samples, changes):
            if held is not None:
                # A row between the first and the last: the minimal form when asked for.
                if minimal_response and (written or rows):
                    rows.append(minimal_row(held))
                else:
                    rows.append(full_row(entity_id, held, encoded.get(id(held.attributes))))
            held = entry
        if rows:
            yield (b"," if written else b"") + orjson.dumps(rows)[1:-1]
            written += len(rows)
    if held is not None:
        yield (b"," if written else b"") + orjson.dumps(full_row(entity_id, held))


async def history_parts(
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
) -> AsyncIterator[bytes]:
    """Yield the whole REST answer `[[...], ...]` as JSON pieces; entities without rows are left out."""
    yield b"["
    first = True
    for entity_id in entity_ids:
        opened = False
        async for piece in entity_parts(
            backend, plan, entity_id, start, end, include_start=include_start,
            significant_changes_only=significant_changes_only, minimal_response=minimal_response,
            no_attributes=no_attributes, now=now,
        ):
            if not opened:
                yield (b"[" if first else b",[") + piece
                opened, first = True, False
            else:
                yield piece
        if opened:
            yield b"]"
    yield b"]"
