"""Zones for the zone trigger and condition: is an entity's position inside a zone's circle?

As Home Assistant: the entity's latitude/longitude attributes, its gps_accuracy widening the
test, against the zone entity's latitude, longitude and radius (metres, great-circle distance).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from hub.core.states import STATE_UNAVAILABLE, STATE_UNKNOWN

if TYPE_CHECKING:
    from hub.core.states import State

EARTH_RADIUS_M = 6371008.8


def distance(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine, mean Earth radius)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def in_zone(zone: State | None, entity: State | None) -> bool:
    """Whether entity's position lies in zone (False when either is missing or has no position)."""
    if zone is None or entity is None or entity.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
        return False
    try:
        latitude = float(entity.attributes["latitude"])
        longitude = float(entity.attributes["longitude"])
        accuracy = float(entity.attributes.get("gps_accuracy") or 0)
        zone_lat = float(zone.attributes["latitude"])
        zone_lon = float(zone.attributes["longitude"])
        radius = float(zone.attributes["radius"])
    except (KeyError, TypeError, ValueError):
        return False
    return distance(latitude, longitude, zone_lat, zone_lon) - accuracy < radius
