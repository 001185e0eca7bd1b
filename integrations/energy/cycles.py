"""Counting energy: counter deltas with meter resets, units, and calendar cycles in local time.

Pure code (no hub), shared by utility meters, cost accounting, budgets and usage queries.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo

CYCLES = ("daily", "weekly", "monthly", "yearly")
PERIOD_CYCLES = {"day": "daily", "week": "weekly", "month": "monthly", "year": "yearly"}
KWH_PER_UNIT = {"Wh": 0.001, "kWh": 1.0, "MWh": 1000.0, "GWh": 1_000_000.0}
KW_PER_UNIT = {"W": 0.001, "kW": 1.0, "MW": 1000.0}


# Home Assistant's rule for total_increasing: only a fall below 90 % of the last reading is a
# new meter cycle; a smaller fall is a dip (rounding, a flaky reading) and counts nothing.
RESET_RATIO = 0.9


def counter_step(base: float | None, current: float) -> tuple[float, float]:
    """Return (energy used, the new base) for a reading of a total_increasing counter.

    `base` is the highest reading of the counter's present cycle. A fall below 90 % of it means
    the meter was reset or replaced (power loss, a PZEM energy reset, new firmware, a new meter):
    the new reading is what was used since, never negative use. A smaller fall is a dip: nothing
    is counted and the base stays, so the climb back to it is not counted twice. Without a base
    nothing is counted, so a meter first seen at 1,234 kWh does not count 1,234 kWh today.
    """
    if base is None:
        return 0.0, current
    if current >= base:
        return current - base, current
    if current < RESET_RATIO * base:
        return max(current, 0.0), current
    return 0.0, base


def usage_delta(previous: float | None, current: float) -> float:
    """Return the energy used between two readings of a total_increasing counter (see counter_step)."""
    return counter_step(previous, current)[0]


def kwh_factor(unit: str | None) -> float | None:
    """Return what one unit of an energy sensor is in kWh (kWh when it has no unit), None if not energy."""
    if unit is None:
        return 1.0
    return KWH_PER_UNIT.get(unit)


def meter_unit(unit: str | None) -> tuple[str, float] | None:
    """Return ("energy", kWh per unit) or ("power", kW per unit) for a meter's unit, None for neither."""
    if unit in KW_PER_UNIT:
        return "power", KW_PER_UNIT[unit]
    factor = kwh_factor(unit)
    return None if factor is None else ("energy", factor)


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
