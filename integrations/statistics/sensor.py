"""The statistics sensor: a characteristic (mean, max, change ...) of a source's recent samples.

    sensor:
      - platform: statistics
        name: Mean power, last hour
        entity_id: sensor.heater_power
        state_characteristic: mean
        max_age: {hours: 1}
        sampling_size: 1000     # at least one of max_age and sampling_size
        precision: 1

As Home Assistant does: every numeric state of the source is a sample (binary sensors: on/off,
with their own characteristics); the buffer keeps the last `sampling_size` samples and drops
those older than `max_age` (`keep_last_sample` keeps the newest); the state is the
characteristic rounded to `precision`, unknown when there are too few samples, unavailable while
the source is. The samples are taken from the moment the hub starts (HA also reads them back
from its recorder; the hub does not).
"""

from __future__ import annotations

import logging
from collections import deque
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub.config.core_schema import entity_id as _entity_id
from hub.core.bus import Event, callback
from hub.core.entity import SensorEntity
from hub.core.states import STATE_ON, STATE_UNAVAILABLE, STATE_UNKNOWN, State
from integrations.sensor.calculated import Follower, period
from integrations.statistics.characteristics import BINARY, DATETIMES, NUMERIC, unit_of

if TYPE_CHECKING:
    from hub.core.clock import Cancel
    from hub.core.hub import Hub
    from integrations.platforms import AddEntities

_LOGGER = logging.getLogger(__name__)
ICON = "mdi:calculator"


def _valid(config: dict[str, Any]) -> dict[str, Any]:
    binary = config["entity_id"].startswith("binary_sensor.")
    known = BINARY if binary else NUMERIC
    characteristic = config["state_characteristic"]
    if characteristic not in known:
        kind = "a binary sensor" if binary else "a numeric sensor"
        message = f"'{characteristic}' is not a characteristic of {kind}; expected one of {', '.join(sorted(known))}"
        raise vol.Invalid(message, path=["state_characteristic"])
    if config.get("sampling_size") is None and config.get("max_age") is None:
        raise vol.Invalid("give 'max_age', 'sampling_size' or both")
    if config["keep_last_sample"] and config.get("max_age") is None:
        raise vol.Invalid("'keep_last_sample' needs 'max_age'", path=["keep_last_sample"])
    return config


PLATFORM_SCHEMA = vol.All(
    vol.Schema(
        {
            vol.Required("platform"): "statistics",
            vol.Required("entity_id"): _entity_id,
            vol.Optional("name", default="Stats"): str,
            vol.Optional("unique_id"): vol.Coerce(str),
            vol.Required("state_characteristic"): vol.In(sorted(set(NUMERIC) | set(BINARY))),
            vol.Optional("sampling_size"): vol.All(vol.Coerce(int), vol.Range(min=1)),
            vol.Optional("max_age"): period,
            vol.Optional("keep_last_sample", default=False): bool,
            vol.Optional("percentile", default=50): vol.All(vol.Coerce(int), vol.Range(min=1, max=99)),
            vol.Optional("precision", default=2): vol.Coerce(int),
        }
    ),
    _valid,
)


async def setup_platform(hub: Hub, config: dict[str, Any], add_entities: AddEntities) -> None:
    """Add one statistics sensor."""
    await add_entities([StatisticsSensor(config)])


class StatisticsSensor(Follower, SensorEntity):
    """One characteristic of the recent samples of a source."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.source: str = config["entity_id"]
        self.name = config["name"]
        self.unique_id = config.get("unique_id")
        self.icon = ICON
        self.characteristic: str = config["state_characteristic"]
        self.binary = self.source.startswith("binary_sensor.")
        self.function = (BINARY if self.binary else NUMERIC)[self.characteristic]
        self.size: int | None = config.get("sampling_size")
        max_age: timedelta | None = config.get("max_age")
        self.max_age = max_age.total_seconds() if max_age is not None else None
        self.keep_last: bool = config["keep_last_sample"]
        self.percentile: int = config["percentile"]
        self.precision: int = config["precision"]
        self.values: deque[float] = deque(maxlen=self.size)
        self.times: deque[float] = deque(maxlen=self.size)
        self.valid: bool | None = None
        self.value: Any = None
        if self.characteristic in DATETIMES:
            self.device_class = "timestamp"
        else:
            self.state_class = "measurement"
        self._cancel: Cancel | None = None

    async def added_to_hub(self) -> None:
        """Take the source's current state as the first sample and follow it."""
        assert self.hub is not None
        current = self.hub.states.get(self.source)
        if current is not None:
            self._add(current)
        self._refresh()
        self.follow(self.source, self._changed)

    async def will_remove_from_hub(self) -> None:
        """Stop the purge timer and the following."""
        if self._cancel is not None:
            self._cancel()
        await super().will_remove_from_hub()

    @callback
    def _changed(self, event: Event) -> None:
        new: State | None = event.data["new_state"]
        if new is None:
            return
        self._add(new)
        self._refresh()
        self.write_state()

    def _add(self, state: State) -> None:
        self.available = state.state != STATE_UNAVAILABLE
        if state.state == STATE_UNAVAILABLE:
            self.valid = None
            return
        if state.state == STATE_UNKNOWN:
            self.valid = False
            return
        if self.binary:
            value = 1.0 if state.state == STATE_ON else 0.0
        else:
            try:
                value = float(state.state)
            except ValueError:
                self.valid = False
                _LOGGER.error("%s: parsing error, expected number and received %s", self.entity_id, state.state)
                return
        self.values.append(value)
        self.times.append(state.last_updated_timestamp)
        self.valid = True
        self.unit_of_measurement = unit_of(self.characteristic, state.attributes.get("unit_of_measurement"), self.binary)

    def _refresh(self) -> None:
        """Drop samples older than max_age, compute the value, and plan the next purge."""
        assert self.hub is not None
        clock = self.hub.clock
        if self.max_age is not None:
            now = clock.time()
            keep = 1 if self.keep_last else 0
            while len(self.times) > keep and now - self.times[0] > self.max_age:
                self.times.popleft()
                self.values.popleft()
        result = self.function(list(self.values), list(self.times), self.percentile)
        if isinstance(result, float | int) and not isinstance(result, bool):
            result = round(result, self.precision)
            if self.precision == 0:
                result = int(result)
        self.value = result
        if self._cancel is not None:
            self._cancel()
            self._cancel = None
        if self.max_age is not None and len(self.times) > (1 if self.keep_last else 0):
            self._cancel = clock.call_at(self.times[0] + self.max_age + 0.001, self._purge)

    @callback
    def _purge(self) -> None:
        self._cancel = None
        self._refresh()
        self.write_state()

    def state_value(self) -> Any:
        """The characteristic (a datetime for the datetime_* ones)."""
        return self.value

    def state_attributes(self) -> dict[str, Any]:
        """HA's attributes: how full the buffer is, and whether the last source value was used."""
        attrs = super().state_attributes()
        if self.max_age is not None:
            span = self.times[-1] - self.times[0] if self.times else None
            attrs["age_coverage_ratio"] = round(span / self.max_age, 2) if span is not None and self.max_age else None
        if self.size is not None:
            attrs["buffer_usage_ratio"] = round(len(self.values) / self.size, 2)
        attrs["source_value_valid"] = self.valid
        return attrs


