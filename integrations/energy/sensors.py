"""The energy integration's entities: cost per meter and in total, utility meters, budgets."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

from hub.core.entity import SensorEntity
from integrations.energy.cycles import cycle_start, next_cycle_start


def _object_id(entity_id: str) -> str:
    return entity_id.partition(".")[2]


class CostSensor(SensorEntity):
    """What a meter's energy (or all meters' energy) cost since the hub started counting it."""

    device_class = "monetary"
    state_class = "total"
    suggested_display_precision = 2

    def __init__(self, object_id: str, name: str, currency: str, unique_id: str) -> None:
        self.entity_id = f"sensor.{object_id}"
        self.name = name
        self.unique_id = unique_id
        self.unit_of_measurement = currency
        self.native_value = 0.0
        self.extra_state_attributes = {}

    def show(self, cost: float, kwh: float, **attributes: Any) -> None:
        """Set the total cost and the energy it is for."""
        self.native_value = round(cost, 4)
        self.extra_state_attributes = {"energy_kwh": round(kwh, 6), **attributes}


class UtilityMeter:
    """Home Assistant's utility_meter: the source's use in the current cycle, reset at its start.

    A drop of the source is a meter reset (the new reading counts from zero); the cycle resets
    at local midnight, Monday, the 1st of the month or 1 January.
    """

    def __init__(self, name: str, source: str, cycle: str, zone: tzinfo) -> None:
        self.name = name
        self.source = source
        self.cycle = cycle
        self.zone = zone
        self.value = 0.0
        self.last_period = 0.0
        self.last_reset: float | None = None
        self.unit: str | None = None

    def next_reset(self) -> float | None:
        """Return when the current cycle ends."""
        return None if self.last_reset is None else next_cycle_start(self.last_reset, self.cycle, self.zone)

    def roll(self, now: float) -> bool:
        """Reset when now lies in a later cycle; return whether it did."""
        start = cycle_start(now, self.cycle, self.zone)
        if self.last_reset is None:
            self.last_reset = start
            return False
        if start <= self.last_reset:
            return False
        # The last cycle's use is kept only when that cycle just ended, not after a long stop.
        ended_just_now = next_cycle_start(self.last_reset, self.cycle, self.zone) == start
        self.last_period = self.value if ended_just_now else 0.0
        self.value, self.last_reset = 0.0, start
        return True

    def add(self, amount: float) -> None:
        """Count use in the current cycle."""
        self.value += amount

    def dump(self) -> dict[str, Any]:
        """Return what must survive a restart."""
        return {"value": self.value, "last_period": self.last_period, "last_reset": self.last_reset}

    def load(self, saved: dict[str, Any]) -> None:
        """Restore what dump() returned."""
        self.value = float(saved.get("value", 0.0))
        self.last_period = float(saved.get("last_period", 0.0))
        self.last_reset = saved.get("last_reset")


class UtilityMeterSensor(SensorEntity):
    """The entity of a UtilityMeter."""

    state_class = "total"
    device_class = "energy"

    def __init__(self, meter: UtilityMeter, name: str | None) -> None:
        self.meter = meter
        self.entity_id = f"sensor.{meter.name}"
        self.name = name or meter.name.replace("_", " ").capitalize()
        self.unique_id = f"energy_utility_{meter.name}"

    def show(self) -> None:
        """Copy the meter's value and attributes onto the entity."""
        meter = self.meter
        self.native_value = round(meter.value, 6)
        self.unit_of_measurement = meter.unit
        self.last_reset = datetime.fromtimestamp(meter.last_reset, UTC) if meter.last_reset is not None else None
        self.extra_state_attributes = {
            "source": meter.source,
            "status": "collecting",
            "meter_period": meter.cycle,
            "last_period": round(meter.last_period, 6),
            "next_reset": _iso(meter.next_reset()),
        }


class BudgetSensor(SensorEntity):
    """How much of a budget the current day or month has used, in percent."""

    state_class = "measurement"
    unit_of_measurement = "%"
    icon = "mdi:cash-clock"

    def __init__(self, name: str) -> None:
        self.entity_id = f"sensor.{name}_budget"
        self.name = f"{name.replace('_', ' ').capitalize()} budget"
        self.unique_id = f"energy_budget_{name}"

    def show(self, state: dict[str, Any]) -> None:
        """Show a Budget.as_dict()."""
        self.native_value = state["percent"]
        self.extra_state_attributes = {k: v for k, v in state.items() if k not in ("percent", "threshold")}


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()
