"""The derivative sensor: how fast a source changes, e.g. kWh counter to kW, as Home Assistant computes it.

    sensor:
      - platform: derivative
        source: sensor.meter_energy
        name: Meter power
        unit_prefix: k        # optional SI prefix of the result (n, µ, m, k, M, G, T)
        unit_time: h          # s, min, h (default) or d
        round: 3
        time_window: "00:05:00"  # time-weighted average of the derivatives of the last 5 min

On each change of the source (both old and new numeric) the derivative of that step is
(new - old) / elapsed / prefix * unit_time. Without a time window that is the state; with one,
the steps that ended within the window are averaged, each weighted by the part of the window it
covers (HA's time-weighted derivative). The unit is `<prefix><source unit>/<unit_time>` unless
`unit` is given.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal, DecimalException
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub.config.core_schema import entity_id as _entity_id
from hub.core.bus import Event, callback
from hub.core.entity import SensorEntity
from integrations.sensor.calculated import Follower, period, restored, to_decimal

if TYPE_CHECKING:
    from hub.core.hub import Hub
    from integrations.platforms import AddEntities

_LOGGER = logging.getLogger(__name__)

UNIT_PREFIXES: dict[str | None, Decimal] = {
    None: Decimal(1),
    "n": Decimal("1e-9"),
    "µ": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
}
UNIT_TIME = {"s": 1, "min": 60, "h": 3600, "d": 86400}
ICON = "mdi:chart-line"

PLATFORM_SCHEMA = vol.Schema(
    {
        vol.Required("platform"): "derivative",
        vol.Optional("name"): str,
        vol.Optional("unique_id"): vol.Coerce(str),
        vol.Required("source"): _entity_id,
        vol.Optional("round", default=3): vol.Coerce(int),
        vol.Optional("unit_prefix"): vol.In(UNIT_PREFIXES),
        vol.Optional("unit_time", default="h"): vol.In(UNIT_TIME),
        vol.Optional("unit"): str,
        vol.Optional("time_window", default=timedelta(0)): period,
    }
)


async def setup_platform(hub: Hub, config: dict[str, Any], add_entities: AddEntities) -> None:
    """Add one derivative sensor."""
    await add_entities([DerivativeSensor(config)])


class DerivativeSensor(Follower, SensorEntity):
    """The rate of change of one source entity."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.source: str = config["source"]
        self.name = config.get("name") or f"{self.source} derivative"
        self.unique_id = config.get("unique_id")
        self.icon = ICON
        self.round_digits: int = config["round"]
        prefix = config.get("unit_prefix")
        self.unit_template = f"{prefix or ''}{{}}/{config['unit_time']}"
        self.unit_of_measurement = config.get("unit")
        self.fixed_unit = self.unit_of_measurement is not None
        self.scale = Decimal(UNIT_TIME[config["unit_time"]]) / UNIT_PREFIXES[prefix]
        self.window: float = config["time_window"].total_seconds()
        self.value: Decimal | int = 0  # HA starts from the integer 0: state "0"
        # (start, end, derivative) of the recent steps, for the time window.
        self.steps: list[tuple[float, float, Decimal]] = []
        self.extra_state_attributes = {"source": self.source}

    async def added_to_hub(self) -> None:
        """Restore the last value and follow the source."""
        assert self.hub is not None
        previous = restored(self.hub, self.entity_id)
        if previous is not None:
            self.value = to_decimal(previous.state) or Decimal(0)
            if not self.fixed_unit:
                self.unit_of_measurement = previous.attributes.get("unit_of_measurement")
        self.follow(self.source, self._changed)

    def state_value(self) -> Any:
        """The derivative rounded to `round` digits."""
        return round(self.value, self.round_digits)

    @callback
    def _changed(self, event: Event) -> None:
        old, new = event.data["old_state"], event.data["new_state"]
        if old is None or new is None:
            return
        before, after = to_decimal(old.state), to_decimal(new.state)
        if before is None or after is None:
            return
        if not self.fixed_unit:
            unit = new.attributes.get("unit_of_measurement")
            self.unit_of_measurement = self.unit_template.format("" if unit is None else unit)
        start, end = old.last_updated_timestamp, new.last_updated_timestamp
        elapsed = end - start
        try:
            step = (after - before) / Decimal(elapsed) * self.scale
        except (DecimalException, ZeroDivisionError) as err:
            _LOGGER.warning("%s: no derivative from %s to %s: %s", self.entity_id, old.state, new.state, err)
            return
        self.steps = [item for item in self.steps if end - item[1] < self.window]
        self.steps.append((start, end, step))
        if elapsed > self.window:
            self.value = step
        else:
            window_start = end - self.window
            total = Decimal(0)
            for begin, finish, value in self.steps:
                covered = finish - max(begin, window_start)
                total += value * Decimal(covered / self.window)
            self.value = total
        self.write_state()
