"""The event trigger and the homeassistant (start/shutdown) trigger."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from automations.config import InvalidConfig, ensure_list
from hub.core.bus import EVENT_HUB_START, EVENT_HUB_STOP, Event, callback

if TYPE_CHECKING:
    from hub.core.hub import Hub


def validate(config: Mapping[str, Any]) -> None:
    """event_type is required; event_data must be a mapping."""
    if not ensure_list(config.get("event_type")):
        raise InvalidConfig("required key not provided: 'event_type'", config, "event_type")
    if config.get("event_data") is not None and not isinstance(config["event_data"], Mapping):
        raise InvalidConfig("expected a mapping for 'event_data'", config, "event_data")


def _subset(wanted: Any, data: Any) -> bool:
    if isinstance(wanted, Mapping):
        return isinstance(data, Mapping) and all(k in data and _subset(v, data[k]) for k, v in wanted.items())
    return wanted == data or (not isinstance(wanted, (list, dict)) and str(wanted) == str(data))


def attach(hub: Hub, config: Mapping[str, Any], action: Callable[..., None], info: dict[str, Any]) -> Callable[[], None]:
    """Listen to the event types (limited templates rendered once here)."""
    render = info["render"]
    event_types = [str(render(t)) for t in ensure_list(config.get("event_type"))]
    event_data = render(config.get("event_data")) if config.get("event_data") else None
    context_filter = config.get("context") or {}
    user_ids = {str(u) for u in ensure_list(context_filter.get("user_id"))}

    @callback
    def handle(event: Event) -> None:
        if event_data and not _subset(event_data, event.data):
            return
        if user_ids and event.context.user_id not in user_ids:
            return
        action({"event": event, "description": f"event '{event.event_type}'"}, event.context)

    unsubs = [hub.bus.listen(event_type, handle) for event_type in event_types]

    def detach() -> None:
        for unsub in unsubs:
            unsub()

    return detach


def validate_homeassistant(config: Mapping[str, Any]) -> None:
    """event is start or shutdown."""
    if config.get("event") not in ("start", "shutdown"):
        raise InvalidConfig(f"expected 'start' or 'shutdown' for 'event', got {config.get('event')!r}", config, "event")


def attach_homeassistant(hub: Hub, config: Mapping[str, Any], action: Callable[..., None], info: dict[str, Any]) -> Callable[[], None]:
    """Fire when the hub starts (only if not running yet) or begins to stop."""
    kind = config["event"]
    payload = {"event": kind, "description": f"Home Assistant {kind}"}

    @callback
    def handle(event: Event) -> None:
        action(dict(payload), event.context)

    if kind == "shutdown":
        return hub.bus.listen(EVENT_HUB_STOP, handle)
    return hub.bus.listen_once(EVENT_HUB_START, handle)
