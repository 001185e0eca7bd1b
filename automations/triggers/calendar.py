"""The `calendar` trigger: at the start or end of a calendar's events, with an offset.

    triggers:
      - trigger: calendar
        event: start               # or end
        entity_id: calendar.cheap_power
        offset: "-00:05:00"        # five minutes before each start

It looks ahead a quarter of an hour at a time (and again each minute, so an event added shortly
before it starts still fires), as Home Assistant's calendar trigger does; `trigger.calendar_event`
holds the event (summary, start, end, description, location, all_day).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from automations.config import InvalidConfig
from automations.timeutil import to_timedelta
from hub.core.states import valid_entity_id

if TYPE_CHECKING:
    from hub.core.hub import Hub

LOOK_AHEAD = timedelta(minutes=15)
REFRESH = 60.0


def validate(config: Mapping[str, Any]) -> None:
    """A calendar entity, start or end, an offset."""
    entity_id = config.get("entity_id")
    if not isinstance(entity_id, str) or not valid_entity_id(entity_id) or not entity_id.startswith("calendar."):
        raise InvalidConfig(f"expected a calendar entity such as calendar.work for 'entity_id', got {entity_id!r}", config, "entity_id")
    if config.get("event", "start") not in ("start", "end"):
        raise InvalidConfig(f"expected 'event' to be start or end, got {config.get('event')!r}", config, "event")
    to_timedelta(config.get("offset", 0), node=config, key="offset")


def attach(hub: Hub, config: Mapping[str, Any], action: Callable[..., None], info: dict[str, Any]) -> Callable[[], None]:
    """Schedule each event's moment (start or end, offset added) as it comes into view."""
    validate(config)
    entity_id, which = str(config["entity_id"]), str(config.get("event", "start"))
    offset = to_timedelta(config.get("offset", 0))
    clock = hub.clock
    timers: dict[tuple[str, float], Callable[[], None]] = {}
    fired: set[tuple[str, float]] = set()
    refresher: list[Callable[[], None] | None] = [None]

    def refresh() -> None:
        calendar = hub.entities.get(entity_id)
        now = clock.utcnow()
        if calendar is not None and hasattr(calendar, "events_between"):
            for event in calendar.events_between(now - offset - timedelta(days=1), now - offset + LOOK_AHEAD):
                moment = (event.start_at(clock.time_zone) if which == "start" else event.end_at(clock.time_zone)) + offset
                key = (f"{event.uid}|{event.summary}|{event.start.isoformat()}", moment.timestamp())
                if not now < moment <= now + LOOK_AHEAD or key in timers or key in fired:
                    continue
                timers[key] = clock.call_at(moment.timestamp(), _later(fire, key, event))
        refresher[0] = clock.call_later(REFRESH, refresh)

    def fire(key: tuple[str, float], event: Any) -> None:
        timers.pop(key, None)
        fired.add(key)
        action({"event": which, "calendar_event": event.as_dict(), "offset": offset, "description": f"calendar event {which}"})

    refresh()

    def detach() -> None:
        for cancel in [*timers.values(), refresher[0]]:
            if cancel is not None:
                cancel()
        timers.clear()

    return detach


def _later(fire: Callable[[Any, Any], None], key: Any, event: Any) -> Callable[[], None]:
    return lambda: fire(key, event)


__all__ = ["attach", "datetime", "validate"]
