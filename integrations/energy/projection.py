"""Budgets as the page shows them: the period's use so far, and where it is heading by the period's end.

Use so far: the budget's meters' consumption (kWh, or its cost) since the period began, from
the recorder's history, so the same numbers as the energy report. The live count, which fires
the threshold events, catches up with it when history knows more (a backfill, use while the
hub was down).

The projected end-of-period use is the use so far plus the expected use of every hour left:

- with `forecast:` (a sensor predicting the budget's meters' mean power, such as an onnx sensor
  running forecast_power.onnx), the model's forecast rolled forward hour by hour through the
  `onnx.forecast` service, for up to FORECAST_HOURS hours (a sensor without that service: its
  present value, for the next hour);
- every other hour: that meter's use in the same local hour, averaged over the days it
  reported in the last PROFILE_DAYS days;
- without any history before the period: the period's average rate so far.

Each expected kWh is priced at its hour's tariff.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from hub.exceptions import HubError
from integrations.energy.budget import Budget
from integrations.energy.catalog import Meter
from integrations.energy.cycles import KW_PER_UNIT, PERIOD_CYCLES, cycle_start, next_cycle_start
from integrations.energy.tariff import Tariff
from integrations.energy.usage import COST, HOUR, KWH, usage

if TYPE_CHECKING:
    from hub.core.hub import Hub
    from hub.recorder.backends.base import HistoryBackend
    from integrations.energy.accounting import EnergyManager

_LOGGER = logging.getLogger(__name__)
FORECAST_HOURS = 48
PROFILE_DAYS = 7
PERIOD_WORDS = {"day": "day", "month": "month"}


async def budgets(
    hub: Hub, manager: EnergyManager, meters: Mapping[str, Meter], backend: HistoryBackend,
    tier_until: float | None, now: float,
) -> list[dict[str, Any]]:
    """Return every budget with its use so far (from history) and its projection."""
    zone = manager.zone
    out = []
    for budget in manager.budgets:
        chosen = {e: m for e, m in meters.items() if budget.counts(e) and m.spec.flow == "consumption"}
        specs = {e: m.spec for e, m in chosen.items()}
        cycle = PERIOD_CYCLES[budget.period]
        start, end = cycle_start(now, cycle, zone), next_cycle_start(now, cycle, zone)
        so_far = await usage(backend, specs, start, now, "hour", zone, tier_until=tier_until, now=now)
        used_kwh, used_cost = so_far.totals()[KWH], so_far.totals()[COST]
        manager.catch_up(budget, used_kwh if budget.measure == "kwh" else used_cost, now)
        projection = await _project(hub, manager, budget, chosen, backend, tier_until, now, start, end,
                                    used_kwh, used_cost)
        sensor = manager.budget_sensors[budget.name]
        state = hub.states.get(sensor.entity_id) if sensor.entity_id else None
        title = (state.attributes.get("friendly_name") if state is not None else None) or sensor.name
        used = budget.used
        out.append({
            **budget.as_dict(zone),
            "title": title,
            "entity_id": sensor.entity_id,
            "meters": sorted(chosen),
            "used": round(used, 6),
            "used_kwh": round(used_kwh, 6),
            "used_cost": round(used_cost, 6),
            "percent": round(100 * used / budget.limit, 2) if budget.limit else None,
            "period_start": datetime.fromtimestamp(start, zone).isoformat(),
            "period_end": datetime.fromtimestamp(end, zone).isoformat(),
            "projection": projection,
        })
    return out


async def _project(
    hub: Hub, manager: EnergyManager, budget: Budget, meters: Mapping[str, Meter], backend: HistoryBackend,
    tier_until: float | None, now: float, start: float, end: float, used_kwh: float, used_cost: float,
) -> dict[str, Any] | None:
    zone = manager.zone
    hours = _hours_left(now, end)
    if not hours:
        return None
    forecast = await _forecast(hub, budget.forecast, len(hours), now) if budget.forecast else {}
    profile, days = await _profile(backend, meters, now, zone, tier_until)
    tariff = next((m.spec.tariff for m in meters.values() if m.spec.tariff is not None), manager.default_tariff)
    expected_kwh = expected_cost = 0.0
    forecast_hours = profile_hours = 0
    for hour, share in hours:
        kw = forecast.get(hour)
        if kw is not None:
            kwh = kw * share
            expected_kwh += kwh
            expected_cost += kwh * _price(tariff, hour)
            forecast_hours += 1
            continue
        for entity_id, by_hour in profile.items():
            kwh = by_hour[datetime.fromtimestamp(hour, zone).hour] * share
            expected_kwh += kwh
            expected_cost += kwh * _price(meters[entity_id].spec.tariff, hour)
        profile_hours += 1
    method = "forecast" if forecast_hours else "history"
    if not profile and not forecast_hours:
        if now <= start:
            return None
        rate = (end - now) / (now - start)
        expected_kwh, expected_cost = used_kwh * rate, used_cost * rate
        method = "rate"
    kwh, cost = used_kwh + expected_kwh, used_cost + expected_cost
    value = kwh if budget.measure == "kwh" else cost
    period = PERIOD_WORDS[budget.period]
    if method == "rate":
        explanation = f"The use so far, continued at this {period}'s average rate until its end (no earlier history yet)."
    else:
        parts = []
        if forecast_hours:
            source = budget.forecast
            state = hub.states.get(source) if source else None
            named = (state.attributes.get("friendly_name") if state is not None else None) or source
            ahead = "the next hour" if forecast_hours == 1 else f"the next {forecast_hours} hours"
            parts.append(f"{ahead} as forecast by {named}")
        if profile_hours:
            more = " more" if forecast_hours else ""
            parts.append(f"{_hours_text(profile_hours, more)} estimated from the same hours of the last {_days_text(days)}")
        explanation = f"The use so far, plus {' and '.join(parts)}."
    return {
        "kwh": round(kwh, 6),
        "cost": round(cost, 6),
        "value": round(value, 6),
        "percent": round(100 * value / budget.limit, 2) if budget.limit else None,
        "method": method,
        "explanation": explanation,
        "forecast_hours": forecast_hours,
        "profile_days": days,
    }


def _hours_text(count: int, more: str = "") -> str:
    return f"1{more} hour" if count == 1 else f"{count}{more} hours"


def _days_text(days: float) -> str:
    rounded = max(1, round(days))
    return "day" if rounded == 1 else f"{rounded} days"


def _hours_left(now: float, end: float) -> list[tuple[float, float]]:
    """Return (hour start, share of it still to come) for every clock hour from now to end."""
    out = []
    hour = now // HOUR * HOUR
    while hour < end:
        share = (min(hour + HOUR, end) - max(hour, now)) / HOUR
        if share > 0:
            out.append((hour, share))
        hour += HOUR
    return out


def _price(tariff: Tariff | None, hour: float) -> float:
    if tariff is None:
        return 0.0
    return sum(share * price for _band, share, price in tariff.hours(hour, hour + HOUR)[hour])


async def _profile(
    backend: HistoryBackend, meters: Mapping[str, Meter], now: float, zone: tzinfo, tier_until: float | None,
) -> tuple[dict[str, list[float]], float]:
    """Return each meter's mean kWh per local hour of day over the last PROFILE_DAYS days, and the days seen."""
    begin = now // HOUR * HOUR - PROFILE_DAYS * 86400
    until = now // HOUR * HOUR
    specs = {e: m.spec for e, m in meters.items()}
    found = await usage(backend, specs, begin, until, "hour", zone, tier_until=tier_until, now=until)
    profile: dict[str, list[float]] = {}
    longest = 0.0
    for entity_id, first in found.first_seen.items():
        first = max(begin, first // HOUR * HOUR)
        if first >= until:
            continue
        sums = [0.0] * 24
        counts = [0] * 24
        hour = first
        while hour < until:
            counts[datetime.fromtimestamp(hour, zone).hour] += 1
            hour += HOUR
        for bucket, cell in found.by_entity.get(entity_id, {}).items():
            if bucket >= first:
                sums[datetime.fromtimestamp(bucket, zone).hour] += cell[KWH]
        profile[entity_id] = [sums[h] / counts[h] if counts[h] else 0.0 for h in range(24)]
        longest = max(longest, (until - first) / 86400)
    return profile, longest


async def _forecast(hub: Hub, entity_id: str | None, steps: int, now: float) -> dict[float, float]:
    """Return the forecast mean power (kW) per clock hour from a forecast sensor, {} without one."""
    if entity_id is None:
        return {}
    state = hub.states.get(entity_id)
    if state is None:
        return {}
    per_kw = KW_PER_UNIT.get(state.attributes.get("unit_of_measurement") or "W")
    if per_kw is None:
        _LOGGER.warning("energy: forecast %s is in %r, not W or kW; not used",
                        entity_id, state.attributes.get("unit_of_measurement"))
        return {}
    out: dict[float, float] = {}
    if hub.services.has_service("onnx", "forecast"):
        try:
            response = await hub.services.call("onnx", "forecast", {"steps": min(steps + 1, FORECAST_HOURS)},
                                               target={"entity_id": entity_id}, return_response=True)
        except HubError as err:
            _LOGGER.debug("energy: no forecast from %s: %s", entity_id, err)
            response = None
        for item in ((response or {}).get(entity_id) or {}).get("forecast", []):
            hour = datetime.fromisoformat(item["datetime"]).timestamp()
            if hour + HOUR > now and math.isfinite(item["value"]):
                out[hour // HOUR * HOUR] = max(0.0, item["value"]) * per_kw
        if out:
            return out
    try:
        value = float(state.state)
    except ValueError:
        return {}
    if math.isfinite(value):
        out[now // HOUR * HOUR] = max(0.0, value) * per_kw
    return out
