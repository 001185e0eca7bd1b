"""What the device API says about a device beyond its registry entry, read from its entities' states.

last_seen, RSSI, current power, online and capabilities (the commands its entities accept and the
metrics they report) are derived on every read, never stored: the state machine already holds
them, so they cannot disagree with what the WebSocket API shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hub.core.states import STATE_UNAVAILABLE, STATE_UNKNOWN, State

if TYPE_CHECKING:
    from hub.core.hub import Hub
    from hub.registry.entities import EntityEntry

POWER_TO_WATTS = {"W": 1.0, "kW": 1000.0, "mW": 0.001, "MW": 1_000_000.0}
TOGGLE_DOMAINS = ("switch", "light", "fan")


@dataclass(frozen=True, slots=True)
class EntityView:
    """One entity of a device: its registry entry and its current state (None when it has none)."""

    entry: EntityEntry
    state: State | None

    @property
    def domain(self) -> str:
        return self.entry.entity_id.partition(".")[0]

    @property
    def device_class(self) -> str | None:
        if self.entry.device_class or self.entry.original_device_class:
            return self.entry.device_class or self.entry.original_device_class
        found = self.state.attributes.get("device_class") if self.state is not None else None
        return found if isinstance(found, str) else None

    @property
    def unit(self) -> str | None:
        found = self.state.attributes.get("unit_of_measurement") if self.state is not None else None
        return found if isinstance(found, str) else self.entry.unit_of_measurement

    @property
    def live(self) -> bool:
        return self.state is not None and self.state.state != STATE_UNAVAILABLE

    def number(self) -> float | None:
        if self.state is None or self.state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
            return None
        try:
            return float(self.state.state)
        except ValueError:
            return None


def entity_views(hub: Hub, device_id: str) -> list[EntityView]:
    """Return a device's registered entities with their states, by entity id."""
    registry = hub.entity_registry
    entries = registry.entries_for_device(device_id) if registry is not None else ()
    return [EntityView(entry, hub.states.get(entry.entity_id)) for entry in sorted(entries, key=lambda e: e.entity_id)]


def online(views: list[EntityView]) -> bool:
    """Whether any entity of the device is available."""
    return any(view.live for view in views)


def last_seen(views: list[EntityView]) -> str | None:
    """When the device last reported anything (a reading, even an unchanged one, or its availability)."""
    times = [view.state.last_reported_timestamp for view in views if view.state is not None and view.live]
    return datetime.fromtimestamp(max(times), UTC).isoformat() if times else None


def rssi(views: list[EntityView]) -> float | None:
    """The signal strength its diagnostic entity reports (dBm), when it has one."""
    for view in views:
        if view.device_class == "signal_strength" and (value := view.number()) is not None:
            return value
    return None


def power_watts(views: list[EntityView]) -> float | None:
    """The device's current power in W (its first power sensor, converted from kW/mW)."""
    for view in views:
        if view.domain == "sensor" and view.device_class == "power" and (value := view.number()) is not None:
            return value * POWER_TO_WATTS.get(view.unit or "W", 1.0)
    return None


def _commands(view: EntityView) -> list[dict[str, Any]]:
    entity_id = view.entry.entity_id
    attributes = view.state.attributes if view.state is not None else {}
    if view.domain in TOGGLE_DOMAINS:
        return [{"command": name, "entity_id": entity_id} for name in ("on", "off", "toggle")]
    if view.domain == "number":
        spec = {"type": "float", "min": attributes.get("min"), "max": attributes.get("max"), "step": attributes.get("step")}
        return [{"command": "set_value", "entity_id": entity_id, "parameters": {"value": spec}}]
    if view.domain == "select":
        spec = {"type": "enum", "options": list(attributes.get("options") or ())}
        return [{"command": "select_option", "entity_id": entity_id, "parameters": {"option": spec}}]
    if view.domain == "button":
        name = "reboot" if view.device_class == "restart" else "press"
        return [{"command": name, "entity_id": entity_id}]
    return []


def capabilities(views: list[EntityView]) -> dict[str, list[dict[str, Any]]]:
    """Return the commands the device's entities accept and the metrics its sensors report."""
    commands = [command for view in views for command in _commands(view)]
    metrics = [
        {"entity_id": view.entry.entity_id, "device_class": view.device_class, "unit": view.unit,
         "diagnostic": view.entry.entity_category == "diagnostic"}
        for view in views
        if view.domain in ("sensor", "binary_sensor")
    ]
    return {"commands": commands, "metrics": metrics}
