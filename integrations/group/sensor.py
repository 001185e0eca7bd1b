"""The sensor group: `sensor: - platform: group`, one numeric combination of several sensors, as HA's.

    sensor:
      - platform: group
        name: House power
        type: sum                  # min, max, mean, median, last, range, product, stdev, sum
        entities: [sensor.heater_power, sensor.fridge_power]
        ignore_non_numeric: false  # true: leave out members that are not numbers
        unit_of_measurement: W     # optional; else the members' when they all agree

As Home Assistant computes it: the group is unavailable when no member is a number; without
`ignore_non_numeric` it is unknown while any member is unknown, unavailable or not a number;
device class, state class and unit come from the members when they all agree (or the options).
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub.config.core_schema import entity_id as _entity_id
from hub.core.entity import SensorEntity
from hub.core.states import State
from integrations.sensor.calculated import NOT_A_VALUE, Follower

if TYPE_CHECKING:
    from hub.core.hub import Hub
    from integrations.platforms import AddEntities

_LOGGER = logging.getLogger(__name__)

DEFAULT_NAME = "Sensor Group"
Values = list[tuple[str, float, State]]


def _last(values: Values) -> tuple[dict[str, Any], float]:
    entity_id, value, _ = max(values, key=lambda item: item[2].last_updated_timestamp)
    return {"last_entity_id": entity_id}, value


def _product(values: Values) -> tuple[dict[str, Any], float]:
    result = 1.0
    for _, value, _ in values:
        result *= value
    return {}, result


CALCULATIONS: dict[str, Callable[[Values], tuple[dict[str, Any], float]]] = {
    "min": lambda v: ({"min_entity_id": (m := min(v, key=lambda i: i[1]))[0]}, m[1]),
    "max": lambda v: ({"max_entity_id": (m := max(v, key=lambda i: i[1]))[0]}, m[1]),
    "mean": lambda v: ({}, statistics.mean(i[1] for i in v)),
    "median": lambda v: ({}, statistics.median(i[1] for i in v)),
    "last": _last,
    "range": lambda v: ({}, max(i[1] for i in v) - min(i[1] for i in v)),
    "product": _product,
    "stdev": lambda v: ({}, statistics.stdev(i[1] for i in v) if len(v) > 1 else 0.0),
    "sum": lambda v: ({}, sum(i[1] for i in v)),
}


def _entities(value: Any) -> list[str]:
    items = [part.strip() for part in value.split(",")] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise vol.Invalid("expected a list of sensor, number or input_number entity ids")
    ids = [_entity_id(item) for item in items]
    for entity_id in ids:
        if entity_id.split(".")[0] not in ("sensor", "number", "input_number"):
            raise vol.Invalid(f"expected sensor, number or input_number entities, got {entity_id}")
    return ids


PLATFORM_SCHEMA = vol.Schema(
    {
        vol.Required("platform"): "group",
        vol.Required("entities"): _entities,
        vol.Required("type"): vol.In(list(CALCULATIONS)),
        vol.Optional("name", default=DEFAULT_NAME): str,
        vol.Optional("unique_id"): vol.Coerce(str),
        vol.Optional("ignore_non_numeric", default=False): bool,
        vol.Optional("unit_of_measurement"): str,
        vol.Optional("device_class"): str,
        vol.Optional("state_class"): vol.In(["measurement", "total", "total_increasing"]),
    }
)


async def setup_platform(hub: Hub, config: dict[str, Any], add_entities: AddEntities) -> None:
    """Add one sensor group."""
    await add_entities([SensorGroup(config)])


class SensorGroup(Follower, SensorEntity):
    """A numeric combination of its members' states."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.members: list[str] = config["entities"]
        self.kind: str = config["type"]
        name = config["name"]
        self.name = f"{DEFAULT_NAME} {self.kind}".capitalize() if name == DEFAULT_NAME else name
        self.unique_id = config.get("unique_id")
        self.mode = any if config["ignore_non_numeric"] else all
        self.fixed = {key: config.get(key) for key in ("unit_of_measurement", "device_class", "state_class")}
        self.value: float | None = None
        self.extra: dict[str, Any] = {}

    async def added_to_hub(self) -> None:
        """Compute from the members' current states and follow them."""
        self.recompute_from(self.members, self._update)

    def _update(self) -> None:
        assert self.hub is not None
        present = [(member, state) for member in self.members if (state := self.hub.states.get(member)) is not None]
        values: Values = []
        numeric: list[bool] = []
        for member, state in present:
            try:
                values.append((member, float(state.state), state))
                numeric.append(True)
            except ValueError:
                numeric.append(False)
        self.available = any(numeric)
        valid = self.mode(state.state not in NOT_A_VALUE for _, state in present) and self.mode(numeric)
        if not valid or not values:
            self.value, self.extra = None, {}
            return
        self.extra, self.value = CALCULATIONS[self.kind](values)
        for key in self.fixed:
            found = [state.attributes.get(key) for _, state in present]
            agreed = found[0] if found and all(item == found[0] for item in found) else None
            setattr(self, key, self.fixed[key] if self.fixed[key] is not None else agreed)
        self.icon = None if self.device_class else "mdi:calculator"

    def state_value(self) -> Any:
        """The combination (unknown while the members do not allow one)."""
        return self.value

    def state_attributes(self) -> dict[str, Any]:
        """The members, and the member giving min, max or last."""
        attrs = super().state_attributes()
        if self.available:
            attrs["entity_id"] = list(self.members)
            attrs.update(self.extra)
        return attrs
