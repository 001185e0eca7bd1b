"""kWh and cost per meter for a period, from the recorder's hourly statistics.

Completed hours come from the recorder's hour tier (one row per meter and hour with the
counter's `delta`, resets already counted as new use), so a year costs ~8,760 rows per meter
instead of every reading. Hours the tier does not cover yet (the current hour, and any the
downsampler has not reached) are computed from the raw points.

Pricing: an hour row's kWh is spread evenly over its hour and split at tariff boundaries in
proportion to time (a 07:30 price change inside an hour prices half of that hour's kWh at each
price). From raw points the split is exact to the readings: the kWh between two readings is
spread over the time between them. A period (hour, local day or month) gets the kWh of the
hour rows starting in it and of the readings taken in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

from hub.recorder.backends.base import HistoryBackend
from integrations.energy.cycles import cycle_start, next_cycle_start, usage_delta
from integrations.energy.tariff import Tariff

HOUR = 3600.0
PERIODS = {"hour": None, "day": "daily", "week": "weekly", "month": "monthly"}


@dataclass(frozen=True, slots=True)
class MeterSpec:
    """How to read one meter: its kWh per unit and its tariff."""

    factor: float = 1.0
    tariff: Tariff | None = None


@dataclass(slots=True)
class Usage:
    """kWh and cost per entity and period start, and where the numbers came from."""

    by_entity: dict[str, dict[float, list[float]]] = field(default_factory=dict)
    hour_rows: int = 0
    raw_points: int = 0
    raw_from: float | None = None

    def add(self, entity_id: str, period: float, kwh: float, cost: float) -> None:
        """Add kWh and cost to an entity's period."""
        cell = self.by_entity.setdefault(entity_id, {}).setdefault(period, [0.0, 0.0])
        cell[0] += kwh
        cell[1] += cost


def period_of(ts: float, period: str, zone: tzinfo) -> float:
    """Return the start of the hour, local day, week or month containing ts."""
    cycle = PERIODS[period]
    if cycle is None:
        return ts // HOUR * HOUR
    return cycle_start(ts, cycle, zone)


class _Periods:
    """period_of, remembering the last period: rows and points arrive in time order per meter."""

    def __init__(self, period: str, zone: tzinfo) -> None:
        self.period, self.zone, self.cycle = period, zone, PERIODS[period]
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


async def usage(
    backend: HistoryBackend,
    meters: Mapping[str, MeterSpec],
    start: float,
    end: float,
    period: str,
    zone: tzinfo,
) -> Usage:
    """Return each meter's kWh and cost per period in [start, end).

    Args:
        backend: the recorder's history backend.
        meters: entity_id -> MeterSpec.
        start: epoch seconds; hour rows are whole hours, so start is rounded down to the hour.
        end: epoch seconds.
        period: "hour", "day", "week" or "month" (local calendar in zone).
        zone: the hub's time zone.
    """
    result = Usage()
    if not meters or end <= start:
        return result
    ids = list(meters)
    rows = await backend.read_tier("hour", ids, start // HOUR * HOUR, end)
    covered_until = max((r.start + HOUR for rs in rows.values() for r in rs), default=start // HOUR * HOUR)
    covered_until = min(max(covered_until, start), end)
    periods = _Periods(period, zone)
    hour_price: dict[tuple[int, float], float] = {}  # (tariff, hour) -> mean price over the hour
    for entity_id, entity_rows in rows.items():
        spec = meters[entity_id]
        tariff = spec.tariff
        for row in entity_rows:
            if row.start >= covered_until:
                continue
            kwh = row.delta * spec.factor
            cost = 0.0
            if tariff is not None:
                key = (id(tariff), row.start)
                price = hour_price.get(key)
                if price is None:
                    price = hour_price[key] = tariff.cost(1.0, row.start, row.start + HOUR)
                cost = kwh * price
            result.add(entity_id, periods(row.start), kwh, cost)
            result.hour_rows += 1
    if covered_until < end:
        result.raw_from = covered_until
        samples = await backend.read_states(ids, covered_until, end, include_start=True)
        for entity_id, points in samples.items():
            spec = meters[entity_id]
            previous: tuple[float, float] | None = None
            for ts, value, _state in points:
                if value is None:
                    continue
                if previous is not None and ts >= covered_until:
                    kwh = usage_delta(previous[1], value) * spec.factor
                    cost = spec.tariff.cost(kwh, previous[0], ts) if spec.tariff else 0.0
                    result.add(entity_id, periods(ts), kwh, cost)
                    result.raw_points += 1
                previous = (ts, value)
    return result


def grouped(
    found: Usage, groups: Mapping[str, tuple[str, str | None]], zone: tzinfo
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Sum entities into groups ({entity_id: (group id, group name)}); return groups and the total."""
    from datetime import datetime

    out: dict[str, dict[str, Any]] = {}
    total = {"kwh": 0.0, "cost": 0.0}
    for entity_id, periods in found.by_entity.items():
        group_id, name = groups.get(entity_id, (entity_id, None))
        group = out.setdefault(group_id, {"id": group_id, "name": name, "entity_ids": [], "kwh": 0.0, "cost": 0.0,
                                          "periods": {}})
        group["entity_ids"].append(entity_id)
        for start, (kwh, cost) in periods.items():
            cell = group["periods"].setdefault(start, [0.0, 0.0])
            cell[0] += kwh
            cell[1] += cost
            group["kwh"] += kwh
            group["cost"] += cost
            total["kwh"] += kwh
            total["cost"] += cost
    result = []
    for group in sorted(out.values(), key=lambda g: -g["kwh"]):
        group["periods"] = [
            {"start": datetime.fromtimestamp(start, zone).isoformat(), "kwh": round(kwh, 6), "cost": round(cost, 6)}
            for start, (kwh, cost) in sorted(group["periods"].items())
        ]
        group["kwh"], group["cost"] = round(group["kwh"], 6), round(group["cost"], 6)
        group["entity_ids"].sort()
        result.append(group)
    return result, {k: round(v, 6) for k, v in total.items()}
