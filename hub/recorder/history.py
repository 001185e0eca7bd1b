"""History queries in Home Assistant's shapes, each answered from the coarsest tier that can.

Raw points answer what raw retention still holds; older ranges come from the 5-minute tier
(its mean stands for the state) and, past that, from the hour tier.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hub.recorder.backends.base import TIER_SECONDS, HistoryBackend, Sample, TierRow
from hub.recorder.compressed import StateTexts, format_value
from hub.recorder.tiers import RetentionPlan, covered_mean

PERIODS = ("5minute", "hour", "day", "week", "month")
MAX_TEXTS = 65_536  # distinct numbers a walk keeps formatted
STAT_TYPES = ("change", "last_reset", "max", "mean", "min", "state", "sum")


@dataclass(slots=True)
class HistoryState:
    """One entry of an entity's history."""

    ts: float
    state: str
    last_changed: float
    attributes: dict[str, Any] | None


def state_text(sample: Sample) -> str:
    """Return the state string a sample stands for ("21" for 21.0, as it was written)."""
    if sample.state is not None:
        return sample.state
    return "" if sample.value is None else format_value(sample.value)


class StateWalk:
    """The walk over one entity's samples that every history answer makes, window after window.

    Attribute changes are merged in (each sample carries the set in force at its time),
    `last_changed` moves only when the state text changes, and with significant_changes_only
    a sample that repeats the state is left out. A walk keeps its place between calls, so a
    streamed answer read a window at a time gives the same entries as one read whole.
    """

    __slots__ = ("attributes", "last_changed", "previous", "significant_changes_only", "start", "texts")

    def __init__(self, start: float, *, significant_changes_only: bool, no_attributes: bool) -> None:
        self.start = start
        self.significant_changes_only = significant_changes_only
        self.previous: str | None = None
        self.last_changed = start
        self.attributes: dict[str, Any] | None = None if no_attributes else {}
        self.texts = StateTexts()  # each distinct number formatted once

    def entries(
        self, samples: Iterable[Sample], changes: Sequence[tuple[float, dict[str, Any]]] = ()
    ) -> Iterator[HistoryState]:
        """Yield the entries of samples (oldest first), with changes: the attribute sets from their times on."""
        index, count = 0, len(changes)
        start, only_changes, texts = self.start, self.significant_changes_only, self.texts
        if len(texts) > MAX_TEXTS:
            texts.clear()  # a streamed year of a noisy sensor: memory stays bounded by a window
        previous, changed, attributes = self.previous, self.last_changed, self.attributes
        try:
            for sample in samples:
                while index < count and changes[index][0] <= sample.ts:
                    attributes = changes[index][1]
                    index += 1
                text = sample.state
                if text is None:
                    text = texts[sample.value]
                ts = sample.ts if sample.ts > start else start
                if text != previous:
                    changed = ts
                elif only_changes:
                    continue
                previous = text
                yield HistoryState(ts, text, changed, attributes)
        finally:
            self.previous, self.last_changed, self.attributes = previous, changed, attributes


def _tier_samples(rows: Iterable[TierRow]) -> list[Sample]:
    return [Sample(r.start, r.mean, None) for r in rows]


async def read_samples(
    backend: HistoryBackend,
    plan: RetentionPlan | None,
    entity_ids: Sequence[str],
    start: float,
    end: float,
    *,
    include_start: bool,
    now: float | None = None,
) -> dict[str, list[Sample]]:
    """Return each entity's samples in [start, end), from raw where kept, else from the tiers."""
    now = time.time() if now is None else now
    raw_from = start if plan is None else max(start, now - plan.default["raw"])
    out: dict[str, list[Sample]] = {e: [] for e in entity_ids}
    if plan is not None and start < raw_from:
        five_from = max(start, now - plan.default["five_minute"])
        if start < five_from:
            for entity_id, rows in (await backend.read_tier("hour", entity_ids, start, five_from)).items():
                out[entity_id].extend(_tier_samples(rows))
        for entity_id, rows in (await backend.read_tier("five_minute", entity_ids, five_from, raw_from)).items():
            out[entity_id].extend(_tier_samples(rows))
    if raw_from < end:
        raw = await backend.read_states(entity_ids, raw_from, end, include_start=include_start and raw_from == start)
        for entity_id, samples in raw.items():
            out[entity_id].extend(samples)
    return {entity_id: samples for entity_id, samples in out.items() if samples}


async def history_during_period(
    backend: HistoryBackend,
    plan: RetentionPlan | None,
    entity_ids: Sequence[str],
    start: float,
    end: float,
    *,
    include_start_time_state: bool = True,
    significant_changes_only: bool = True,
    no_attributes: bool = False,
    now: float | None = None,
) -> dict[str, list[HistoryState]]:
    """Return each entity's states between start and end, oldest first.

    Args:
        backend: where history lives.
        plan: the retention plan (which tier holds which range); None reads raw only.
        entity_ids: the entities to read.
        start: epoch seconds.
        end: epoch seconds.
        include_start_time_state: lead with the state in force at start, stamped start.
        significant_changes_only: leave out changes of attributes alone.
        no_attributes: do not read attributes.
        now: the current time (tests pass their clock's).
    """
    samples = await read_samples(
        backend, plan, entity_ids, start, end, include_start=include_start_time_state, now=now
    )
    attributes: dict[str, list[tuple[float, dict[str, Any]]]] = {}
    if not no_attributes and samples:
        attributes = await backend.read_attributes(list(samples), start, end)
    return {
        entity_id: list(
            StateWalk(start, significant_changes_only=significant_changes_only, no_attributes=no_attributes).entries(
                points, attributes.get(entity_id, [])
            )
        )
        for entity_id, points in samples.items()
    }


@functools.lru_cache(maxsize=4096)
def _minute(minute: int) -> str:
    """Return "YYYY-MM-DDTHH:MM" of a minute since the epoch (UTC)."""
    return datetime.fromtimestamp(minute * 60, UTC).isoformat()[:16]


def iso_utc(ts: float) -> str:
    """Return `datetime.fromtimestamp(ts, UTC).isoformat()`, without making a datetime.

    A day of 1 Hz history is 86,400 rows with two times each: the date and time to the
    minute are formatted once a minute, the seconds and microseconds (rounded half to even,
    as datetime rounds them) by arithmetic.
    """
    fraction, whole = math.modf(ts)
    micros = round(fraction * 1e6)
    if micros >= 1_000_000:
        whole += 1.0
        micros -= 1_000_000
    elif micros < 0:
        whole -= 1.0
        micros += 1_000_000
    minute, second = divmod(int(whole), 60)
    if micros:
        return f"{_minute(minute)}:{second:02d}.{micros:06d}+00:00"
    return f"{_minute(minute)}:{second:02d}+00:00"


def full_row(entity_id: str, entry: HistoryState, attributes: Any = None) -> dict[str, Any]:
    """Return an entry in the REST shape's full form (the first and last of an entity, or all).

    attributes, when given, stands for entry.attributes already encoded (an orjson.Fragment).
    """
    updated = iso_utc(entry.ts)
    return {
        "entity_id": entity_id,
        "state": entry.state,
        "attributes": (entry.attributes or {}) if attributes is None else attributes,
        "last_changed": updated if entry.last_changed == entry.ts else iso_utc(entry.last_changed),
        "last_updated": updated,
    }


def minimal_row(entry: HistoryState) -> dict[str, Any]:
    """Return an entry in minimal_response's form (those between the first and the last)."""
    return {"state": entry.state, "last_changed": iso_utc(entry.last_changed)}


def full(history: dict[str, list[HistoryState]], *, minimal_response: bool) -> list[list[dict[str, Any]]]:
    """Return history in the REST shape: a list per entity of state dicts."""
    out: list[list[dict[str, Any]]] = []
    for entity_id, entries in history.items():
        last = len(entries) - 1
        rows = [
            minimal_row(entry) if minimal_response and 0 < i < last else full_row(entity_id, entry)
            for i, entry in enumerate(entries)
        ]
        if rows:
            out.append(rows)
    return out


def _period_start(ts: float, period: str, zone: ZoneInfo) -> tuple[float, float]:
    if period == "5minute":
        start = ts // 300 * 300
        return start, start + 300
    if period == "hour":
        start = ts // 3600 * 3600
        return start, start + 3600
    local = datetime.fromtimestamp(ts, zone).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        begin, end = local, local + timedelta(days=1)
    elif period == "week":
        begin = local - timedelta(days=local.weekday())
        end = begin + timedelta(days=7)
    else:
        begin = local.replace(day=1)
        end = (begin + timedelta(days=32)).replace(day=1)
    # Re-localise so a period spanning a DST change has its true length.
    begin = begin.replace(tzinfo=None).replace(tzinfo=zone)
    end = end.replace(tzinfo=None).replace(tzinfo=zone)
    return begin.timestamp(), end.timestamp()


async def _sum_bases(
    backend: HistoryBackend, statistic_ids: Sequence[str], tier: str, start: float
) -> dict[str, float]:
    """Return each statistic's total usage before start, so that `sum` is absolute."""
    if tier == "hour":
        return await backend.hour_totals_before(statistic_ids, start)
    hour = start // 3600 * 3600
    bases = await backend.hour_totals_before(statistic_ids, hour)
    if hour < start:
        for statistic_id, rows in (await backend.read_tier(tier, statistic_ids, hour, start)).items():
            bases[statistic_id] = bases.get(statistic_id, 0.0) + sum(r.delta for r in rows)
    return bases


async def statistics_during_period(
    backend: HistoryBackend,
    statistic_ids: Sequence[str],
    start: float,
    end: float,
    period: str,
    types: Iterable[str] = STAT_TYPES,
    time_zone: str = "UTC",
) -> dict[str, list[dict[str, Any]]]:
    """Return statistics in Home Assistant's shape: {id: [{start, end, mean, ...}]}, ms times.

    5-minute periods read the 5-minute tier; the rest read the hour tier. `sum` is absolute as
    in Home Assistant: the usage (`change`, a meter reset counted as new usage, never as a
    decrease) since the entity's first recorded point up to the end of each period. Day, week
    and month means are weighted by the time each hour covers.
    """
    if period not in PERIODS:
        message = f"Invalid period {period!r}: expected one of {', '.join(PERIODS)}"
        raise ValueError(message)
    tier = "five_minute" if period == "5minute" else "hour"
    width = TIER_SECONDS[tier]
    zone = ZoneInfo(time_zone)
    wanted = set(types)
    first = start // width * width
    if period in ("5minute", "hour"):
        # The tier's buckets are the periods: plain tuples straight to items.
        values = await backend.read_tier_values(tier, statistic_ids, first, end)
        bases = await _sum_bases(backend, list(values), tier, first) if "sum" in wanted and values else {}
        return {
            statistic_id: _bucket_items(found, width, wanted, bases.get(statistic_id, 0.0))
            for statistic_id, found in values.items()
        }
    rows = await backend.read_tier(tier, statistic_ids, first, end)
    bases = await _sum_bases(backend, list(rows), tier, first) if "sum" in wanted and rows else {}
    out: dict[str, list[dict[str, Any]]] = {}
    for statistic_id, tier_rows in rows.items():
        groups: list[tuple[float, float, list[TierRow]]] = []
        for row in tier_rows:
            if groups and row.start < groups[-1][1]:
                groups[-1][2].append(row)
            else:
                begin, finish = _period_start(row.start, period, zone)
                groups.append((begin, finish, [row]))
        total = bases.get(statistic_id, 0.0)
        held: float | None = None
        since = 0.0
        result = []
        for begin, finish, members in groups:
            change = sum(r.delta for r in members)
            total += change
            item: dict[str, Any] = {"start": begin * 1000, "end": finish * 1000}
            if "mean" in wanted:
                item["mean"] = covered_mean(members, width, begin, held, since)
            if "min" in wanted:
                item["min"] = min(r.min for r in members)
            if "max" in wanted:
                item["max"] = max(r.max for r in members)
            if "last_reset" in wanted:
                item["last_reset"] = None
            if "state" in wanted:
                item["state"] = members[-1].last
            if "sum" in wanted:
                item["sum"] = total
            if "change" in wanted:
                item["change"] = change
            held, since = members[-1].last, members[-1].start + width
            result.append(item)
        out[statistic_id] = result
    return out


def _bucket_items(
    rows: list[tuple[float, float, float, float, float, float]], width: float, wanted: set[str], total: float
) -> list[dict[str, Any]]:
    """Return one item per tier bucket from (start, mean, min, max, last, delta) tuples."""
    if wanted.issuperset(STAT_TYPES):
        # What the energy and statistics charts ask for: one dict display per row.
        out: list[dict[str, Any]] = []
        append = out.append
        for begin, mean, low, high, last, delta in rows:
            total += delta
            append(
                {
                    "start": begin * 1000,
                    "end": (begin + width) * 1000,
                    "mean": mean,
                    "min": low,
                    "max": high,
                    "last_reset": None,
                    "state": last,
                    "sum": total,
                    "change": delta,
                }
            )
        return out
    fields = {"mean": 1, "min": 2, "max": 3, "state": 4, "change": 5}
    picks = [(key, index) for key, index in fields.items() if key in wanted]
    with_sum, with_reset = "sum" in wanted, "last_reset" in wanted
    items = []
    for row in rows:
        begin = row[0]
        item: dict[str, Any] = {"start": begin * 1000, "end": (begin + width) * 1000}
        for key, index in picks:
            item[key] = row[index]
        if with_reset:
            item["last_reset"] = None
        if with_sum:
            total += row[5]
            item["sum"] = total
        items.append(item)
    return items
