"""The numeric_state trigger: fires when a value crosses into the range (above/below)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from automations.conditions import ConditionError, check_limits, numeric_value, template_of, validate_limits
from automations.triggers.duration import Pending, validate_for
from automations.triggers.state import entity_ids_of
from hub.core.bus import Event, callback

if TYPE_CHECKING:
    from hub.core.hub import Hub
    from hub.core.states import State


def validate(config: Mapping[str, Any]) -> None:
    """Check entity_id, above/below and `for`."""
    entity_ids_of(config)
    validate_limits(config)
    validate_for(config)


def attach(hub: Hub, config: Mapping[str, Any], action: Callable[..., None], info: dict[str, Any]) -> Callable[[], None]:
    """Arm each entity while it is outside the range; fire when an armed entity enters it."""
    entity_ids = entity_ids_of(config)
    above, below = config.get("above"), config.get("below")
    attribute = config.get("attribute")
    template = template_of(hub, config.get("value_template"))
    variables = info.get("variables") or {}
    pending = Pending(hub, config, info.get("name", ""))

    def matches(state: State | None) -> bool:
        if state is None:
            return False
        try:
            value = numeric_value(hub, state, attribute, template, variables)
        except ConditionError:
            return False
        return value is not None and check_limits(hub, value, above, below)

    armed = {entity_id for entity_id in entity_ids if not matches(hub.states.get(entity_id))}

    @callback
    def changed(event: Event) -> None:
        entity_id = event.data["entity_id"]
        to_s = event.data["new_state"]
        if not matches(to_s):
            armed.add(entity_id)
            pending.cancel(entity_id)
            return
        if entity_id not in armed:
            return
        armed.discard(entity_id)
        payload = {
            "entity_id": entity_id,
            "below": below,
            "above": above,
            "from_state": event.data["old_state"],
            "to_state": to_s,
            "for": None,
            "description": f"numeric state of {entity_id}",
        }
        pending.fire_now_or_after(entity_id, payload, action, event.context)

    untrack = hub.states.track(entity_ids, changed)

    def detach() -> None:
        untrack()
        pending.cancel_all()

    return detach
