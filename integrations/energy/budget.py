"""Budgets: a day's or a month's kWh or cost against a limit, with one event per threshold per period."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

from integrations.energy.cycles import PERIOD_CYCLES, cycle_start, next_cycle_start

THRESHOLDS = (50, 80, 100)
EVENT_BUDGET_THRESHOLD = "energy_budget_threshold"


@dataclass(slots=True)
class Budget:
    """A limit on kWh (`unit` "kWh") or cost (`unit` the currency) per day or month.

    `add` returns the thresholds crossed by that use; each is reported once per period, and a
    new period (local midnight, or the 1st) starts from zero.
    """

    name: str
    period: str  # "day" or "month"
    limit: float
    measure: str  # "kwh" or "cost"
    meters: frozenset[str] | None  # None: every meter
    unit: str
    forecast: str | None = None  # a sensor predicting the meters' mean power, for the projection
    used: float = 0.0
    period_start: float | None = None
    fired: list[int] = field(default_factory=list)

    def counts(self, entity_id: str) -> bool:
        """Return whether a meter's use counts against this budget."""
        return self.meters is None or entity_id in self.meters

    def roll(self, ts: float, zone: tzinfo) -> bool:
        """Start a new period when ts lies beyond the current one; return whether it did."""
        start = cycle_start(ts, PERIOD_CYCLES[self.period], zone)
        if self.period_start == start:
            return False
        self.period_start, self.used, self.fired = start, 0.0, []
        return True

    def add(self, amount: float, ts: float, zone: tzinfo) -> list[int]:
        """Count use at ts; return the thresholds (percent) it crossed for the first time this period."""
        self.roll(ts, zone)
        self.used += amount
        crossed = [t for t in THRESHOLDS if t not in self.fired and self.used >= self.limit * t / 100]
        self.fired.extend(crossed)
        return crossed

    def period_end(self, zone: tzinfo) -> float | None:
        """Return when the current period ends."""
        if self.period_start is None:
            return None
        return next_cycle_start(self.period_start, PERIOD_CYCLES[self.period], zone)

    def event(self, threshold: int, zone: tzinfo) -> dict[str, Any]:
        """Return the data of an energy_budget_threshold event."""
        return {
            "budget": self.name,
            "period": self.period,
            "threshold": threshold,
            "used": round(self.used, 6),
            "limit": self.limit,
            "unit": self.unit,
            "percent": round(100 * self.used / self.limit, 2) if self.limit else None,
            "period_start": self.period_start,
            "period_end": self.period_end(zone),
        }

    def as_dict(self, zone: tzinfo) -> dict[str, Any]:
        """Return the budget's state for the web UI."""
        return {**self.event(0, zone), "thresholds_reached": list(self.fired), "measure": self.measure}

    def dump(self) -> dict[str, Any]:
        """Return what must survive a restart."""
        return {"used": self.used, "period_start": self.period_start, "fired": self.fired}

    def load(self, saved: dict[str, Any]) -> None:
        """Restore what dump() returned."""
        self.used = float(saved.get("used", 0.0))
        self.period_start = saved.get("period_start")
        self.fired = [int(t) for t in saved.get("fired", [])]
