"""Encoded history of past five-minute spans, kept in memory for the charts' history queries.

Charts ask again and again for the same day with minimal_response (rows of state changes):
the past does not change, so each entity's span is read and encoded once and later answers
splice the stored JSON. Only the partial spans at the ends of a query are read each time.
Points that arrive late for a past span (backfill, a replayed spool) drop that span.
"""

from __future__ import annotations

import asyncio
import math
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import orjson

from hub.recorder.backends.base import Batch, HistoryBackend
from hub.recorder.compressed import Changes, Point, StateTexts, pairs_json

# Five minutes: the partial blocks at a query's ends, read each time, stay small.
SPAN = 300.0
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
_TS = itemgetter(0)
_STORED_TS = itemgetter(1)  # a stored Point's ts


@dataclass(slots=True, frozen=True)
class Block:
    """One entity's state changes over a span as JSON rows `{"s","lu"}` joined by commas."""

    data: bytes
    first: str | None  # state text of the first row; None: no points in the span
    first_ts: float
    last: str | None
    head: int  # bytes of the first row and its comma: data[head:] drops it


EMPTY = Block(b"", None, 0.0, None, 0)


def _cost(block: Block) -> int:
    # A span without points still takes a dict slot and a key.
    return len(block.data) + 100


def build_block(points: Sequence[Point], texts: StateTexts) -> Block:
    """Encode points (oldest first) as minimal rows, keeping only changes of the state text."""
    pairs: list[tuple[str, float]] = []
    append = pairs.append
    previous: str | None = None
    for ts, value in points:
        text = texts[value]
        if text != previous:
            append((text, ts))
            previous = text
    if not pairs:
        return EMPTY
    first, first_ts = pairs[0]
    head = len(orjson.dumps({"s": first, "lu": first_ts})) + (1 if len(pairs) > 1 else 0)
    return Block(pairs_json(pairs, texts), first, first_ts, previous, head)


def join_blocks(blocks: Sequence[Block], start: float, changes: Changes | None, out: list[Any]) -> bool:
    """Append one entity's rows as a JSON array to out (bytes pieces); False when it has none.

    The first row goes in full ({"s", "a", "lu"}); a block's first row is left out when it
    repeats the state of the block before. Pieces are memoryviews: a day is tens of
    megabytes, copied once, by the final join.
    """
    mark = len(out)
    previous: str | None = None
    for block in blocks:
        if block.first is None:
            continue
        if len(out) == mark:
            first_ts = max(block.first_ts, start)
            attributes: dict[str, Any] = {}
            for change_ts, found in changes or ():
                if change_ts > first_ts:
                    break
                attributes = found
            out.append(b"[" + orjson.dumps({"s": block.first, "a": attributes, "lu": first_ts}))
            rest = memoryview(block.data)[block.head :]
        elif block.first == previous:
            rest = memoryview(block.data)[block.head :]
        else:
            rest = memoryview(block.data)
        if rest:
            out.append(b",")
            out.append(rest)
        previous = block.last
    if len(out) == mark:
        return False
    out.append(b"]")
    return True


class HistoryCache:
    """Encoded past spans per entity, least recently used first out, bounded in bytes.

    Used from the event loop only; blocks are built in a worker thread and handed back.
    """

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._blocks: OrderedDict[tuple[str, float], Block] = OrderedDict()
        # Spans dropped while a query was reading: that query must not store what it read.
        self._counter = 0
        self._readers = 0
        self._dropped: dict[tuple[str, float], int] = {}
        # Where the spans stored or being read end, at the latest: live points are all past it.
        self._until = -math.inf

    def __len__(self) -> int:
        return len(self._blocks)

    def note_stored(self, batch: Batch) -> None:
        """Drop the spans a stored batch wrote into (a recorder stored listener).

        Called on the loop for every stored slice: live points, newer than every span stored or
        being read, cost one pass in C (their oldest time) and nothing else.
        """
        points = batch.points
        if not points or (not self._blocks and not self._readers):
            return
        if min(map(_STORED_TS, points)) >= self._until:
            return
        seen = set()
        for point in points:
            key = (point[0], point[1] // SPAN * SPAN)
            if key in seen:
                continue
            seen.add(key)
            self._counter += 1
            if self._readers:
                self._dropped[key] = self._counter
            block = self._blocks.pop(key, None)
            if block is not None:
                self.size -= _cost(block)

    def clear(self) -> None:
        """Forget every span (after a purge)."""
        self._blocks.clear()
        self.size = 0
        if not self._readers:
            self._until = -math.inf

    def get(self, key: tuple[str, float]) -> Block | None:
        """Return a stored span and mark it recently used."""
        block = self._blocks.get(key)
        if block is not None:
            self._blocks.move_to_end(key)
        return block

    def begin(self, until: float = math.inf) -> int:
        """Start a query that may store spans ending up to until: return the stamp its reads are as of."""
        self._readers += 1
        self._until = max(self._until, until)
        return self._counter

    def end(self, stamp: int, blocks: dict[tuple[str, float], Block]) -> None:
        """Finish a query: store the spans it read unless points arrived for them meanwhile."""
        for key, block in blocks.items():
            if self._dropped.get(key, 0) > stamp or _cost(block) > self.max_bytes // 4:
                continue
            old = self._blocks.pop(key, None)
            self.size += _cost(block) - (_cost(old) if old is not None else 0)
            self._blocks[key] = block
        while self.size > self.max_bytes and self._blocks:
            _key, evicted = self._blocks.popitem(last=False)
            self.size -= _cost(evicted)
        self._readers -= 1
        if not self._readers:
            self._dropped.clear()


async def cached_history(
    cache: HistoryCache,
    backend: HistoryBackend,
    entity_ids: Sequence[str],
    start: float,
    end: float,
    now: float,
    attributes: dict[str, Changes] | None,
    *,
    include_start: bool,
) -> bytes:
    """Answer a minimal_response history query (changes of state only), splicing stored past spans.

    The five-minute spans wholly inside [start, end) and before now come from the cache, or
    are read and stored; the partial spans at either end are read each time. One entity at a
    time: its points are encoded (in a worker thread) while the next entity's are read (in
    the backend's reader), so the query holds the points of two entities at most, not of all
    (a day at 1 Hz of 10 entities: a 69 MB peak instead of 155 MB). Both steps are mostly
    Python holding the GIL, so the overlap saves little time (about 5 %).
    """
    first = -(-start // SPAN) * SPAN  # the first span boundary at or after start
    last = min(end, now) // SPAN * SPAN
    inside = [first + i * SPAN for i in range(max(round((last - first) / SPAN), 0))]
    stamp = cache.begin(last)
    fresh: dict[tuple[str, float], Block] = {}
    texts = StateTexts()  # used by one encoding thread at a time: each waits for the one before
    out: list[Any] = [b"{"]
    encoding: asyncio.Future[None] | None = None
    try:
        for entity_id in entity_ids:
            found = {b: block for b in inside if (block := cache.get((entity_id, b))) is not None}
            missing = [b for b in inside if b not in found]
            ranges = [(start, end, include_start)]
            if inside:
                ranges = [(start, first, include_start), (inside[-1] + SPAN, end, False)]
                if missing:
                    ranges.append((missing[0], missing[-1] + SPAN, False))
            reads = [
                (await backend.read_points([entity_id], a, b, include_start=lead)).get(entity_id, [])
                for a, b, lead in ranges
            ]
            if encoding is not None:
                await encoding
            changes = None if attributes is None else attributes.get(entity_id, [])
            encoding = asyncio.ensure_future(
                asyncio.to_thread(_encode_entity, entity_id, inside, found, reads, start, changes, texts, fresh, out)
            )
        if encoding is not None:
            await encoding
    except BaseException:
        cache.end(stamp, {})  # a query that did not finish stores nothing (its thread may still run)
        if encoding is not None:
            encoding.add_done_callback(lambda done: done.cancelled() or done.exception())  # retrieved: not logged
        raise
    cache.end(stamp, fresh)
    out.append(b"}")
    return b"".join(out)


def _encode_entity(
    entity_id: str,
    inside: list[float],
    found: dict[float, Block],
    reads: list[list[Point]],
    start: float,
    changes: Changes | None,
    texts: StateTexts,
    fresh: dict[tuple[str, float], Block],
    out: list[Any],
) -> None:
    """Append one entity's `"id":[rows]` to out, building the spans it read (stored in fresh)."""
    if not inside:
        blocks = [build_block(reads[0], texts)]
    else:
        middle = reads[2] if len(reads) > 2 else []
        for begin in inside:
            if begin not in found:
                lo = bisect_left(middle, begin, key=_TS)
                hi = bisect_left(middle, begin + SPAN, lo, key=_TS)
                found[begin] = fresh[(entity_id, begin)] = build_block(middle[lo:hi], texts)
        blocks = [build_block(reads[0], texts), *(found[b] for b in inside), build_block(reads[1], texts)]
    mark = len(out)
    out.append((b"," if mark > 1 else b"") + orjson.dumps(entity_id) + b":")
    if not join_blocks(blocks, start, changes, out):
        del out[mark:]
