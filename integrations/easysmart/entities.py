"""The entities an EasySmart-style device announces: sensor, binary_sensor, switch, number, select.

Each takes a value as its device sends it (`take`), and the commands of the controllable
ones go out on `devices/{id}/{entity}/set` through the adapter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from hub.core.entity import BinarySensorEntity, Entity, NumberEntity, SelectEntity, SensorEntity, SwitchEntity
from integrations.easysmart.protocol import DeviceSpec, EntitySpec, to_bool, to_float

if TYPE_CHECKING:
    from hub.core.context import Context


class Sender(Protocol):
    """Publishes a command to a device's `{entity}/set` topic."""

    async def send(self, device_id: str, entity: str, payload: str) -> None: ...


class DeviceEntity(Entity):
    """What every EasySmart entity shares: its device, its key, its value from a payload."""

    device_spec: DeviceSpec
    spec: EntitySpec
    sender: Sender
    reading_time: float | None = None
    """When the value the entity shows was taken (an older one goes to history only)."""

    def setup(self, device: DeviceSpec, spec: EntitySpec, sender: Sender) -> None:
        """Describe the entity from its announcement."""
        self.device_spec = device
        self.spec = spec
        self.sender = sender
        self.unique_id = f"easysmart_{device.device_id}_{spec.key}"
        self.name = spec.name
        self.has_entity_name = True
        self.icon = spec.icon
        self.device_class = spec.device_class
        self.unit_of_measurement = spec.unit
        self.device_info = {
            "identifiers": {("easysmart", device.device_id)},
            "name": device.name,
            "manufacturer": device.manufacturer,
            "model": device.model,
            "sw_version": device.firmware,
            "hw_version": device.hardware,
        }

    def take(self, value: Any) -> bool:
        """Take a value the device sent; False when it is not one this entity can have."""
        raise NotImplementedError

    def write_at(self, timestamp: float | None, context: Context | None = None) -> None:
        """Write the state, dated at timestamp (the reading's own time) when given."""
        assert self.hub is not None and self.entity_id is not None
        self.hub.states.set(self.entity_id, self.state_string(), self.state_attributes(), self.force_update,
                            context or self.context, timestamp=timestamp)
        self.context = None


class DeviceSensor(DeviceEntity, SensorEntity):
    """A reading; a number when it is one, else the text (an enum sensor, a firmware string)."""

    def setup(self, device: DeviceSpec, spec: EntitySpec, sender: Sender) -> None:
        super().setup(device, spec, sender)
        self.state_class = spec.state_class
        self.suggested_display_precision = spec.precision

    def take(self, value: Any) -> bool:
        number = to_float(value)
        if number is None and (value is None or isinstance(value, dict | list)):
            return False
        if number is not None and number.is_integer() and "." not in str(value) and "e" not in str(value).lower():
            self.native_value = int(number)  # 231 stays 231, as the device wrote it
        else:
            self.native_value = number if number is not None else str(value)
        return True


class DeviceBinarySensor(DeviceEntity, BinarySensorEntity):
    """On or off."""

    def take(self, value: Any) -> bool:
        state = to_bool(value)
        if state is None:
            return False
        self.is_on = state
        return True


class DeviceSwitch(DeviceEntity, SwitchEntity):
    """A relay: ON/OFF on its set topic; its state topic says what it did."""

    def take(self, value: Any) -> bool:
        state = to_bool(value)
        if state is None:
            return False
        self.is_on = state
        self.device_reported()
        return True

    async def turn_on(self, **kwargs: Any) -> None:
        await self.sender.send(self.device_spec.device_id, self.spec.key, "ON")

    async def turn_off(self, **kwargs: Any) -> None:
        await self.sender.send(self.device_spec.device_id, self.spec.key, "OFF")


class DeviceNumber(DeviceEntity, NumberEntity):
    """A numeric setting with the range the device announced."""

    def setup(self, device: DeviceSpec, spec: EntitySpec, sender: Sender) -> None:
        super().setup(device, spec, sender)
        self.native_min_value, self.native_max_value, self.native_step = spec.minimum, spec.maximum, spec.step

    def take(self, value: Any) -> bool:
        number = to_float(value)
        if number is None:
            return False
        self.native_value = number
        return True

    async def set_value(self, value: float) -> None:
        await self.sender.send(self.device_spec.device_id, self.spec.key, f"{value:g}")


class DeviceSelect(DeviceEntity, SelectEntity):
    """One of the options the device announced."""

    def setup(self, device: DeviceSpec, spec: EntitySpec, sender: Sender) -> None:
        super().setup(device, spec, sender)
        self.options = list(spec.options)

    def take(self, value: Any) -> bool:
        if str(value) not in self.options:
            return False
        self.current_option = str(value)
        return True

    async def select_option(self, option: str) -> None:
        await self.sender.send(self.device_spec.device_id, self.spec.key, option)


KIND_CLASSES: dict[str, type[DeviceEntity]] = {
    "sensor": DeviceSensor,
    "binary_sensor": DeviceBinarySensor,
    "switch": DeviceSwitch,
    "number": DeviceNumber,
    "select": DeviceSelect,
}


def build(device: DeviceSpec, spec: EntitySpec, sender: Sender) -> DeviceEntity:
    """The entity for one announced entity."""
    entity = KIND_CLASSES[spec.kind]()
    entity.setup(device, spec, sender)
    return entity
