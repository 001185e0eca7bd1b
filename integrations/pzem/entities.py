"""The entities of one PZEM-004T meter: six readings, the power alarm, and an energy reset button."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub.core.entity import BinarySensorEntity, ButtonEntity, Entity, SensorEntity
from hub.util import slugify

if TYPE_CHECKING:
    from integrations.pzem.bus import MeterStatus, PzemBus

# key, name, unit, device class, state class, display precision (the same as firmware/discovery.py)
READINGS = (
    ("power", "Power", "W", "power", "measurement", 1),
    ("energy", "Energy", "kWh", "energy", "total_increasing", 3),
    ("voltage", "Voltage", "V", "voltage", "measurement", 1),
    ("current", "Current", "A", "current", "measurement", 3),
    ("frequency", "Frequency", "Hz", "frequency", "measurement", 1),
    ("power_factor", "Power factor", None, "power_factor", "measurement", 2),
)


class _MeterEntity(Entity):
    """Shared: device, unique id, availability and link diagnostics of one meter."""

    def __init__(self, bus: PzemBus, status: MeterStatus, key: str, name: str) -> None:
        self.bus = bus
        self.status = status
        self.has_entity_name = True
        self.name = name
        port = slugify(bus.port_name) or "serial"
        self.unique_id = f"pzem_{port}_{status.address}_{key}"
        self.device_info = {
            "identifiers": [("pzem", f"{bus.port_name}:{status.address}")],
            "name": status.name,
            "manufacturer": "Peacefair",
            "model": "PZEM-004T v3",
        }
        self.available = False

    async def added_to_hub(self) -> None:
        """Follow the meter's polls."""
        self.status.listeners.append(self.update_from_meter)

    async def will_remove_from_hub(self) -> None:
        """Stop following the meter."""
        if self.update_from_meter in self.status.listeners:
            self.status.listeners.remove(self.update_from_meter)

    def update_from_meter(self) -> None:
        """Take the newest reading and link state, and write the state."""
        self.available = self.status.available
        self.extra_state_attributes = self.status.attributes()
        self.apply(self.status.reading)
        self.write_state()

    def apply(self, reading: dict[str, Any] | None) -> None:
        """Take the value this entity shows from a reading (override)."""


class PzemSensor(_MeterEntity, SensorEntity):
    """One reading of the meter."""

    def __init__(self, bus: PzemBus, status: MeterStatus, spec: tuple[Any, ...]) -> None:
        key, name, unit, device_class, state_class, precision = spec
        super().__init__(bus, status, key, name)
        self.key = key
        self.unit_of_measurement = unit
        self.device_class = device_class
        self.state_class = state_class
        self.suggested_display_precision = precision

    def apply(self, reading: dict[str, Any] | None) -> None:
        """Take the reading's value, rounded to what the meter resolves."""
        if reading is not None:
            self.native_value = round(float(reading[self.key]), 3)


class PzemAlarm(_MeterEntity, BinarySensorEntity):
    """On while power exceeds the meter's alarm threshold."""

    def __init__(self, bus: PzemBus, status: MeterStatus) -> None:
        super().__init__(bus, status, "alarm", "Power alarm")
        self.device_class = "problem"

    def apply(self, reading: dict[str, Any] | None) -> None:
        """Take the alarm register."""
        if reading is not None:
            self.is_on = bool(reading["alarm"])


class PzemResetButton(_MeterEntity, ButtonEntity):
    """Set the meter's energy counter to zero."""

    def __init__(self, bus: PzemBus, status: MeterStatus) -> None:
        super().__init__(bus, status, "reset_energy", "Reset energy")
        self.entity_category = "config"
        self.icon = "mdi:counter"

    def update_from_meter(self) -> None:
        """The button is usable whenever the bus is; its state is when it was pressed."""
        self.available = self.status.available
        self.write_state()

    async def press(self) -> None:
        """Reset the counter."""
        await reset(self.bus, self.status.address)


async def reset(bus: PzemBus, address: int) -> None:
    """Reset one meter's energy counter; a meter that does not confirm raises HubError."""
    from firmware.pzem import PzemError
    from hub.exceptions import HubError

    try:
        await bus.reset_energy(address)
    except PzemError as err:
        message = f"PZEM {address} on {bus.port_name} did not reset its energy counter: {err}"
        raise HubError(message) from err


def build(bus: PzemBus) -> list[Entity]:
    """Return every entity of every meter on the bus."""
    entities: list[Entity] = []
    for status in bus.meters.values():
        entities.extend(PzemSensor(bus, status, spec) for spec in READINGS)
        entities.append(PzemAlarm(bus, status))
        entities.append(PzemResetButton(bus, status))
    return entities
