"""The `zone` trigger: an entity with a position enters or leaves a zone.

    triggers:
      - trigger: zone
        entity_id: person.anna       # one or a list
        zone: zone.home
        event: enter                 # or leave
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from automations.config import InvalidConfig, ensure_list
from automations.zones import in_zone
from hub.core.bus import Event, callback
from hub.core.states import valid_entity_id

if TYPE_CHECKING:
    from hub.core.hub import Hub

EVENTS = {"enter": "entering", "leave": "leaving"}


def validate(config: Mapping[str, Any]) -> None:
    """entity_id, a zone entity and enter/leave."""
    if not ensure_list(config.get("entity_id")):
        raise InvalidConfig("required key not provided: 'entity_id'", config, "entity_id")
    zone = config.get("zone")
    if not isinstance(zone, str) or not valid_entity_id(zone) or not zone.startswith("zone."):
        raise InvalidConfig(f"expected a zone entity such as zone.home for 'zone', got {zone!r}", config, "zone")
    if config.get("event", "enter") not in EVENTS:
        raise InvalidConfig(f"expected 'event' to be enter or leave, got {config.get('event')!r}", config, "event")


def attach(hub: Hub, config: Mapping[str, Any], action: Callable[..., None], info: dict[str, Any]) -> Callable[[], None]:
    """Fire when a followed entity crosses the zone's edge the wanted way."""
    validate(config)
    entity_ids = [str(entity).lower() for entity in ensure_list(config["entity_id"])]
    zone_id, event = str(config["zone"]), str(config.get("event", "enter"))

    @callback
    def changed(change: Event) -> None:
        old, new = change.data["old_state"], change.data["new_state"]
        zone = hub.states.get(zone_id)
        if zone is None or old is None or new is None:
            return
        was, now = in_zone(zone, old), in_zone(zone, new)
        if (event == "enter" and not was and now) or (event == "leave" and was and not now):
            name = zone.attributes.get("friendly_name", zone_id)
            action(
                {
                    "entity_id": change.data["entity_id"],
                    "from_state": old,
                    "to_state": new,
                    "zone": zone,
                    "event": event,
                    "description": f"{change.data['entity_id']} {EVENTS[event]} {name}",
                },
                change.context,
            )

    return hub.states.track(entity_ids, changed)
