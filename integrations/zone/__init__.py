"""`zone:`: zone.home from the core location, and the zones listed, each counting the people in it.

    homeassistant:
      latitude: 52.3731
      longitude: 4.8922
      radius: 100            # zone.home's radius in metres
    zone:
      - name: Office
        latitude: 52.3561
        longitude: 4.9535
        radius: 250
        icon: mdi:briefcase

As Home Assistant's zones: the state is the number of person entities whose state names the zone
(`home` for zone.home); the attributes are latitude, longitude, radius, passive, persons,
editable and icon. The `zone` trigger and condition (automations) test an entity's latitude and
longitude against a zone's circle.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub import hookimpl
from hub.config.core_schema import number
from hub.core.bus import Event, callback
from hub.core.entity import Entity
from hub.core.states import STATE_UNAVAILABLE, STATE_UNKNOWN, State
from hub.util import slugify

if TYPE_CHECKING:
    from hub.core.hub import Hub

DEFAULT_RADIUS = 100.0
STATE_HOME = "home"
STATE_NOT_HOME = "not_home"
ZONE_SCHEMA = vol.Schema(
    {
        vol.Required("name"): vol.Coerce(str),
        vol.Required("latitude"): vol.All(number, vol.Range(min=-90, max=90)),
        vol.Required("longitude"): vol.All(number, vol.Range(min=-180, max=180)),
        vol.Optional("radius", default=DEFAULT_RADIUS): vol.All(number, vol.Range(min=0)),
        vol.Optional("icon", default="mdi:map-marker"): str,
        vol.Optional("passive", default=False): bool,
    }
)
CONFIG_SCHEMA = vol.Any(None, vol.All(lambda value: [value] if isinstance(value, dict) else value, [ZONE_SCHEMA]))


class Zone(Entity):
    """zone.<name>."""

    domain = "zone"

    def __init__(self, config: dict[str, Any], editable: bool, entity_id: str | None = None) -> None:
        self.name = config["name"]
        self.entity_id = entity_id or f"zone.{slugify(self.name)}"
        self.icon = config["icon"]
        self.latitude = float(config["latitude"])
        self.longitude = float(config["longitude"])
        self.radius = float(config["radius"])
        self.passive = bool(config["passive"])
        self.editable = editable
        self.persons: list[str] = []
        self._undo: Any = None

    def state_value(self) -> Any:
        """How many people are in the zone."""
        return len(self.persons)

    def state_attributes(self) -> dict[str, Any]:
        """The zone's circle and who is in it."""
        attrs: dict[str, Any] = {
            "latitude": self.latitude,
            "longitude": self.longitude,
            "radius": self.radius,
            "passive": self.passive,
            "persons": list(self.persons),
            "editable": self.editable,
        }
        attrs.update(super().state_attributes())
        return attrs

    def _holds(self, state: State | None) -> bool:
        return (
            state is not None
            and state.state not in (STATE_NOT_HOME, STATE_UNKNOWN, STATE_UNAVAILABLE)
            and (state.state.casefold() == str(self.name).casefold() or (state.state == STATE_HOME and self.entity_id == "zone.home"))
        )

    async def added_to_hub(self) -> None:
        """Count the people in the zone, and follow every person."""
        assert self.hub is not None
        self.persons = sorted(state.entity_id for state in self.hub.states.all("person") if self._holds(state))
        self._undo = self.hub.bus.listen("state_changed", self._changed, event_filter=_is_person)

    async def will_remove_from_hub(self) -> None:
        """Stop following people."""
        if self._undo is not None:
            self._undo()

    @callback
    def _changed(self, event: Event) -> None:
        entity_id = event.data["entity_id"]
        inside = self._holds(event.data["new_state"])
        if inside == (entity_id in self.persons):
            return
        self.persons = sorted({*self.persons, entity_id}) if inside else [p for p in self.persons if p != entity_id]
        self.write_state()


@callback
def _is_person(event: Event) -> bool:
    return bool(str(event.data.get("entity_id", "")).startswith("person."))


@hookimpl
def config_entity_ids(hub: Hub, config: Any) -> list[str]:
    """zone.home and the listed zones."""
    zones = config if isinstance(config, list) else [config] if isinstance(config, Mapping) else []
    return ["zone.home", *(f"zone.{slugify(str(z['name']))}" for z in zones if isinstance(z, Mapping) and z.get("name"))]


@hookimpl
async def setup_integration(hub: Hub, config: Any) -> None:
    """Add zone.home (from the core location) and every configured zone."""
    core = hub.config.raw.get("homeassistant") or {}
    home = {
        "name": hub.config.name,
        "latitude": hub.config.latitude,
        "longitude": hub.config.longitude,
        "radius": core.get("radius", DEFAULT_RADIUS),
        "icon": "mdi:home",
        "passive": False,
    }
    await hub.entities.add(Zone(home, editable=True, entity_id="zone.home"), "zone")
    for zone in CONFIG_SCHEMA(config) or []:
        await hub.entities.add(Zone(zone, editable=False), "zone")
