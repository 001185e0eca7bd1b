"""HA's area template functions: `areas`, `area_id`, `area_name`, `area_entities`, `area_devices`.

They read the area, device and entity registries as Home Assistant's do: an entity is in its own
area, or in its device's when it has none of its own; a lookup may be an area's id or name, a
device id, or an entity id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.core.hub import Hub
    from hub.registry.areas import AreaEntry


class AreaFunctions:
    """The area functions of one hub's template environment (all answer "none" without storage)."""

    def __init__(self, hub: Hub | None) -> None:
        self._hub = hub

    def _area(self, lookup: Any) -> AreaEntry | None:
        """The area a lookup names: an area id or name, a device id or an entity id."""
        hub = self._hub
        if hub is None or hub.area_registry is None or not isinstance(lookup, str):
            return None
        areas = hub.area_registry
        area = areas.get(lookup) or areas.get_by_name(lookup)
        if area is not None:
            return area
        area_id: str | None = None
        entry = hub.entity_registry.get(lookup) if hub.entity_registry is not None else None
        device_id = lookup
        if entry is not None:
            area_id = entry.area_id
            device_id = entry.device_id or ""
        if area_id is None and hub.device_registry is not None:
            device = hub.device_registry.get(device_id)
            area_id = device.area_id if device is not None else None
        return areas.get(area_id) if area_id is not None else None

    def areas(self) -> list[str]:
        """Every area's id."""
        hub = self._hub
        return [] if hub is None or hub.area_registry is None else [area.id for area in hub.area_registry]

    def area_id(self, lookup: Any) -> str | None:
        """The id of the area an area name, device id or entity id names, or None."""
        area = self._area(lookup)
        return area.id if area is not None else None

    def area_name(self, lookup: Any) -> str | None:
        """The name of the area an area id, device id or entity id names, or None."""
        area = self._area(lookup)
        return area.name if area is not None else None

    def area_devices(self, area_id_or_name: Any) -> list[str]:
        """The ids of the devices in an area."""
        hub, area = self._hub, self._own_area(area_id_or_name)
        if hub is None or area is None or hub.device_registry is None:
            return []
        return [device.id for device in hub.device_registry if device.area_id == area.id]

    def area_entities(self, area_id_or_name: Any) -> list[str]:
        """The entity ids in an area: its own, then those of its devices that have no area of their own."""
        hub, area = self._hub, self._own_area(area_id_or_name)
        if hub is None or area is None or hub.entity_registry is None:
            return []
        devices = set(self.area_devices(area.id))
        own = [e.entity_id for e in hub.entity_registry if e.area_id == area.id]
        by_device = [
            e.entity_id for e in hub.entity_registry if e.area_id is None and e.device_id in devices
        ]
        return own + by_device

    def _own_area(self, area_id_or_name: Any) -> AreaEntry | None:
        hub = self._hub
        if hub is None or hub.area_registry is None or not isinstance(area_id_or_name, str):
            return None
        return hub.area_registry.get(area_id_or_name) or hub.area_registry.get_by_name(area_id_or_name)
