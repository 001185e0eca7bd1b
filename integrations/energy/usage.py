"""kWh and cost per meter and period, from the recorder's hourly statistics.

Completed hours come from the recorder's hour tier (one row per meter and hour with the
counter's `delta`, resets already counted as new use, and the time-weighted `mean`), so a year
costs ~8,760 rows per meter instead of every reading. Hours the tier does not hold yet (the
current hour, hours the downsampler has not reached, and hours that late data made stale) are
computed from the raw points.

Meters are energy counters (kWh, Wh, ...) or power sensors (W, kW). A counter's rise is
consumption, or return to the grid for a `return` meter. A power sensor's energy is its mean
power over each hour: above zero it is consumption, below zero return.

Pricing: an hour row's kWh is spread evenly over its hour and split at tariff boundaries in
proportion to time (a 07:30 price change inside an hour prices half of that hour's kWh at each
price), each part at the price valid on its local date. From raw points the split is exact to
the readings: the kWh between two readings is spread over the time between them. A bucket
(hour, local day, week, month or year) gets the kWh of the hour rows starting in it and of the
readings taken in it. Consumption costs its tariff's price; return earns its tariff's price (a
credit). Consumption is also split into the tariff's time-of-use bands.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

from hub.recorder.backends.base import HistoryBackend
from integrations.energy.cycles import counter_step, cycle_start, next_cycle_start
from integrations.energy.tariff import HourParts, Tariff

HOUR = 3600.0
# Bucket name -> calendar cycle (None: clock hours).
PERIODS: dict[str, str | None] = {"hour": None, "day": "daily", "week": "weekly", "month": "monthly", "year": "yearly"}
# A cell: kWh consumed, its cost, kWh returned, what the return earned.
KWH, COST, RETURN_KWH, CREDIT = 0, 1, 2, 3
KINDS = ("energy", "power")


@dataclass(frozen=True, slots=True)
class MeterSpec:
    """How to read one meter.

    Attributes:
        factor: kWh per unit of an energy counter, kW per unit of a power sensor.
        tariff: the price of consumption (of a `return` counter: what its return earns).
        flow: "consumption" or "return" (counters); a power sensor is both, by its sign.
        kind: "energy" (a counter) or "power".
        return_tariff: what a power sensor's return earns.
    """

    factor: float = 1.0
    tariff: Tariff | None = None
    flow: str = "consumption"
    kind: str = "energy"
    return_tariff: Tariff | None = None

    @property
    def credit_tariff(self) -> Tariff | None:
        """Return the tariff that prices this meter's return."""
        return self.return_tariff if self.kind == "power" else self.tariff


@dataclass(slots=True)
class Usage:
    """Per entity and bucket start a cell [kWh, cost, return kWh, credit]; consumption per band."""

    by_entity: dict[str, dict[float, list[float]]] = field(default_factory=dict)
    bands: dict[str, list[float]] = field(default_factory=dict)  # band -> [kWh, cost]
    first_seen: dict[str, float] = field(default_factory=dict)  # entity -> its first hour row or reading
    hour_rows: int = 0
    raw_points: int = 0
    raw_from: float | None = None

    def cell(self, entity_id: str, bucket: float) -> list[float]:
        """Return the cell of an entity's bucket, made when missing."""
        cells = self.by_entity.setdefault(entity_id, {})
        found = cells.get(bucket)
        if found is None:
            found = cells[bucket] = [0.0, 0.0, 0.0, 0.0]
        return found

    def add(self, entity_id: str, bucket: float, kwh: float, cost: float) -> None:
        """Add consumed kWh and its cost to an entity's bucket."""
        cell = self.cell(entity_id, bucket)
        cell[KWH] += kwh
        cell[COST] += cost

    def totals(self) -> list[float]:
        """Return [kWh, cost, return kWh, credit] over every entity and bucket."""
        out = [0.0, 0.0, 0.0, 0.0]
        for cells in self.by_entity.values():
            for cell in cells.values():
                for index in range(4):
                    out[index] += cell[index]
        return out


class Buckets:
    """Map a time to the start of its bucket, remembering the last one (data arrives in time order)."""

    def __init__(self, period: str, zone: tzinfo) -> None:
        self.zone, self.cycle = zone, PERIODS[period]
        self.start, self.end = 0.0, -1.0

    def __call__(self, ts: float) -> float:
        if self.start <= ts < self.end:
            return self.start
        if self.cycle is None:
            self.start = ts // HOUR * HOUR
            self.end = self.start + HOUR
        else:
            self.start = cycle_start(ts, self.cycle, self.zone)
            self.end = next_cycle_start(ts, self.cycle, self.zone)
        return self.start


def period_of(ts: float, period: str, zone: tzinfo) -> float:
    """Return the start of the hour, local day, week, month or year containing ts."""
    return Buckets(period, zone)(ts)


def bucket_starts(start: float, end: float, period: str, zone: tzinfo) -> list[float]:
    """Return the starts of the buckets that make up [start, end)."""
    cycle = PERIODS[period]
    out = []
    at = start
    while at < end:
        out.append(at)
        at = at + HOUR if cycle is None else next_cycle_start(at, cycle, zone)
    return out


async def usage(
    backend: HistoryBackend,
    meters: Mapping[str, MeterSpec],
    start: float,
    end: float,
    period: str,
    zone: tzinfo,
    *,
    tier_until: float | None = None,
    now: float | None = None,
) -> Usage:
    """Return each meter's consumption, return and their prices per bucket in [start, end).

    Args:
        backend: the recorder's history backend.
        meters: entity_id -> MeterSpec.
        start: epoch seconds; hour rows are whole hours, so start is rounded down to the hour.
        end: epoch seconds.
        period: the buckets: "hour", "day", "week", "month" or "year" (local calendar in zone).
        zone: the hub's time zone.
        tier_until: up to when the hour tier holds every recorded point (the recorder's
            `hour_tier_until`); later hours come from raw points. None: as far as it has rows.
        now: the present; a power sensor's last reading holds until then (None: until its
            last reading only).
    """
    result = Usage()
    if not meters or end <= start:
        return result
    ids = list(meters)
    first = start // HOUR * HOUR
    rows = await backend.read_tier_values("hour", ids, first, end if tier_until is None else min(end, tier_until))
    if tier_until is None:
        covered = max((found[-1][0] + HOUR for found in rows.values() if found), default=first)
    else:
        covered = tier_until // HOUR * HOUR
    covered = min(max(covered, start), end)
    _from_hours(result, rows, meters, start, covered, period, zone)
    if covered < end:
        result.raw_from = covered
        samples = await backend.read_states(ids, covered, end, include_start=True)
        for entity_id, points in samples.items():
            spec = meters[entity_id]
            reader = _power_points if spec.kind == "power" else _counter_points
            reader(result, entity_id, spec, [(p[0], p[1]) for p in points], covered, end, now, Buckets(period, zone))
    return result


def _from_hours(
    result: Usage,
    rows: Mapping[str, list[tuple[float, float, float, float, float, float]]],
    meters: Mapping[str, MeterSpec],
    start: float,
    covered: float,
    period: str,
    zone: tzinfo,
) -> None:
    """Count the hour rows before `covered`: the hot loop of a year's query, kept plain.

    An hour that `start` or `covered` cuts counts with the share of it inside (its use is
    taken as even over the hour, as its price is).
    """
    first = start // HOUR * HOUR
    buckets = Buckets(period, zone)
    counted = 0
    for entity_id, entity_rows in rows.items():
        spec = meters[entity_id]
        power, is_return, factor = spec.kind == "power", spec.flow == "return", spec.factor
        prices = spec.tariff.hours(first, covered) if spec.tariff is not None else None
        credits = spec.credit_tariff.hours(first, covered) if spec.credit_tariff is not None else None
        cells: dict[float, list[float]] = result.by_entity.setdefault(entity_id, {})
        if entity_rows and entity_rows[0][0] < covered:
            result.first_seen[entity_id] = entity_rows[0][0]
        # kWh per (bucket, the hour's prices): hours priced alike share one tuple, so a year of
        # rows adds into a few sums, priced once each below.
        used: dict[tuple[float, int], float] = {}
        returned: dict[tuple[float, int], float] = {}
        priced: dict[int, HourParts] = {}
        bucket, bucket_end = 0.0, -1.0
        for hour, mean, _low, _high, _last, delta in entity_rows:
            if hour >= covered:
                break
            counted += 1
            amount = (mean if power else delta) * factor
            if amount == 0:
                continue
            if hour < start or hour + HOUR > covered:
                amount *= (min(hour + HOUR, covered) - max(hour, start)) / HOUR
            at = hour if hour >= start else start
            if not bucket <= at < bucket_end:
                bucket = buckets(at)
                bucket_end = buckets.end
            if amount > 0 and not is_return:
                parts = prices[hour] if prices is not None else ()
                key = (bucket, id(parts))
                used[key] = used.get(key, 0.0) + amount
            else:
                parts = credits[hour] if credits is not None else ()
                key = (bucket, id(parts))
                returned[key] = returned.get(key, 0.0) + abs(amount)
            priced[key[1]] = parts
        for (at, pid), kwh in used.items():
            cell = cells.get(at)
            if cell is None:
                cell = cells[at] = [0.0, 0.0, 0.0, 0.0]
            cell[KWH] += kwh
            for band, share, price in priced[pid]:
                part = kwh * share
                cell[COST] += part * price
                tally = result.bands.setdefault(band, [0.0, 0.0])
                tally[0] += part
                tally[1] += part * price
        for (at, pid), kwh in returned.items():
            cell = cells.get(at)
            if cell is None:
                cell = cells[at] = [0.0, 0.0, 0.0, 0.0]
            cell[RETURN_KWH] += kwh
            if credits is not None:
                cell[CREDIT] += kwh * _mean_price(priced[pid])
    result.hour_rows += counted


def _mean_price(parts: HourParts) -> float:
    return sum(share * price for _band, share, price in parts)


def _consume(result: Usage, entity_id: str, bucket: float, tariff: Tariff | None, kwh: float, a: float, b: float) -> None:
    cell = result.cell(entity_id, bucket)
    cell[KWH] += kwh
    if tariff is None:
        return
    for band, part, cost in tariff.split(kwh, a, b):
        cell[COST] += cost
        tally = result.bands.setdefault(band, [0.0, 0.0])
        tally[0] += part
        tally[1] += cost


def _give_back(result: Usage, entity_id: str, bucket: float, tariff: Tariff | None, kwh: float, a: float, b: float) -> None:
    cell = result.cell(entity_id, bucket)
    cell[RETURN_KWH] += kwh
    if tariff is not None:
        cell[CREDIT] += tariff.cost(kwh, a, b)


def _counter_points(
    result: Usage, entity_id: str, spec: MeterSpec, points: list[tuple[float, float | None]],
    covered: float, end: float, now: float | None, buckets: Buckets,
) -> None:
    """Count a counter's rises between readings from covered on (the reading before it is the base)."""
    base: float | None = None
    previous = 0.0
    for ts, value in points:
        if value is None:
            continue
        result.first_seen.setdefault(entity_id, max(ts, covered))
        if base is None or ts < covered:
            base, previous = value, ts
            continue
        used, base = counter_step(base, value)
        if used > 0:
            kwh = used * spec.factor
            if spec.flow == "return":
                _give_back(result, entity_id, buckets(ts), spec.tariff, kwh, previous, ts)
            else:
                _consume(result, entity_id, buckets(ts), spec.tariff, kwh, previous, ts)
        result.raw_points += 1
        previous = ts


def _power_points(
    result: Usage, entity_id: str, spec: MeterSpec, points: list[tuple[float, float | None]],
    covered: float, end: float, now: float | None, buckets: Buckets,
) -> None:
    """Integrate a power sensor: each reading holds until the next (or until now), cut at hour boundaries."""
    held: float | None = None
    since = covered
    for ts, value in [*points, (min(end, now), None)] if now is not None and now > covered else points:
        if held is not None and ts > since:
            _integrate(result, entity_id, spec, held, max(since, covered), ts, buckets)
        held, since = value, max(ts, covered)
        if value is not None:
            result.first_seen.setdefault(entity_id, since)
            if ts >= covered:
                result.raw_points += 1


def _integrate(result: Usage, entity_id: str, spec: MeterSpec, power: float, a: float, b: float, buckets: Buckets) -> None:
    while a < b:
        cut = min(b, a // HOUR * HOUR + HOUR)
        kwh = power * spec.factor * (cut - a) / HOUR
        if kwh > 0:
            _consume(result, entity_id, buckets(a), spec.tariff, kwh, a, cut)
        elif kwh < 0:
            _give_back(result, entity_id, buckets(a), spec.return_tariff, -kwh, a, cut)
        a = cut


def grouped(
    found: Usage, groups: Mapping[str, tuple[str, str | None]], zone: tzinfo
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Sum entities into groups ({entity_id: (group id, group name)}); return groups and the total.

    Each group and period has `kwh` and `cost` (consumption) and `return_kwh` and `credit`.
    """
    from datetime import datetime

    keys = ("kwh", "cost", "return_kwh", "credit")
    out: dict[str, dict[str, Any]] = {}
    total = dict.fromkeys(keys, 0.0)
    for entity_id, periods in found.by_entity.items():
        if not periods:
            continue
        group_id, name = groups.get(entity_id, (entity_id, None))
        group = out.setdefault(group_id, {"id": group_id, "name": name, "entity_ids": [], **dict.fromkeys(keys, 0.0),
                                          "periods": {}})
        group["entity_ids"].append(entity_id)
        for start, values in periods.items():
            cell = group["periods"].setdefault(start, [0.0, 0.0, 0.0, 0.0])
            for index, key in enumerate(keys):
                cell[index] += values[index]
                group[key] += values[index]
                total[key] += values[index]
    result = []
    for group in sorted(out.values(), key=lambda g: -g["kwh"]):
        group["periods"] = [
            {"start": datetime.fromtimestamp(start, zone).isoformat(), **{k: round(v, 6) for k, v in zip(keys, cell, strict=True)}}
            for start, cell in sorted(group["periods"].items())
        ]
        for key in keys:
            group[key] = round(group[key], 6)
        group["entity_ids"].sort()
        result.append(group)
    return result, {k: round(v, 6) for k, v in total.items()}
