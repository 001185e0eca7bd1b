"""The min_max sensor: min, max, mean, median, last, range or sum of several numeric sensors.

    sensor:
      - platform: min_max
        name: Total power
        type: sum                 # min, max (default), mean, median, last, range, sum
        round_digits: 2
        entity_ids: [sensor.heater_power, sensor.fridge_power]

As Home Assistant computes it: sources that are unknown, unavailable or not numbers are left
out (sum becomes unknown when any is); mean, median, range and sum are rounded to round_digits;
sources with different units give the unit "ERR" and an unknown state.
"""

from __future__ import annotations

import logging
import statistics
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub.config.core_schema import entity_id as _entity_id
from hub.core.bus import Event, callback
from hub.core.entity import SensorEntity
from hub.core.states import State
from integrations.sensor.calculated import NOT_A_VALUE, Follower

if TYPE_CHECKING:
    from hub.core.hub import Hub
    from integrations.platforms import AddEntities

_LOGGER = logging.getLogger(__name__)

TYPES = ("min", "max", "mean", "median", "last", "range", "sum")
ICON = "mdi:calculator"


def _entity_ids(value: Any) -> list[str]:
    items = [part.strip() for part in value.split(",")] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise vol.Invalid("expected a list of entity ids")
    return [_entity_id(item) for item in items]


PLATFORM_SCHEMA = vol.Schema(
    {
        vol.Required("platform"): "min_max",
        vol.Optional("type", default="max"): vol.In(TYPES),
        vol.Optional("name"): str,
        vol.Required("entity_ids"): _entity_ids,
        vol.Optional("round_digits", default=2): vol.Coerce(int),
        vol.Optional("unique_id"): vol.Coerce(str),
    }
)


async def setup_platform(hub: Hub, config: dict[str, Any], add_entities: AddEntities) -> None:
    """Add one min_max sensor."""
    await add_entities([MinMaxSensor(config)])


class MinMaxSensor(Follower, SensorEntity):
    """One statistic over the current states of several sensors."""

    state_class = "measurement"

    def __init__(self, config: dict[str, Any]) -> None:
        self.kind: str = config["type"]
        self.name = config.get("name") or f"{self.kind} sensor".capitalize()
        self.unique_id = config.get("unique_id")
        self.icon = ICON
        self.sources: list[str] = config["entity_ids"]
        self.digits: int = config["round_digits"]
        self.values: dict[str, float | None] = {}
        self.unit: str | None = None
        self.mismatch = False
        self.last: float | None = None
        self.last_entity_id: str | None = None

    async def added_to_hub(self) -> None:
        """Take the sources' current states and follow them."""
        assert self.hub is not None
        for source in self.sources:
            self._take(source, self.hub.states.get(source))
        self.follow(self.sources, self._changed)

    @callback
    def _changed(self, event: Event) -> None:
        self._take(event.data["entity_id"], event.data["new_state"])
        self.write_state()

    def _take(self, source: str, state: State | None) -> None:
        if state is None or state.state in NOT_A_VALUE:
            self.values[source] = None
            return
        unit = state.attributes.get("unit_of_measurement")
        if self.unit is None:
            self.unit = unit
        if unit != self.unit:
            _LOGGER.warning("Units of measurement do not match for entity %s", self.entity_id)
            self.mismatch = True
        try:
            value = float(state.state)
        except ValueError:
            _LOGGER.warning("%s: %s is %r, not a number; left out", self.entity_id, source, state.state)
            return
        self.values[source] = value
        self.last, self.last_entity_id = value, source

    def _known(self) -> list[tuple[str, float]]:
        return [(source, value) for source in self.sources if (value := self.values.get(source)) is not None]

    def state_value(self) -> Any:
        """The statistic of the known values (unknown on a unit mismatch)."""
        self.unit_of_measurement = "ERR" if self.mismatch else self.unit
        if self.mismatch:
            return None
        known = self._known()
        numbers = [value for _, value in known]
        if self.kind == "min":
            return min(numbers, default=None)
        if self.kind == "max":
            return max(numbers, default=None)
        if self.kind == "last":
            return self.last
        if self.kind == "sum":
            if any(self.values.get(source) is None for source in self.sources if source in self.values):
                return None
            return round(sum(numbers), self.digits) if numbers else None
        if not numbers:
            return None
        if self.kind == "mean":
            return round(statistics.mean(numbers), self.digits)
        if self.kind == "median":
            return round(statistics.median(numbers), self.digits)
        return round(max(numbers) - min(numbers), self.digits)

    def state_attributes(self) -> dict[str, Any]:
        """Add the entity giving the min, max or last value."""
        attrs = super().state_attributes()
        known = self._known()
        if self.kind == "min":
            attrs["min_entity_id"] = min(known, key=lambda item: item[1])[0] if known else None
        elif self.kind == "max":
            attrs["max_entity_id"] = max(known, key=lambda item: item[1])[0] if known else None
        elif self.kind == "last":
            attrs["last_entity_id"] = self.last_entity_id
        return attrs
