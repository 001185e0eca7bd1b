"""Sunrise, sunset and the other sun events at the hub's location, computed with astral.

The same computation as Home Assistant's `helpers/sun.py`: the location comes from the
`homeassistant:` section (latitude, longitude, elevation, time zone); the next event is searched
day by day from the local date, so polar days without a sunset are skipped.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import astral
import astral.location

if TYPE_CHECKING:
    from hub.core.hub import Hub

SUN_EVENTS = ("sunrise", "sunset")
# noon and midnight do not depend on the observer's elevation.
ELEVATION_AGNOSTIC = ("noon", "midnight")


def location(hub: Hub) -> tuple[astral.location.Location, float]:
    """The hub's astral location and its elevation in metres."""
    config = hub.config
    info = astral.LocationInfo("", "", config.time_zone or "UTC", float(config.latitude), float(config.longitude))
    return astral.location.Location(info), float(config.elevation or 0)


def event_on(hub: Hub, event: str, day: date) -> datetime | None:
    """The time (UTC) of a sun event on a local date, or None when it does not happen that day."""
    where, elevation = location(hub)
    kwargs = {} if event in ELEVATION_AGNOSTIC else {"observer_elevation": elevation}
    try:
        moment: datetime = getattr(where, event)(day, local=False, **kwargs)
    except ValueError:
        return None
    return moment


def next_event(hub: Hub, event: str, after: datetime | None = None, offset: timedelta | None = None) -> datetime:
    """The next time (UTC, offset added) a sun event happens after a moment (now by default).

    Raises:
        ValueError: the event does not happen within a year (no sunset at the pole).
    """
    offset = offset or timedelta()
    after = after or hub.clock.utcnow()
    local_day = after.astimezone(hub.clock.time_zone).date()
    for shift in range(-1, 367):
        moment = event_on(hub, event, local_day + timedelta(days=shift))
        if moment is not None and moment + offset > after:
            return moment + offset
    message = f"Unable to find event after one year: {event}"
    raise ValueError(message)
