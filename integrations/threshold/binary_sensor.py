"""The threshold binary sensor: on when a numeric source is above or below a limit, with hysteresis.

    binary_sensor:
      - platform: threshold
        entity_id: sensor.heater_power
        upper: 1000          # on above 1000 (+ hysteresis), off below 1000 (- hysteresis)
        lower: 10            # with both: on inside the range
        hysteresis: 5

As Home Assistant does: inside the hysteresis band the sensor keeps its state; a source that is
unknown, unavailable or not a number turns it off with position "unknown". Attributes:
entity_id, hysteresis, lower, upper, position (above, below, in_range, unknown), sensor_value
and type (lower, upper, range).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub.config.core_schema import entity_id as _entity_id
from hub.core.bus import Event, callback
from hub.core.entity import BinarySensorEntity
from hub.core.states import State
from integrations.sensor.calculated import NOT_A_VALUE, Follower

if TYPE_CHECKING:
    from hub.core.hub import Hub
    from integrations.platforms import AddEntities

_LOGGER = logging.getLogger(__name__)


def _a_limit(value: dict[str, Any]) -> dict[str, Any]:
    if value.get("lower") is None and value.get("upper") is None:
        raise vol.Invalid("give 'lower', 'upper' or both")
    return value


PLATFORM_SCHEMA = vol.All(
    vol.Schema(
        {
            vol.Required("platform"): "threshold",
            vol.Required("entity_id"): _entity_id,
            vol.Optional("device_class"): str,
            vol.Optional("hysteresis", default=0.0): vol.Coerce(float),
            vol.Optional("lower"): vol.Coerce(float),
            vol.Optional("upper"): vol.Coerce(float),
            vol.Optional("name", default="Threshold"): str,
            vol.Optional("unique_id"): vol.Coerce(str),
        }
    ),
    _a_limit,
)


async def setup_platform(hub: Hub, config: dict[str, Any], add_entities: AddEntities) -> None:
    """Add one threshold sensor."""
    await add_entities([ThresholdSensor(config)])


class ThresholdSensor(Follower, BinarySensorEntity):
    """On while a source is beyond its threshold(s)."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.source: str = config["entity_id"]
        self.name = config["name"]
        self.unique_id = config.get("unique_id")
        self.device_class = config.get("device_class")
        self.lower: float | None = config.get("lower")
        self.upper: float | None = config.get("upper")
        self.hysteresis: float = config["hysteresis"]
        self.kind = "range" if self.lower is not None and self.upper is not None else "lower" if self.lower is not None else "upper"
        self.position = "unknown"
        self.value: float | None = None
        self.is_on: bool | None = None

    async def added_to_hub(self) -> None:
        """Take the source's current state and follow it."""
        assert self.hub is not None
        self._take(self.hub.states.get(self.source))
        self.follow(self.source, self._changed)

    @callback
    def _changed(self, event: Event) -> None:
        if event.data["new_state"] is None:
            return
        self._take(event.data["new_state"])
        self.write_state()

    def _take(self, state: State | None) -> None:
        if state is None:
            return
        self.value = None
        if state.state not in NOT_A_VALUE:
            try:
                self.value = float(state.state)
            except ValueError:
                _LOGGER.warning("%s: the state of %s is %r, not a number", self.entity_id, self.source, state.state)
        self._update()

    def _update(self) -> None:
        value, band = self.value, self.hysteresis
        if value is None:
            self.position, self.is_on = "unknown", False
            return
        below_lower = self.lower is not None and value < self.lower - band
        above_lower = self.lower is not None and value > self.lower + band
        below_upper = self.upper is not None and value < self.upper - band
        above_upper = self.upper is not None and value > self.upper + band
        if self.kind == "lower":
            if below_lower:
                self.position, self.is_on = "below", True
            elif above_lower:
                self.position, self.is_on = "above", False
        elif self.kind == "upper":
            if above_upper:
                self.position, self.is_on = "above", True
            elif below_upper:
                self.position, self.is_on = "below", False
        else:
            if below_lower:
                self.position, self.is_on = "below", False
            if above_upper:
                self.position, self.is_on = "above", False
            elif above_lower and below_upper:
                self.position, self.is_on = "in_range", True

    def state_attributes(self) -> dict[str, Any]:
        """HA's threshold attributes."""
        attrs = super().state_attributes()
        attrs.update(
            {
                "entity_id": self.source,
                "hysteresis": self.hysteresis,
                "lower": self.lower,
                "position": self.position,
                "sensor_value": self.value,
                "type": self.kind,
                "upper": self.upper,
            }
        )
        return attrs
