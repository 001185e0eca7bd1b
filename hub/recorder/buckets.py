"""One bucketed history query: min, max, mean, last, change and count per entity and time bucket.

Definitions (the same on every backend, because the arithmetic is this module's, over rows
each backend reads back as written):

- **Buckets** are `[k * width, (k + 1) * width)` for whole k: aligned to multiples of the
  width since the Unix epoch, in UTC. A query's start is floored and its end ceiled to
  bucket boundaries, so every bucket is whole (the current one ends at the newest point).
- **mean** is time-weighted, as the tiers and Home Assistant's statistics of measurement
  sensors are: a value holds until the next point; the value in force before a bucket (or
  before a gap with no points) covers its start. **min**/**max** are over the points and
  the value carried in; **last** is the value in force at the bucket's end; **count** the
  points in it; **change** the increase of a total_increasing counter over it (a fall below
  90 % of the highest reading is a meter reset, counted as new usage; see tiers.aggregate).
- **Non-numeric states** (`unavailable`, `on`, text) are not points here: the last number
  holds through them. A bucket with no numeric point has no row (a gap), and its time
  counts towards the next bucket's mean only as the carried value.
- **Source**: raw points for buckets narrower than 15 s (and widths no tier divides); the
  15-second tier for multiples of 15 s, the minute tier for multiples of 60 s, the 5-minute
  tier for multiples of 300 s, the hour tier for multiples of 3600 s and the day tier for
  multiples of 86400 s (the coarsest that divides the width), read up to where each tier is
  complete and continued from raw points aggregated the same way (tiers.aggregate into
  15-second, minute or 5-minute rows, tiers.combine into hours, days, then into the width),
  so the numbers do not depend on whether the downsampler has run. The value carried into
  those raw points is the newest tier row's last (the last point before them), read from raw
  points only for entities without a row in the range. As in the tiers, a bucket's mean
  covers its time from its start to the end of the last 15-second (minute, 5-minute, hour,
  day) row that has points. A range older than raw (15-second, minute, 5-minute) retention
  widens the buckets to what the tiers still hold.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from hub.recorder.backends.base import TIER_SECONDS, CarriedPartials, HistoryBackend, TierRow
from hub.recorder.recorder import to_value
from hub.recorder.tiers import Downsampler, RetentionPlan, aggregate, combine, from_partials

FIFTEEN = 15.0
MINUTE = 60.0
FIVE = 300.0
HOUR = 3600.0
DAY = 86400.0
# Widths a caller's points are rounded up to: from 15 s up, multiples of the 15-second tier, so
# that every range longer than an hour (300 points) is answered from a tier.
WIDTHS = (1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
          10800.0, 21600.0, 43200.0, 86400.0, 604800.0)
MAX_BUCKETS = 10_000


@dataclass(frozen=True, slots=True)
class Coverage:
    """What each source holds: retention cut-offs and how far the tiers are complete (epoch seconds)."""

    raw_from: float = -math.inf  # raw points before this are purged
    fifteen_from: float = -math.inf  # 15-second rows before this are purged
    minute_from: float = -math.inf  # minute rows before this are purged
    five_from: float = -math.inf  # 5-minute rows before this are purged
    hour_from: float = -math.inf  # hour rows before this are purged
    fifteen_until: float = -math.inf  # the 15-second tier is complete before this
    minute_until: float = -math.inf  # the minute tier is complete before this
    five_until: float = -math.inf  # the 5-minute tier is complete before this
    hour_until: float = -math.inf  # the hour tier is complete before this
    day_until: float = -math.inf  # the day tier is complete before this


@dataclass(frozen=True, slots=True)
class Buckets:
    """The answer: bucket width, the aligned range, the coarsest source read, rows per entity."""

    width: float
    start: float
    end: float
    source: str  # "raw", "fifteen_second", "minute", "five_minute", "hour" or "day"
    series: dict[str, list[TierRow]]


def width_for(start: float, end: float, points: int) -> float:
    """Return the bucket width (seconds) that gives at most `points` buckets over [start, end)."""
    wanted = max(end - start, 1.0) / max(points, 1)
    for width in WIDTHS:
        if width >= wanted:
            return width
    return math.ceil(wanted / WIDTHS[-1]) * WIDTHS[-1]


def _tier_width(width: float, fine: float) -> float:
    """Return the smallest usable width at least `width` that is a multiple of `fine`."""
    if width >= fine and width % fine == 0:
        return width
    return next((w for w in WIDTHS if w >= width and w % fine == 0), math.ceil(width / fine) * fine)


def effective_width(width: float, start: float, coverage: Coverage) -> float:
    """Widen a width to one the sources still covering start can answer."""
    if width <= 0 or not math.isfinite(width):
        message = f"bucket width must be a positive number of seconds, got {width!r}"
        raise ValueError(message)
    first = start // width * width
    if first < coverage.raw_from:
        width = _tier_width(width, FIFTEEN)
        first = start // width * width
    if first < coverage.fifteen_from and width >= FIFTEEN:  # under 15 s: raw points still answer
        width = _tier_width(width, MINUTE)
        first = start // width * width
    if first < coverage.minute_from and width >= MINUTE:
        width = _tier_width(width, FIVE)
        first = start // width * width
    if first < coverage.five_from:
        width = _tier_width(width, HOUR)
        first = start // width * width
    if first < coverage.hour_from:
        width = _tier_width(width, DAY)
    return width


def _floor(ts: float, width: float) -> float:
    return ts // width * width if math.isfinite(ts) else ts


def _held(rows: dict[str, list[TierRow]], carried: dict[str, float]) -> dict[str, float]:
    """Return the value in force after tier rows: each entity's newest row's last, else what was carried in."""
    return {**carried, **{entity_id: found[-1].last for entity_id, found in rows.items() if found}}


async def _carried(backend: HistoryBackend, entity_ids: list[str], start: float, held: dict[str, float]) -> dict[str, float]:
    """Return the value in force at start per entity: from the tier rows before it, else the raw points."""
    missing = [e for e in entity_ids if e not in held]
    return {**held, **(await backend.last_values(start, missing))} if missing else held


async def _raw_rows(
    backend: HistoryBackend, entity_ids: Sequence[str], start: float, end: float, width: float, deltas: bool,
    held: dict[str, float],
) -> dict[str, list[TierRow]]:
    """Return rows of width seconds from raw points in [start, end); held: values in force at start already known."""
    if start >= end:
        return {}
    if not deltas:
        # Summed up per bucket by the backend (in its database, or with numpy off the loop):
        # an hour of a 1 Hz sensor is 3,600 points to read but 240 rows to return.
        partials = await backend.aggregate_points(entity_ids, start, end, width)
        if not partials:
            return {}
        read_along = partials.carried if isinstance(partials, CarriedPartials) else {}
        carried = await _carried(backend, list(partials), start, {**read_along, **held})
        return {
            entity_id: rows
            for entity_id, found in partials.items()
            if (rows := from_partials(entity_id, found, carried.get(entity_id), width))
        }
    # Pairs rather than Samples: SQLite reads them by primary-key range, ten times faster.
    pairs = await backend.read_points(entity_ids, start, end)
    if not pairs:
        return {}
    previous = await _carried(backend, list(pairs), start, held)
    numbers = _Numbers()
    out = {}
    for entity_id, points in pairs.items():
        samples = ((ts, v if v.__class__ is float else numbers[v], None) for ts, v in points)
        if rows := aggregate(entity_id, samples, previous.get(entity_id), width):  # type: ignore[arg-type]
            out[entity_id] = rows
    return out


class _Numbers(dict[float | str | None, float | None]):
    """A stored state text -> its number (None: not a number), as the recorder's value column holds it."""

    def __missing__(self, key: float | str | None) -> float | None:
        value = to_value(key) if isinstance(key, str) else None if key is None else float(key)
        self[key] = value
        return value


_UNTIL = {"fifteen_second": "fifteen_until", "minute": "minute_until", "five_minute": "five_until"}


async def _raw_tier_rows(
    tier: str, backend: HistoryBackend, entity_ids: Sequence[str], start: float, end: float, coverage: Coverage,
    deltas: bool, held: dict[str, float],
) -> dict[str, list[TierRow]]:
    """Return rows of a tier of raw points (RAW_TIERS) over [start, end): the tier where complete, then raw points aggregated alike."""
    width = float(TIER_SECONDS[tier])
    until = min(max(_floor(getattr(coverage, _UNTIL[tier]), width), start), end)
    out: dict[str, list[TierRow]] = {}
    if start < until:
        out.update(await backend.read_tier(tier, entity_ids, start, until))
    for entity_id, rows in (await _raw_rows(backend, entity_ids, until, end, width, deltas, _held(out, held))).items():
        out.setdefault(entity_id, []).extend(rows)
    return out


async def _hour_rows(
    backend: HistoryBackend, entity_ids: Sequence[str], start: float, end: float, coverage: Coverage, deltas: bool,
    held: dict[str, float],
) -> dict[str, list[TierRow]]:
    """Return hour rows over [start, end): the tier where complete, then the 5-minute rows combined."""
    until = min(max(_floor(coverage.hour_until, HOUR), start), end)
    out: dict[str, list[TierRow]] = {}
    if start < until:
        out.update(await backend.read_tier("hour", entity_ids, start, until))
    rest = await _raw_tier_rows("five_minute", backend, entity_ids, until, end, coverage, deltas, _held(out, held))
    for entity_id, rows in rest.items():
        out.setdefault(entity_id, []).extend(combine(entity_id, rows, HOUR, FIVE))
    return out


async def _day_rows(
    backend: HistoryBackend, entity_ids: Sequence[str], start: float, end: float, coverage: Coverage, deltas: bool,
    held: dict[str, float],
) -> dict[str, list[TierRow]]:
    """Return day rows over [start, end): the tier where complete, then the hour rows combined."""
    until = min(max(_floor(coverage.day_until, DAY), start), end)
    out: dict[str, list[TierRow]] = {}
    if start < until:
        out.update(await backend.read_tier("day", entity_ids, start, until))
    for entity_id, rows in (await _hour_rows(backend, entity_ids, until, end, coverage, deltas, _held(out, held))).items():
        out.setdefault(entity_id, []).extend(combine(entity_id, rows, DAY, HOUR))
    return out


async def query_buckets(
    backend: HistoryBackend,
    entity_ids: Sequence[str],
    start: float,
    end: float,
    width: float,
    coverage: Coverage | None = None,
    *,
    deltas: bool = True,
) -> Buckets:
    """Return each entity's buckets over [start, end), oldest first (entities without points left out).

    Args:
        backend: where history lives.
        entity_ids: the entities to read.
        start: epoch seconds; floored to a bucket boundary.
        end: epoch seconds; ceiled to a bucket boundary.
        width: the bucket width in seconds (see width_for); widened when the range is older
            than raw or 5-minute retention (the answer's width says what was used).
        coverage: retention and tier progress; None reads raw points only.
        deltas: compute each bucket's counter delta, which needs every raw point in Python;
            without (charts), raw points are summed up in the database where the backend can
            (aggregate_points), and `delta` is NaN where raw points were read.

    Raises:
        ValueError: a width that is not a positive number, an end before the start, or more
            than MAX_BUCKETS buckets.
    """
    coverage = coverage or Coverage()
    if end < start:
        message = "end must not be before start"
        raise ValueError(message)
    width = effective_width(width, start, coverage)
    first, last = start // width * width, -(-end // width) * width
    if last == first:
        last = first + width
    if (last - first) / width > MAX_BUCKETS:
        message = f"{(last - first) / width:.0f} buckets of {width:g} s asked for; at most {MAX_BUCKETS}"
        raise ValueError(message)
    ids = list(dict.fromkeys(entity_ids))
    # Wider buckets are built the way the tiers are (5-minute rows, hours of those, then the
    # width), from the tiers or from raw points alike, so both give the same numbers.
    if width % DAY == 0:
        fine, step = await _day_rows(backend, ids, first, last, coverage, deltas, {}), DAY
    elif width % HOUR == 0:
        fine, step = await _hour_rows(backend, ids, first, last, coverage, deltas, {}), HOUR
    elif width % FIVE == 0:
        fine, step = await _raw_tier_rows("five_minute", backend, ids, first, last, coverage, deltas, {}), FIVE
    elif width % MINUTE == 0:
        fine, step = await _raw_tier_rows("minute", backend, ids, first, last, coverage, deltas, {}), MINUTE
    elif width % FIFTEEN == 0:
        fine, step = await _raw_tier_rows("fifteen_second", backend, ids, first, last, coverage, deltas, {}), FIFTEEN
    else:
        fine, step = await _raw_rows(backend, ids, first, last, width, deltas, {}), width
    source = "raw"
    if step == DAY and first < coverage.day_until:
        source = "day"
    elif step >= HOUR and first < coverage.hour_until:
        source = "hour"
    elif step >= FIVE and first < coverage.five_until:
        source = "five_minute"
    elif step == MINUTE and first < coverage.minute_until:
        source = "minute"
    elif step == FIFTEEN and first < coverage.fifteen_until:
        source = "fifteen_second"
    series = {
        entity_id: rows if width == step else combine(entity_id, rows, width, step)
        for entity_id, rows in fine.items()
        if rows
    }
    return Buckets(width, first, last, source, {e: series[e] for e in ids if e in series})


def coverage_of(plan: RetentionPlan | None, tiers: Downsampler | None, now: float) -> Coverage:
    """Return what raw retention and the tiers cover now (no plan: raw points only, never purged)."""
    if plan is None:
        return Coverage()
    return Coverage(
        raw_from=now - plan.default["raw"],
        fifteen_from=now - plan.default["fifteen_second"],
        minute_from=now - plan.default["minute"],
        five_from=now - plan.default["five_minute"],
        hour_from=now - plan.default["hour"],
        fifteen_until=tiers.tier_until("fifteen_second") if tiers is not None else -math.inf,
        minute_until=tiers.tier_until("minute") if tiers is not None else -math.inf,
        five_until=tiers.tier_until("five_minute") if tiers is not None else -math.inf,
        hour_until=tiers.tier_until("hour") if tiers is not None else -math.inf,
        day_until=tiers.tier_until("day") if tiers is not None else -math.inf,
    )
