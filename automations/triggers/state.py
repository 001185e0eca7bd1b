"""The state trigger (from/to/not_from/not_to/attribute/for), on the per-entity index."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from automations.config import InvalidConfig, ensure_list
from automations.triggers.duration import Pending, validate_for
from hub.core.bus import Event, callback
from hub.core.states import valid_entity_id

if TYPE_CHECKING:
    from hub.core.hub import Hub

_MATCH_KEYS = ("from", "to", "not_from", "not_to")


def entity_ids_of(config: Mapping[str, Any]) -> list[str]:
    """The trigger's entity_id list, lowercased and checked."""
    ids = ensure_list(config.get("entity_id"))
    if not ids:
        raise InvalidConfig("required key not provided: 'entity_id'", config, "entity_id")
    result = []
    for entity_id in ids:
        if not isinstance(entity_id, str) or not valid_entity_id(entity_id.lower()):
            raise InvalidConfig(f"invalid entity_id {entity_id!r}", config, "entity_id")
        result.append(entity_id.lower())
    return result


def validate(config: Mapping[str, Any]) -> None:
    """Check entity_id, the match keys and `for`."""
    entity_ids_of(config)
    if "from" in config and "not_from" in config:
        raise InvalidConfig("'from' and 'not_from' cannot be used together", config, "not_from")
    if "to" in config and "not_to" in config:
        raise InvalidConfig("'to' and 'not_to' cannot be used together", config, "not_to")
    validate_for(config)


def _matcher(config: Mapping[str, Any], key: str, attribute: str | None) -> Callable[[Any], bool]:
    if key not in config or config[key] is None:
        return lambda value: True
    values = ensure_list(config[key])
    # States are strings; attribute values keep their type but also match their text form.
    wanted = {v if attribute is not None else str(v) for v in values}
    wanted_text = {str(v) for v in values}
    negate = key.startswith("not_")

    def match(value: Any) -> bool:
        found = value in wanted or (attribute is not None and value is not None and str(value) in wanted_text)
        return not found if negate else found

    return match


def attach(hub: Hub, config: Mapping[str, Any], action: Callable[..., None], info: dict[str, Any]) -> Callable[[], None]:
    """Track the entities; fire on matching changes (after `for:` when given)."""
    entity_ids = entity_ids_of(config)
    attribute = config.get("attribute")
    match_all = not any(key in config for key in _MATCH_KEYS)
    match_from = _matcher(config, "not_from" if "not_from" in config else "from", attribute)
    match_to = _matcher(config, "not_to" if "not_to" in config else "to", attribute)
    pending = Pending(hub, config, info.get("name", ""))

    def value_of(state: Any) -> Any:
        if state is None:
            return None
        return state.state if attribute is None else state.attributes.get(attribute)

    @callback
    def changed(event: Event) -> None:
        data = event.data
        entity_id = data["entity_id"]
        from_s, to_s = data["old_state"], data["new_state"]
        old_value, new_value = value_of(from_s), value_of(to_s)
        if pending.configured and pending.is_pending(entity_id) and not match_to(new_value):
            pending.cancel(entity_id)
        if attribute is not None and old_value == new_value:
            return
        if not match_from(old_value) or not match_to(new_value) or (not match_all and old_value == new_value):
            return
        payload = {
            "entity_id": entity_id,
            "from_state": from_s,
            "to_state": to_s,
            "for": None,
            "attribute": attribute,
            "description": f"state of {entity_id}",
        }
        pending.fire_now_or_after(entity_id, payload, action, event.context)

    untrack = hub.states.track(entity_ids, changed)

    def detach() -> None:
        untrack()
        pending.cancel_all()

    return detach
