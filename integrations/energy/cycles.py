"""Counting energy: counter deltas with meter resets, units, and calendar cycles in local time.

Pure code (no hub), shared by utility meters, cost accounting, budgets and usage queries.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo

CYCLES = ("daily", "weekly", "monthly", "yearly")
PERIOD_CYCLES = {"day": "daily", "week": "weekly", "month": "monthly", "year": "yearly"}
KWH_PER_UNIT = {"Wh": 0.001, "kWh": 1.0, "MWh": 1000.0, "GWh": 1_000_000.0}


def usage_delta(previous: float | None, current: float) -> float:
    """Return the energy used between two readings of a total_increasing counter.

    A drop means the meter was reset (power loss, a PZEM energy reset, new firmware): the new
    reading is what was used since the reset, never negative use. Without a previous reading
    nothing is counted, so a meter first seen at 1,234 kWh does not count 1,234 kWh today.
    """
    if previous is None:
        return 0.0
    if current >= previous:
        return current - previous
    return current


def kwh_factor(unit: str | None) -> float | None:
    """Return what one unit of an energy sensor is in kWh (kWh when it has no unit), None if not energy."""
    if unit is None:
        return 1.0
    return KWH_PER_UNIT.get(unit)


def cycle_start(ts: float, cycle: str, zone: tzinfo) -> float:
    """Return the Unix time the cycle containing ts began: local midnight of its day, Monday, 1st, 1 Jan."""
    day = datetime.fromtimestamp(ts, zone).date()
    return _midnight(_first_day(day, cycle), zone)


def next_cycle_start(ts: float, cycle: str, zone: tzinfo) -> float:
    """Return the Unix time the cycle after the one containing ts begins."""
    first = _first_day(datetime.fromtimestamp(ts, zone).date(), cycle)
    if cycle == "daily":
        following = first + timedelta(days=1)
    elif cycle == "weekly":
        following = first + timedelta(days=7)
    elif cycle == "monthly":
        following = (first + timedelta(days=32)).replace(day=1)
    else:
        following = first.replace(year=first.year + 1)
    return _midnight(following, zone)


def _first_day(day: date, cycle: str) -> date:
    if cycle == "daily":
        return day
    if cycle == "weekly":
        return day - timedelta(days=day.weekday())
    if cycle == "monthly":
        return day.replace(day=1)
    if cycle == "yearly":
        return day.replace(month=1, day=1)
    message = f"unknown cycle {cycle!r}: expected one of {', '.join(CYCLES)}"
    raise ValueError(message)


def _midnight(day: date, zone: tzinfo) -> float:
    # Built from the wall date, so a 23- or 25-hour day ends at the true local midnight.
    return datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()
