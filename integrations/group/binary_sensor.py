"""The binary sensor group: `binary_sensor: - platform: group`, on when any (or all) members are, as HA's.

    binary_sensor:
      - platform: group
        name: Any window open
        device_class: window
        entities: [binary_sensor.kitchen_window, binary_sensor.hall_window]
        all: false        # true: on only when every member is on

As Home Assistant: unavailable when every member is unavailable or missing; unknown while no
member (with `all`: not every member) has a known state; otherwise on when any (all) is on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub.config.core_schema import entity_id as _entity_id
from hub.core.entity import BinarySensorEntity
from hub.core.states import STATE_ON, STATE_UNAVAILABLE
from integrations.sensor.calculated import NOT_A_VALUE, Follower

if TYPE_CHECKING:
    from hub.core.hub import Hub
    from integrations.platforms import AddEntities


def _entities(value: Any) -> list[str]:
    items = [part.strip() for part in value.split(",")] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise vol.Invalid("expected a list of binary_sensor entity ids")
    ids = [_entity_id(item) for item in items]
    for entity_id in ids:
        if not entity_id.startswith("binary_sensor."):
            raise vol.Invalid(f"expected binary_sensor entities, got {entity_id}")
    return ids


PLATFORM_SCHEMA = vol.Schema(
    {
        vol.Required("platform"): "group",
        vol.Required("entities"): _entities,
        vol.Optional("name", default="Binary Sensor Group"): str,
        vol.Optional("unique_id"): vol.Coerce(str),
        vol.Optional("device_class"): str,
        vol.Optional("all", default=False): bool,
    }
)


async def setup_platform(hub: Hub, config: dict[str, Any], add_entities: AddEntities) -> None:
    """Add one binary sensor group."""
    await add_entities([BinarySensorGroup(config)])


class BinarySensorGroup(Follower, BinarySensorEntity):
    """On when any (or all) of its members are on."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.members: list[str] = config["entities"]
        self.name = config["name"]
        self.unique_id = config.get("unique_id")
        self.device_class = config.get("device_class")
        self.mode = all if config["all"] else any
        self.extra_state_attributes = {"entity_id": list(self.members)}

    async def added_to_hub(self) -> None:
        """Compute from the members' current states and follow them."""
        self.recompute_from(self.members, self._update)

    def _update(self) -> None:
        assert self.hub is not None
        states = [state.state for member in self.members if (state := self.hub.states.get(member)) is not None]
        self.available = any(state != STATE_UNAVAILABLE for state in states)
        if not self.mode(state not in NOT_A_VALUE for state in states):
            self.is_on = None
            return
        self.is_on = self.mode(state == STATE_ON for state in states)
