"""The legacy format: `platform: template` under sensor:, binary_sensor: and switch:.

    sensor:
      - platform: template
        sensors:
          house_power:                     # the object id: sensor.house_power
            friendly_name: House power
            unit_of_measurement: W
            value_template: "{{ ... }}"

Each entry is rewritten into the modern form (value_template -> state, icon_template -> icon,
attribute_templates -> attributes ...), with the object id as entity id and, without a
friendly name, as name, as Home Assistant rewrites it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from integrations.template.entities import build

if TYPE_CHECKING:
    from hub.core.hub import Hub
    from integrations.platforms import AddEntities

RENAMED = {
    "value_template": "state",
    "icon_template": "icon",
    "entity_picture_template": "picture",
    "availability_template": "availability",
    "attribute_templates": "attributes",
    "friendly_name_template": "name",
}
LEGACY_KEYS: dict[str, set[str]] = {
    "sensor": {"unit_of_measurement", "device_class", "state_class"},
    "binary_sensor": {"device_class", "delay_on", "delay_off"},
    "switch": {"turn_on", "turn_off"},
}
_COMMON = {"friendly_name", "unique_id", *RENAMED}
_OBJECT_ID = vol.Match(r"^[a-z0-9_]+$", msg="expected an object id of lowercase letters, digits and underscores")


def schema(domain: str, devices_key: str) -> vol.Schema:
    """The legacy platform schema of one domain (`sensors:` or `switches:` holds the entities)."""
    required = {"value_template"} if domain != "switch" else {"turn_on", "turn_off"}

    def entity(value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise vol.Invalid(f"expected a mapping, got {type(value).__name__}")
        for key in value:
            if key not in _COMMON | LEGACY_KEYS[domain]:
                raise vol.Invalid("extra keys not allowed", path=[key])
        for key in sorted(required):
            if key not in value:
                raise vol.Invalid("required key not provided", path=[key])
        return value

    return vol.Schema({vol.Required("platform"): "template", vol.Required(devices_key): vol.Schema({_OBJECT_ID: entity})})


def modern(object_id: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """The modern entity config for one legacy entry."""
    result: dict[str, Any] = {"object_id": object_id, "name": config.get("friendly_name", object_id)}
    for key, value in config.items():
        if key == "friendly_name":
            continue
        result[RENAMED.get(key, key)] = value
    return result


async def setup(hub: Hub, domain: str, devices_key: str, config: Mapping[str, Any], add_entities: AddEntities) -> None:
    """Add the entities of one legacy platform item."""
    await add_entities([build(hub, domain, modern(object_id, entry), None, False) for object_id, entry in config[devices_key].items()])
