"""The `sun` trigger: at sunrise or sunset, with an optional offset.

    triggers:
      - trigger: sun
        event: sunset
        offset: "-00:45:00"     # 45 minutes before sunset
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from automations.config import InvalidConfig
from automations.suntime import SUN_EVENTS, next_event
from automations.timeutil import to_timedelta

if TYPE_CHECKING:
    from hub.core.hub import Hub


def _offset(config: Mapping[str, Any]) -> timedelta:
    return to_timedelta(config.get("offset", 0), node=config, key="offset")


def validate(config: Mapping[str, Any]) -> None:
    """event is sunrise or sunset; offset a duration."""
    if config.get("event") not in SUN_EVENTS:
        raise InvalidConfig(f"expected 'event' to be sunrise or sunset, got {config.get('event')!r}", config, "event")
    _offset(config)


def attach(hub: Hub, config: Mapping[str, Any], action: Callable[..., None], info: dict[str, Any]) -> Callable[[], None]:
    """Fire at each next occurrence of the event (offset added), re-armed after each."""
    validate(config)
    event: str = config["event"]
    offset = _offset(config)
    description = f"{event} with offset" if offset else event
    clock = hub.clock
    cancel: list[Callable[[], None] | None] = [None]

    def arm() -> None:
        try:
            moment = next_event(hub, event, offset=offset)
        except ValueError:
            return  # no such event within a year here (polar day or night)
        cancel[0] = clock.call_at(moment.timestamp(), fired)

    def fired() -> None:
        arm()
        action({"event": event, "offset": offset, "description": description})

    arm()

    def detach() -> None:
        if cancel[0] is not None:
            cancel[0]()
            cancel[0] = None

    return detach
