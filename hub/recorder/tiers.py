"""Downsampling (raw -> 15 s, raw -> 1 minute and raw -> 5 minute -> 1 hour -> 1 day, UTC) and retention, on a schedule with an injectable clock."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from hub.recorder.backends.base import RAW_TIERS, TIER_SECONDS, Batch, HistoryBackend, Partial, Sample, TierRow

if TYPE_CHECKING:
    from hub.tenancy.plans import Plan

_LOGGER = logging.getLogger(__name__)
RETENTION_KEYS = ("raw", "fifteen_second", "minute", "five_minute", "hour", "day")
AS_RAW = ("fifteen_second", "minute")  # kept as long as raw points unless a plan says otherwise (see RetentionPlan)
DEFAULT_RETENTION = {
    "raw": 7 * 86400.0,
    "fifteen_second": 7 * 86400.0,
    "minute": 7 * 86400.0,
    "five_minute": 30 * 86400.0,
    "hour": 365 * 86400.0,
    "day": 5 * 365 * 86400.0,
}
CHUNK = 86400.0  # downsample a day of raw data per read, to bound memory
ENTITY_GROUP = 50  # entities read together at most: a read holds at most their points of one CHUNK
# Raw points a read aims at: about 1.2 MB of Samples. Python's allocator keeps an arena while any
# object in it lives, and the hub's own objects land in the arenas a read's burst made, so RSS
# keeps the size of the largest burst: 50 entities at 5 readings/s for five minutes were
# 75,000 Samples and a lasting step of about 12 MB in the memory soak.
POINTS_PER_READ = 10_000
RESET_RATIO = 0.9  # a counter falling below this share of its last high was reset


@dataclass(slots=True)
class RetentionPlan:
    """How long each tier keeps data: the plan's defaults and per-entity overrides (seconds)."""

    default: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_RETENTION))
    overrides: dict[str, dict[str, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A plan written before the day tier existed keeps days as long as the defaults do; one
        # written before the 15-second or minute tier (and a home's plan, which has neither)
        # keeps them as long as raw points: charts read them wherever raw points would answer.
        raw = self.default.get("raw", DEFAULT_RETENTION["raw"])
        self.default = {**DEFAULT_RETENTION, **dict.fromkeys(AS_RAW, raw), **self.default}

    def for_entity(self, entity_id: str, tier: str) -> float:
        """Return how long tier keeps entity_id's data."""
        return self.overrides.get(entity_id, {}).get(tier, self.default[tier])

    def longest(self) -> dict[str, float]:
        """Return each tier's longest retention over the plan and its overrides."""
        return {
            tier: max([self.default[tier], *(o[tier] for o in self.overrides.values() if tier in o)])
            for tier in RETENTION_KEYS
        }


def _floor(ts: float, width: float) -> float:
    return (ts // width) * width


def aggregate(entity_id: str, samples: Iterable[Sample], previous: float | None, width: float) -> list[TierRow]:
    """Aggregate one entity's points (oldest first) into buckets of width seconds.

    The mean is time-weighted: a value holds until the next one, and the value in force
    before the first point (`previous`) covers the start of the first bucket. The delta treats
    the series as a total_increasing counter, as Home Assistant's statistics do: a fall below
    90 % of the highest reading so far is a meter reset, so the new reading is the usage since
    the reset, never negative usage; a smaller fall is a dip that counts nothing (and the climb
    back is not counted twice).
    """
    rows: list[TierRow] = []
    held = previous
    base = previous  # the counter's highest reading since its last reset
    bucket: float | None = None
    area = delta = lo = hi = since = covered_from = 0.0
    count = 0

    def finish() -> TierRow:
        assert bucket is not None and held is not None
        end = bucket + width
        span = end - covered_from
        mean = (area + held * (end - since)) / span if span > 0 else held
        return TierRow(entity_id, bucket, mean, lo, hi, held, delta, count)

    for ts, value, _state in samples:
        if value is None:
            continue
        start = (ts // width) * width
        if start != bucket:
            if bucket is not None:
                rows.append(finish())
            bucket, area, delta, count = start, 0.0, 0.0, 0
            if held is not None:
                since = covered_from = start
                lo = hi = held
            else:
                since = covered_from = ts
                lo = hi = value
        if held is not None:
            area += held * (ts - since)
        if base is not None:
            if value >= base:
                delta += value - base
                base = value
            elif value < RESET_RATIO * base:
                delta += max(value, 0.0)
                base = value
        else:
            base = value
        since, held = ts, value
        if value < lo:
            lo = value
        elif value > hi:
            hi = value
        count += 1
    if bucket is not None:
        rows.append(finish())
    return rows


def from_partials(entity_id: str, partials: Iterable[Partial], previous: float | None, width: float) -> list[TierRow]:
    """Return the rows aggregate() gives, from what a database summed up per bucket (oldest first).

    The value carried into a bucket (the one before's last, or `previous`) covers its start up
    to the first point and counts towards min and max, as in aggregate(). The counter delta
    needs every point in order, so it is NaN here: callers that want it use aggregate().
    """
    rows: list[TierRow] = []
    held = previous
    nan = math.nan
    for start, count, lo, hi, first, area, last in partials:
        if held is not None:
            area += held * (first - start)
            covered_from = start
            lo = held if held < lo else lo
            hi = held if held > hi else hi
        else:
            covered_from = first
        span = start + width - covered_from
        rows.append(TierRow(entity_id, start, area / span if span > 0 else last, lo, hi, last, nan, count))
        held = last
    return rows


def covered_mean(group: list[TierRow], fine: float, begin: float, held: float | None, since: float) -> float:
    """Return the mean of rows fine seconds wide from begin on, each weighted by the time it covers.

    A gap between rows (buckets without points) is covered by the value in force: `held`, the
    last value of the row before it, which ended at `since` (held None: no row before).
    """
    area = covered = 0.0
    cursor = max(since, begin) if held is not None else None
    for row in group:
        if cursor is not None and row.start > cursor:
            area += held * (row.start - cursor)  # type: ignore[operator]
            covered += row.start - cursor
        area += row.mean * fine
        covered += fine
        held, cursor = row.last, row.start + fine
    return area / covered


def combine(entity_id: str, rows: list[TierRow], width: float, fine: float = TIER_SECONDS["five_minute"]) -> list[TierRow]:
    """Aggregate finer tier rows (oldest first, fine seconds wide) into buckets of width seconds.

    The mean is weighted by time: a fine bucket without points counts with the value in force
    (as covered_mean, in one pass: charts combine a year of hours at a time).
    """
    out: list[TierRow] = []
    append = out.append
    held: float | None = None
    cursor: float | None = None  # where the rows so far end
    begin: float | None = None
    area = covered = delta = lo = hi = 0.0
    count = 0
    for row in rows:
        start = row.start
        bucket = start // width * width
        if bucket != begin:
            if begin is not None:
                append(TierRow(entity_id, begin, area / covered, lo, hi, held, delta, count))  # type: ignore[arg-type]
            begin, area, covered, delta, count = bucket, 0.0, 0.0, 0.0, 0
            lo, hi = row.min, row.max
            cursor = max(cursor, bucket) if held is not None and cursor is not None else None
        if cursor is not None and start > cursor:
            area += held * (start - cursor)  # type: ignore[operator]
            covered += start - cursor
        area += row.mean * fine
        covered += fine
        lo = row.min if row.min < lo else lo
        hi = row.max if row.max > hi else hi
        delta += row.delta
        count += row.count
        held, cursor = row.last, start + fine
    if begin is not None:
        append(TierRow(entity_id, begin, area / covered, lo, hi, held, delta, count))  # type: ignore[arg-type]
    return out


class Downsampler:
    """Fill the 15-second, minute and 5-minute tiers from raw data, the hour and day tiers from the 5-minute one, and purge each tier.

    Progress (the watermarks) is kept in a small JSON file so a restart resumes; data that
    arrives late (backfill, a replayed spool) marks its buckets to be recomputed. The tiers of
    raw points (RAW_TIERS) come from one read of them, each aggregated on its own (a 5-minute row
    is not the sum of its minutes: a value holds to the end of its bucket, whatever the minutes
    after it).
    """

    def __init__(
        self,
        backend: HistoryBackend,
        plan: RetentionPlan,
        state_path: Path,
        clock: Callable[[], float],
    ) -> None:
        self.backend = backend
        self.plan = plan
        self.state_path = Path(state_path)
        self.clock = clock
        state = self._load()
        start = _floor(clock(), TIER_SECONDS["hour"])
        # 15-second rows and minutes start as far back as raw points are kept when the store is
        # older than their tier: the first run after an upgrade builds them for the raw history
        # there is. A new store starts them now, as the other tiers (it has no raw points to read,
        # and points backfilled into it mark their buckets dirty like any late data).
        kept_raw = start - min(plan.default["raw"], DEFAULT_RETENTION["raw"]) // 3600 * 3600
        self.watermarks: dict[str, float] = {
            **{tier: state.get(tier, kept_raw if state else start) for tier in AS_RAW},
            "five_minute": state.get("five_minute", start),
            "hour": state.get("hour", start),
            # Days start as far back as hours are kept: the first run builds them from the hour tier.
            "day": state.get("day", _floor(start - min(plan.default["hour"], DEFAULT_RETENTION["hour"]), TIER_SECONDS["day"])),
        }
        self.dirty: float | None = state.get("dirty")
        # Where the running downsample() started, per tier: a new tier's first run after an
        # upgrade goes back days, which must not make charts read raw points for the other tiers.
        self._recomputing: dict[str, float] = {}
        # Where the running downsample() reads raw points up to: a point stored before it while
        # it runs may be in a chunk it has read already, so it is late even past the watermarks.
        self._reading_until: float | None = None
        # One run at a time (the schedule and the recorder.purge service both start runs): two
        # overlapping runs could write rows read before a backfill over rows read after it.
        self._lock = asyncio.Lock()

    def hour_tier_until(self) -> float:
        """Return up to when the hour tier holds every point stored so far.

        The hours after it are the current one, those not aggregated yet, and those that late
        points (a backfill, a replayed spool) made stale until the next downsample().
        """
        return self.tier_until("hour")

    def tier_until(self, tier: str) -> float:
        """Return up to when a tier (a TIERS name) holds every point stored so far."""
        until = self.watermarks[tier]
        for pending in (self.dirty, self._recomputing.get(tier)):
            if pending is not None:
                until = min(until, _floor(pending, TIER_SECONDS[tier]))
        return until

    def _load(self) -> dict[str, float]:
        try:
            return dict(orjson.loads(self.state_path.read_bytes()))
        except FileNotFoundError:
            return {}
        except (orjson.JSONDecodeError, TypeError, ValueError):
            _LOGGER.warning("Recorder: %s is unreadable; downsampling restarts from now", self.state_path)
            return {}

    def _save(self) -> None:
        data = orjson.dumps({**self.watermarks, "dirty": self.dirty})
        # One temporary file per thread: a save from note_stored may run beside downsample()'s.
        tmp = self.state_path.with_suffix(f".{threading.get_ident()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, self.state_path)

    def note_stored(self, batch: Batch) -> None:
        """Mark buckets to recompute when a stored batch holds points older than the watermark."""
        oldest = batch.min_ts()
        read = max(*(self.watermarks[tier] for tier in RAW_TIERS), self._reading_until or -math.inf)
        if oldest is not None and oldest < read:
            if self.dirty is not None and self.dirty <= oldest:
                return
            self.dirty = oldest
            # Kept at once: a restart before the next downsample() must still recompute those hours.
            try:
                asyncio.get_running_loop().run_in_executor(None, self._save)
            except RuntimeError:  # no loop (a synchronous caller): write now
                self._save()

    async def downsample(self) -> int:
        """Aggregate every completed bucket not aggregated yet; return the rows written.

        Runs one at a time. Points stored while a run reads (a backfill, a replayed spool) mark
        their buckets dirty when the run may have read past them, so the next run recomputes
        them and tier_until() keeps queries off them meanwhile; a run that fails keeps them dirty.
        """
        async with self._lock:
            width5 = TIER_SECONDS["five_minute"]
            end5 = _floor(self.clock(), width5)
            starts = {tier: self.watermarks[tier] for tier in RAW_TIERS}
            taken = self.dirty
            if taken is not None:
                starts = {tier: min(since, _floor(taken, width5)) for tier, since in starts.items()}
                self.dirty = None
            self._recomputing = {**starts, "hour": starts["five_minute"], "day": starts["five_minute"]}
            self._reading_until = end5
            try:
                return await self._downsample(starts, end5)
            except BaseException:
                if taken is not None:
                    self.dirty = taken if self.dirty is None else min(self.dirty, taken)
                raise
            finally:
                self._recomputing = {}
                self._reading_until = None

    async def _from_raw(self, starts: Mapping[str, float], end: float) -> int:
        """Write each raw tier's rows from its start (starts: per RAW_TIERS name) up to end, from raw points."""
        written = 0
        chunk = _floor(min(starts.values()), TIER_SECONDS["five_minute"])
        while chunk < end:
            chunk_end = min(chunk + CHUNK, end)
            # A few entities at a time: every point of every entity read at once was a burst of
            # millions of objects at 5,000 readings/s, and RSS stayed at each burst's peak.
            entities = await self.backend.entities_between(chunk, chunk_end)
            first, size = 0, 1  # the first entity's points tell how many of the next to read together
            while first < len(entities):
                group = entities[first : first + size]
                first += len(group)
                samples = await self.backend.read_states(group, chunk, chunk_end)
                per_entity = sum(map(len, samples.values())) / len(group)
                size = max(1, min(ENTITY_GROUP, int(POINTS_PER_READ / max(per_entity, 1.0))))
                previous = await self.backend.last_values(chunk, list(samples)) if samples else {}
                # A worker thread: a group's points at 5,000 readings/s are a few hundred ms of
                # arithmetic, which the event loop then only shares instead of waiting for.
                tiers = await asyncio.to_thread(_aggregate_tiers, samples, previous, starts)
                del samples
                for tier, rows in tiers.items():
                    if rows:
                        await self.backend.write_tier(tier, rows)
                        written += len(rows)
            chunk = chunk_end
        return written

    async def _downsample(self, starts: Mapping[str, float], end5: float) -> int:
        width_h = TIER_SECONDS["hour"]
        start5 = starts["five_minute"]
        written = await self._from_raw(starts, end5)
        for tier in RAW_TIERS:
            self.watermarks[tier] = max(end5, self.watermarks[tier])
        end_h = _floor(self.watermarks["five_minute"], width_h)
        chunk = _floor(min(self.watermarks["hour"], start5), width_h)
        while chunk < end_h:
            chunk_end = min(chunk + CHUNK * 7, end_h)
            fine = await self.backend.read_tier("five_minute", None, chunk, chunk_end)
            rows = [row for entity_id, parts in fine.items() for row in combine(entity_id, parts, width_h)]
            if rows:
                await self.backend.write_tier("hour", rows)
                written += len(rows)
            chunk = chunk_end
        self.watermarks["hour"] = max(end_h, self.watermarks["hour"])
        width_d = TIER_SECONDS["day"]
        end_d = _floor(self.watermarks["hour"], width_d)
        chunk = _floor(min(self.watermarks["day"], start5), width_d)
        while chunk < end_d:
            chunk_end = min(chunk + CHUNK * 28, end_d)
            hours = await self.backend.read_tier("hour", None, chunk, chunk_end)
            rows = [row for entity_id, parts in hours.items() for row in combine(entity_id, parts, width_d, width_h)]
            if rows:
                await self.backend.write_tier("day", rows)
                written += len(rows)
            chunk = chunk_end
        self.watermarks["day"] = max(end_d, self.watermarks["day"])
        await asyncio.get_running_loop().run_in_executor(None, self._save)
        return written

    async def purge(self) -> None:
        """Delete what each tier keeps no longer, honouring per-entity overrides."""
        now = self.clock()
        overrides = self.plan.overrides
        for tier in RETENTION_KEYS:
            special = [entity_id for entity_id, o in overrides.items() if tier in o]
            if not math.isinf(self.plan.default[tier]):  # a plan's unlimited tier keeps everything
                await self.backend.purge(tier, now - self.plan.default[tier], exclude=special)
            for entity_id in special:
                await self.backend.purge(tier, now - overrides[entity_id][tier], only=[entity_id])

    async def run(self, interval: float, sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        """Downsample and purge every interval seconds until cancelled."""
        while True:
            try:
                await self.downsample()
                await self.purge()
            except Exception:  # noqa: BLE001 - retried next interval; the raw data is still there
                _LOGGER.exception("Recorder downsampling or purge failed")
            await sleep(interval)


def _aggregate_tiers(
    samples: Mapping[str, list[Sample]], previous: Mapping[str, float], starts: Mapping[str, float]
) -> dict[str, list[TierRow]]:
    """Return each raw tier's rows from its start on (starts: per RAW_TIERS name) of some entities' points."""
    out: dict[str, list[TierRow]] = {tier: [] for tier in starts}
    for tier, since in starts.items():
        width = TIER_SECONDS[tier]
        for entity_id, points in samples.items():
            if points and points[-1].ts >= since:
                rows = aggregate(entity_id, points, previous.get(entity_id), width)
                out[tier].extend(row for row in rows if row.start >= since)
    return out


def parse_plan(config: Mapping[str, Any], home_plan: Plan | None = None) -> RetentionPlan:
    """Build the retention plan from the validated `recorder:` section, or from the home's plan.

    A home on a plan (hub.tenancy.plans) keeps each tier as its plan says (unlimited: math.inf);
    the section's per-entity overrides may only shorten that. Without a plan (a single-home
    install) the section's own `plan:`/`plans:` apply, as they always did.
    """
    overrides = {k: dict(v) for k, v in (config.get("overrides") or {}).items()}
    if home_plan is not None:
        default = {tier: math.inf if kept is None else kept for tier, kept in home_plan.retention.as_dict().items()}
        capped = {entity_id: {tier: min(kept, default[tier]) for tier, kept in o.items()} for entity_id, o in overrides.items()}
        return RetentionPlan(default, capped)
    plans = dict(config.get("plans") or {})
    name = config.get("plan", "default")
    default = dict(DEFAULT_RETENTION)
    default.update(plans.get(name) or {})
    return RetentionPlan(default, overrides)
