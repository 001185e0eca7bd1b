"""Energy as a bill reads it: a day, week, month or year in bars per device, with its totals.

A view's bars are hours (day), local days (week, month) or months (year), each stacked by
device: the kWh consumed, its cost, the kWh returned to the grid and what that earned. The
report adds the totals, the net (consumption minus return, cost minus credit), the
consumption per time-of-use band, and the previous period up to the same point for
comparison (yesterday until this time of day, last month until this day, ...).
"""

from __future__ import annotations

import asyncio
import calendar
from collections.abc import Mapping
from datetime import datetime, timedelta, tzinfo
from typing import Any

from hub.recorder.backends.base import HistoryBackend
from integrations.energy.catalog import Meter
from integrations.energy.cycles import cycle_start, next_cycle_start
from integrations.energy.usage import COST, CREDIT, KWH, RETURN_KWH, Usage, bucket_starts, usage

# view -> (the calendar cycle it shows, the bars' width)
VIEWS = {"day": ("daily", "hour"), "week": ("weekly", "day"), "month": ("monthly", "day"), "year": ("yearly", "month")}
COMPARED = {"day": "yesterday", "week": "last week", "month": "last month", "year": "last year"}


def span(view: str, at: float, zone: tzinfo) -> tuple[float, float]:
    """Return the start and end of the view's period (a local day, week, month or year) holding at."""
    cycle = VIEWS[view][0]
    return cycle_start(at, cycle, zone), next_cycle_start(at, cycle, zone)


def same_point_before(view: str, ts: float, zone: tzinfo) -> float:
    """Return the same wall time one period earlier: yesterday, a week, a month or a year ago.

    A day that the earlier month or year lacks becomes its last day (31 March -> 29 February).
    """
    local = datetime.fromtimestamp(ts, zone).replace(tzinfo=None)
    if view == "day":
        earlier = local - timedelta(days=1)
    elif view == "week":
        earlier = local - timedelta(days=7)
    elif view == "month":
        year, month = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
        earlier = local.replace(year=year, month=month, day=min(local.day, calendar.monthrange(year, month)[1]))
    else:
        year = local.year - 1
        earlier = local.replace(year=year, day=min(local.day, calendar.monthrange(year, local.month)[1]))
    return earlier.replace(tzinfo=zone).timestamp()


def _round(value: float, digits: int = 6) -> float:
    return round(value, digits) + 0.0  # + 0.0 turns -0.0 into 0.0


def totals(values: list[float]) -> dict[str, float]:
    """Return a bill's totals from [kWh, cost, return kWh, credit]."""
    kwh, cost, returned, credit = values
    return {"kwh": _round(kwh), "cost": _round(cost), "return_kwh": _round(returned), "credit": _round(credit),
            "net_kwh": _round(kwh - returned), "net_cost": _round(cost - credit)}


async def _nothing() -> Usage:
    return Usage()


async def build(
    backend: HistoryBackend,
    meters: Mapping[str, Meter],
    view: str,
    at: float,
    now: float,
    zone: tzinfo,
    *,
    tier_until: float | None = None,
    band_order: list[str] | None = None,
) -> dict[str, Any]:
    """Return the report of the view's period holding `at`, as of `now`.

    Args:
        backend: the recorder's history backend.
        meters: the meters to cover (all of the catalog, or one device's).
        view: "day", "week", "month" or "year".
        at: a time inside the period to show.
        now: the present: nothing after it is counted, and the comparison stops at the same point.
        zone: the hub's time zone (the bill's calendar).
        tier_until: the recorder's hour_tier_until().
        band_order: time-of-use band names, dearest first.
    """
    start, end = span(view, at, zone)
    bar = VIEWS[view][1]
    until = min(end, now)
    specs = {entity_id: meter.spec for entity_id, meter in meters.items()}
    previous_start = cycle_start(start - 1, VIEWS[view][0], zone)
    compare_end = start if now >= end else max(previous_start, same_point_before(view, now, zone))
    # Both at once: one's history read (in the backend's thread) overlaps the other's sums.
    found, earlier = await asyncio.gather(
        usage(backend, specs, start, until, bar, zone, tier_until=tier_until, now=now) if until > start else _nothing(),
        usage(backend, specs, previous_start, compare_end, bar, zone, tier_until=tier_until, now=now),
    )
    starts = bucket_starts(start, end, bar, zone)
    # The previous period's bars, matched by position (day 1 with day 1, January with January).
    earlier_index = {ts: i for i, ts in enumerate(bucket_starts(previous_start, start, bar, zone)) if i < len(starts)}
    earlier_bars = [[0.0] * len(starts) for _ in range(2)]
    for cells in earlier.by_entity.values():
        for bucket, cell in cells.items():
            position = earlier_index.get(bucket)
            if position is not None:
                earlier_bars[0][position] += cell[KWH]
                earlier_bars[1][position] += cell[COST]
    index = {ts: i for i, ts in enumerate(starts)}
    devices: dict[str, dict[str, Any]] = {}
    for entity_id, meter in sorted(meters.items(), key=lambda item: (item[1].device_name or item[1].name).lower()):
        cells = found.by_entity.get(entity_id, {})
        if not meter.present and not any(any(cell) for cell in cells.values()):
            continue  # a meter that is gone and used nothing in this period is no part of its bill
        key = meter.device_id or entity_id
        device = devices.get(key)
        if device is None:
            device = devices[key] = {
                "id": key, "device_id": meter.device_id, "name": meter.device_name or meter.name, "entity_ids": [],
                "series": [[0.0] * len(starts) for _ in range(4)],
            }
        device["entity_ids"].append(entity_id)
        for bucket, cell in cells.items():
            position = index.get(bucket)
            if position is None:
                continue
            for column in (KWH, COST, RETURN_KWH, CREDIT):
                device["series"][column][position] += cell[column]
    out_devices = []
    for device in devices.values():
        series = device.pop("series")
        out_devices.append({
            **device,
            "kwh": [_round(v) for v in series[KWH]],
            "cost": [_round(v) for v in series[COST]],
            "return_kwh": [_round(v) for v in series[RETURN_KWH]],
            "credit": [_round(v) for v in series[CREDIT]],
            "total": totals([sum(column) for column in series]),
        })
    banded = sum(kwh for kwh, _cost in found.bands.values())
    order = {name: i for i, name in enumerate(band_order or [])}
    bands = [
        {"name": name, "kwh": _round(kwh), "cost": _round(cost), "share": _round(kwh / banded, 4) if banded else 0.0}
        for name, (kwh, cost) in sorted(found.bands.items(), key=lambda item: (order.get(item[0], len(order)), item[0]))
    ]

    def iso(ts: float) -> str:
        return datetime.fromtimestamp(ts, zone).isoformat()

    return {
        "view": view,
        "bar": bar,
        "start": iso(start),
        "end": iso(end),
        "now": iso(now),
        "in_progress": start <= now < end,
        "previous": iso(previous_start),
        "next": iso(end) if end <= now else None,
        "time_zone": str(zone),
        "bars": [iso(ts) for ts in starts],
        "devices": out_devices,
        "totals": totals(found.totals()),
        "bands": bands,
        "comparison": {"label": COMPARED[view], "start": iso(previous_start), "end": iso(compare_end),
                       "complete": now >= end, **totals(earlier.totals()),
                       "bars": {"kwh": [_round(v) for v in earlier_bars[0]], "cost": [_round(v) for v in earlier_bars[1]]}},
        "source": {"hour_rows": found.hour_rows + earlier.hour_rows, "raw_points": found.raw_points + earlier.raw_points,
                   "raw_from": iso(found.raw_from) if found.raw_from is not None else None},
    }
