"""The filter sensor: a source's state passed through a chain of filters, as in Home Assistant.

    sensor:
      - platform: filter
        name: Smoothed power
        entity_id: sensor.heater_power
        filters:
          - filter: outlier          # window_size (1), radius (2.0)
            window_size: 4
            radius: 200
          - filter: lowpass          # window_size (1), time_constant (10)
            time_constant: 10
            precision: 1
          - filter: range            # lower_bound, upper_bound
            lower_bound: 0
          - filter: time_simple_moving_average   # window_size: a duration, type: last
            window_size: "00:05:00"
          - filter: throttle         # one state in window_size states
          - filter: time_throttle    # one state per window_size of time

Each filter rounds to its `precision` (2). A state a throttle drops leaves the sensor as it was;
a source state that is not a number, where a numeric filter needs one, is logged and skipped.
The sensor takes the source's unit, device class, state class and icon. HA fills the filters'
windows from its recorder at start; the hub starts them empty.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub.config.core_schema import entity_id as _entity_id
from hub.core.bus import Event, callback
from hub.core.entity import SensorEntity
from hub.core.states import STATE_UNAVAILABLE, STATE_UNKNOWN, State
from integrations.filter.filters import FILTERS, Filter, NotANumber, Sample
from integrations.sensor.calculated import Follower, period

if TYPE_CHECKING:
    from hub.core.hub import Hub
    from integrations.platforms import AddEntities

_LOGGER = logging.getLogger(__name__)
ICON = "mdi:chart-line-variant"


def _positive(value: Any) -> Any:
    duration = period(value)
    if duration.total_seconds() <= 0:
        raise vol.Invalid("expected a duration longer than zero")
    return duration


_COMMON: dict[Any, Any] = {vol.Optional("precision", default=2): vol.Coerce(int)}
_COUNT = vol.All(vol.Coerce(int), vol.Range(min=1))
FILTER_SCHEMAS: dict[str, dict[Any, Any]] = {
    "outlier": {vol.Optional("window_size", default=1): _COUNT, vol.Optional("radius", default=2.0): vol.Coerce(float)},
    "lowpass": {vol.Optional("window_size", default=1): _COUNT, vol.Optional("time_constant", default=10): vol.Coerce(int)},
    "range": {vol.Optional("lower_bound"): vol.Coerce(float), vol.Optional("upper_bound"): vol.Coerce(float)},
    "time_simple_moving_average": {vol.Required("window_size"): _positive, vol.Optional("type", default="last"): vol.In(["last"])},
    "throttle": {vol.Optional("window_size", default=1): _COUNT},
    "time_throttle": {vol.Required("window_size"): _positive},
}


def _filter(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or "filter" not in value:
        raise vol.Invalid("expected a mapping with a 'filter' key")
    name = value["filter"]
    if name not in FILTER_SCHEMAS:
        raise vol.Invalid(f"unknown filter {name!r}; expected one of {', '.join(FILTER_SCHEMAS)}", path=["filter"])
    schema = vol.Schema({vol.Required("filter"): str, **_COMMON, **FILTER_SCHEMAS[name]})
    validated: dict[str, Any] = schema(value)
    return validated


PLATFORM_SCHEMA = vol.Schema(
    {
        vol.Required("platform"): "filter",
        vol.Required("entity_id"): _entity_id,
        vol.Optional("name", default="filter"): str,
        vol.Optional("unique_id"): vol.Coerce(str),
        vol.Required("filters"): vol.All(lambda v: v if isinstance(v, list) else [v], vol.Length(min=1), [_filter]),
    }
)


async def setup_platform(hub: Hub, config: dict[str, Any], add_entities: AddEntities) -> None:
    """Add one filter sensor."""
    await add_entities([FilterSensor(config)])


class FilterSensor(Follower, SensorEntity):
    """The filtered state of one source."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.source: str = config["entity_id"]
        self.name = config["name"]
        self.unique_id = config.get("unique_id")
        self.filters: list[Filter] = [FILTERS[item["filter"]](item) for item in config["filters"]]
        self.value: Any = None
        self.extra_state_attributes = {"entity_id": self.source}

    async def added_to_hub(self) -> None:
        """Filter the source's current state and follow it."""
        assert self.hub is not None
        current = self.hub.states.get(self.source)
        if current is not None:
            self._take(current)
        self.follow(self.source, self._changed)

    @callback
    def _changed(self, event: Event) -> None:
        new: State | None = event.data["new_state"]
        if new is not None and self._take(new):
            self.write_state()

    def _take(self, state: State) -> bool:
        """Run a source state through the chain; return whether the sensor's state changed."""
        if state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
            self.available = state.state != STATE_UNAVAILABLE
            self.value = None
            return True
        try:
            value: Any = float(state.state)
        except ValueError:
            value = state.state
        sample: Sample | None = Sample(value, state.last_updated_timestamp)
        try:
            for step in self.filters:
                assert sample is not None
                sample = step.apply(sample)
                if sample is None:
                    return False
        except NotANumber:
            _LOGGER.error("%s: could not convert state %r of %s to a number", self.entity_id, state.state, self.source)
            return False
        assert sample is not None
        self.available = True
        self.value = sample.value
        attrs = state.attributes
        self.unit_of_measurement = attrs.get("unit_of_measurement")
        self.device_class = attrs.get("device_class")
        self.state_class = attrs.get("state_class") if attrs.get("state_class") in ("measurement", "total", "total_increasing") else None
        self.icon = attrs.get("icon", ICON)
        return True

    def state_value(self) -> Any:
        """The filtered value."""
        return self.value
