"""`sun:`: the `sun.sun` entity, above or below the horizon, with the next sun events.

    homeassistant:
      latitude: 52.37
      longitude: 4.89
    sun:

As Home Assistant's sun entity: the state is `above_horizon` or `below_horizon`; the attributes
are next_dawn, next_dusk, next_midnight, next_noon, next_rising and next_setting (ISO times in
UTC), elevation and azimuth (degrees, two decimals) and rising. The events are recomputed when
the next one passes, the position every few minutes. The `sun` trigger and condition of
automations work with or without this section.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from automations.suntime import location, next_event
from hub import hookimpl
from hub.core.entity import Entity

if TYPE_CHECKING:
    from collections.abc import Callable

    from hub.core.hub import Hub

CONFIG_SCHEMA = vol.Any(None, vol.Schema({}))
STATE_ABOVE_HORIZON = "above_horizon"
STATE_BELOW_HORIZON = "below_horizon"
# Seconds between position updates: often while the sun is up, rarely at night (as HA does).
POSITION_DAY = 4 * 60
POSITION_TWILIGHT = 8 * 60
POSITION_NIGHT = 20 * 60


class Sun(Entity):
    """sun.sun."""

    domain = "sun"
    entity_id = "sun.sun"
    name = "Sun"

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.next_events: dict[str, datetime] = {}
        self.elevation = 0.0
        self.azimuth = 0.0
        self.rising = False
        self._timers: dict[str, Callable[[], None]] = {}

    def state_value(self) -> Any:
        """above_horizon when the next sunrise comes after the next sunset."""
        rising, setting = self.next_events.get("sunrise"), self.next_events.get("sunset")
        if rising is None or setting is None:
            return STATE_ABOVE_HORIZON if self.elevation > -0.833 else STATE_BELOW_HORIZON
        return STATE_ABOVE_HORIZON if rising > setting else STATE_BELOW_HORIZON

    def state_attributes(self) -> dict[str, Any]:
        """The next events, the position and whether the sun rises."""
        attrs: dict[str, Any] = {}
        for key, event in (
            ("next_dawn", "dawn"),
            ("next_dusk", "dusk"),
            ("next_midnight", "midnight"),
            ("next_noon", "noon"),
            ("next_rising", "sunrise"),
            ("next_setting", "sunset"),
        ):
            moment = self.next_events.get(event)
            attrs[key] = moment.isoformat() if moment is not None else None
        attrs.update({"elevation": self.elevation, "azimuth": self.azimuth, "rising": self.rising})
        attrs.update(super().state_attributes())
        return attrs

    async def added_to_hub(self) -> None:
        """Compute the events and the position, and keep them current."""
        self._update_events()
        self._update_position(write=False)

    async def will_remove_from_hub(self) -> None:
        """Stop the timers."""
        for cancel in self._timers.values():
            cancel()
        self._timers.clear()

    def _hub(self) -> Hub:
        assert self.hub is not None
        return self.hub

    def _update_events(self) -> None:
        hub = self._hub()
        now = hub.clock.utcnow()
        events: dict[str, datetime] = {}
        for event in ("dawn", "dusk", "midnight", "noon", "sunrise", "sunset"):
            try:
                events[event] = next_event(hub, event, now)
            except ValueError:
                continue
        self.next_events = events
        if "noon" in events and "midnight" in events:
            self.rising = events["noon"] < events["midnight"]
        soonest = min(events.values(), default=now + timedelta(hours=1))
        self._timers["events"] = hub.clock.call_at(soonest.timestamp(), self._on_event)

    def _on_event(self) -> None:
        self._update_events()
        self._update_position()

    def _update_position(self, write: bool = True) -> None:
        hub = self._hub()
        where, elevation = location(hub)
        now = hub.clock.utcnow()
        self.elevation = round(where.solar_elevation(now, elevation), 2)
        self.azimuth = round(where.solar_azimuth(now, elevation), 2)
        if write:
            self.write_state()
        interval = POSITION_DAY if self.elevation > 0 else POSITION_TWILIGHT if self.elevation > -18 else POSITION_NIGHT
        if (cancel := self._timers.pop("position", None)) is not None:
            cancel()
        self._timers["position"] = hub.clock.call_later(interval, self._update_position)


@hookimpl
def config_entity_ids(hub: Hub, config: Any) -> list[str]:
    """sun.sun and its sensors."""
    return ["sun.sun", "sensor.sun_*"]


@hookimpl
async def setup_integration(hub: Hub, config: Any) -> None:
    """Add sun.sun."""
    await hub.entities.add(Sun(hub), "sun")
