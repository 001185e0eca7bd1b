"""The integral sensor: a Riemann sum of a source over time, e.g. W to kWh for a meter that reports power.

    sensor:
      - platform: integration
        source: sensor.kitchen_power
        name: Kitchen energy
        unit_prefix: k              # W x h -> kWh
        round: 3
        method: trapezoidal         # or left, right
        max_sub_interval: "00:05:00"  # integrate a silent source as constant every 5 min

As Home Assistant does: the area between two states of the source (also a report of the same
value) is added; the unit is the source's unit times the time unit with the prefix (W -> kWh,
km/h -> km), the device class becomes energy for a power source, and the state class is total.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub.config.core_schema import entity_id as _entity_id
from hub.core.bus import Event, callback
from hub.core.entity import SensorEntity
from hub.core.states import STATE_UNAVAILABLE, State
from hub.exceptions import HubError
from hub.util import slugify
from integrations.sensor.calculated import ENERGY_UNITS, period, restored, to_decimal

if TYPE_CHECKING:
    from hub.core.hub import Hub
    from integrations.platforms import AddEntities

UNIT_PREFIXES: dict[str | None, int] = {None: 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
UNIT_TIME = {"s": 1, "min": 60, "h": 3600, "d": 86400}
METHODS = ("trapezoidal", "left", "right")
ICON = "mdi:chart-histogram"


def _removed_unit(value: Any) -> Any:
    if isinstance(value, dict) and "unit" in value:
        raise vol.Invalid("'unit' was removed: the unit comes from the source, unit_prefix and unit_time", path=["unit"])
    return value


PLATFORM_SCHEMA = vol.All(
    _removed_unit,
    vol.Schema(
        {
            vol.Required("platform"): "integration",
            vol.Optional("name"): str,
            vol.Optional("unique_id"): vol.Coerce(str),
            vol.Required("source"): _entity_id,
            vol.Optional("round", default=3): vol.Any(None, vol.Coerce(int)),
            vol.Optional("unit_prefix"): vol.In(UNIT_PREFIXES),
            vol.Optional("unit_time", default="h"): vol.In(UNIT_TIME),
            vol.Optional("max_sub_interval"): period,
            vol.Optional("method", default="trapezoidal"): vol.In(METHODS),
        }
    ),
)


async def setup_platform(hub: Hub, config: dict[str, Any], add_entities: AddEntities) -> None:
    """Add one integral sensor."""
    await add_entities([IntegrationSensor(config)])


def _area(method: str, elapsed: Decimal, left: Decimal, right: Decimal) -> Decimal:
    if method == "trapezoidal":
        return elapsed * (left + right) / 2
    return elapsed * (left if method == "left" else right)


class IntegrationSensor(SensorEntity):
    """The running integral of one source entity."""

    state_class = "total"

    def __init__(self, config: dict[str, Any]) -> None:
        self.source = config["source"]
        self.name = config.get("name") or f"{self.source} integral"
        # Registered even without unique_id (derived from the name), so that the total survives a
        # restart as HA's restored integral does.
        self.unique_id = config.get("unique_id") or f"integration_{slugify(self.name)}"
        self.round_digits: int | None = config.get("round")
        self.method: str = config["method"]
        self.prefix = config.get("unit_prefix") or ""
        self.divisor = Decimal(UNIT_PREFIXES[config.get("unit_prefix")] * UNIT_TIME[config["unit_time"]])
        self.unit_time: str = config["unit_time"]
        interval: timedelta | None = config.get("max_sub_interval")
        self.max_sub_interval = interval.total_seconds() if interval and interval.total_seconds() > 0 else None
        self.icon = ICON
        self.suggested_display_precision = self.round_digits or 2
        self.total: Decimal | None = None
        self._undo: list[Any] = []
        self._cancel_timer: Any = None
        self._last_time = 0.0
        self._time_based = False

    # ---- lifecycle ----

    async def added_to_hub(self) -> None:
        """Restore the total, take the source's unit, and follow its changes and reports."""
        hub = self._hub()
        previous = restored(hub, self.entity_id)
        if previous is not None:
            self.total = to_decimal(previous.state)
            self.unit_of_measurement = previous.attributes.get("unit_of_measurement")
        self._last_time = hub.clock.time()
        source = hub.states.get(self.source)
        if source is not None and source.state != STATE_UNAVAILABLE:
            self._derive(source)
        self._undo.append(hub.states.track(self.source, self._changed))
        self._undo.append(hub.bus.listen("state_reported", self._reported, event_filter=self._is_source))
        self._schedule(source)

    async def will_remove_from_hub(self) -> None:
        """Stop following the source."""
        for undo in self._undo:
            undo()
        self._undo.clear()
        self._cancel()

    def _hub(self) -> Hub:
        if self.hub is None:
            raise HubError("integral sensor not added to a hub")
        return self.hub

    # ---- state ----

    def state_value(self) -> Any:
        """The total, rounded to `round` digits."""
        if self.total is not None and self.round_digits:
            return round(self.total, self.round_digits)
        return self.total

    def state_attributes(self) -> dict[str, Any]:
        """Add the source entity."""
        attrs = super().state_attributes()
        attrs["source"] = self.source
        return attrs

    def _derive(self, source: State) -> None:
        unit = source.attributes.get("unit_of_measurement")
        if unit is None:
            self.unit_of_measurement = None
        else:
            time_unit = f"/{self.unit_time}"
            base = unit[: -len(time_unit)] if unit.endswith(time_unit) else f"{unit}{self.unit_time}"
            self.unit_of_measurement = f"{self.prefix}{base}"
        power = source.attributes.get("device_class") == "power"
        self.device_class = "energy" if power and self.unit_of_measurement in ENERGY_UNITS else None
        self.icon = None if self.device_class else ICON

    # ---- integration ----

    @callback
    def _is_source(self, event: Event) -> bool:
        return bool(event.data.get("entity_id") == self.source)

    @callback
    def _changed(self, event: Event) -> None:
        self._update(None, event.data["old_state"], event.data["new_state"])

    @callback
    def _reported(self, event: Event) -> None:
        self._update(event.data["old_last_reported"].timestamp(), None, event.data["new_state"])

    def _update(self, old_reported: float | None, old: State | None, new: State | None) -> None:
        self._cancel()
        try:
            self._integrate(old_reported, old, new)
            self._time_based = False
            self._last_time = self._hub().clock.time()
        finally:
            self._schedule(new)

    def _integrate(self, old_reported: float | None, old: State | None, new: State | None) -> None:
        if new is None:
            return
        if new.state == STATE_UNAVAILABLE:
            self.available = False
            self.write_state()
            return
        if old is not None:
            old_text, old_reported = old.state, old.last_reported_timestamp
        else:
            old_text = new.state
        self.available = True
        self._derive(new)
        if old_reported is None:
            self.write_state()
            return
        left, right = to_decimal(old_text), to_decimal(new.state)
        needed = (left,) if self.method == "left" else (right,) if self.method == "right" else (left, right)
        if any(value is None for value in needed):
            self.write_state()
            return
        left = left if left is not None else right
        right = right if right is not None else left
        assert left is not None and right is not None
        since = self._last_time if self._time_based else old_reported
        elapsed = Decimal(new.last_reported_timestamp - since)
        self._add(_area(self.method, elapsed, left, right))
        self.write_state()

    def _add(self, area: Decimal) -> None:
        scaled = area / self.divisor
        self.total = scaled if self.total is None else self.total + scaled

    def _schedule(self, source: State | None) -> None:
        """With max_sub_interval: integrate a source that stays silent as constant, periodically."""
        if self.max_sub_interval is None or source is None:
            return
        value = to_decimal(source.state)
        if value is None:
            return
        clock = self._hub().clock

        def elapsed() -> None:
            now = clock.time()
            self._derive(source)
            self._add(value * Decimal(now - self._last_time))
            self.write_state()
            self._last_time = now
            self._time_based = True
            self._schedule(source)

        self._cancel_timer = clock.call_later(self.max_sub_interval, elapsed)

    def _cancel(self) -> None:
        if self._cancel_timer is not None:
            self._cancel_timer()
            self._cancel_timer = None
