'''A custom integration for browser tests: two devices with one entity of every domain.

The relay confirms a command only when the test calls `ack()`, like a real relay whose state
arrives over MQTT after it switched, so the UI's pending state can be seen.
'''

from hub import hookimpl
from hub.core.entity import (
    ButtonEntity,
    NumberEntity,
    SelectEntity,
    SensorEntity,
    SwitchEntity,
    TextEntity,
)

NODE = {"identifiers": [["demo", "node1"]], "name": "Relay node", "manufacturer": "Demo", "model": "PZEM relay"}
METER = {"identifiers": [["demo", "meter2"]], "name": "Garage meter", "manufacturer": "Demo", "model": "PZEM-004T"}


class Power(SensorEntity):
    has_entity_name = True
    device_class = "power"
    state_class = "measurement"
    unit_of_measurement = "W"

    def __init__(self, unique_id, name, device, value):
        self.unique_id = unique_id
        self.name = name
        self.device_info = device
        self.native_value = value

    def set(self, value):
        self.native_value = value
        self.write_state()


class Relay(SwitchEntity):
    has_entity_name = True
    unique_id = "demo_relay"
    name = "Relay"
    device_info = NODE
    is_on = False
    wanted = None

    async def turn_on(self, **kwargs):
        self.wanted = True

    async def turn_off(self, **kwargs):
        self.wanted = False

    def ack(self):
        self.is_on = self.wanted
        self.write_state()


class Limit(NumberEntity):
    has_entity_name = True
    unique_id = "demo_limit"
    name = "Limit"
    device_info = NODE
    native_min_value = 0
    native_max_value = 3000
    native_step = 50
    native_value = 1500
    unit_of_measurement = "W"

    async def set_value(self, value):
        self.native_value = value
        self.write_state()


class Mode(SelectEntity):
    has_entity_name = True
    unique_id = "demo_mode"
    name = "Mode"
    device_info = NODE
    options = ["auto", "manual", "off"]
    current_option = "auto"

    async def select_option(self, option):
        self.current_option = option
        self.write_state()


class Label(TextEntity):
    has_entity_name = True
    unique_id = "demo_label"
    name = "Label"
    device_info = NODE
    native_value = "kitchen"

    async def set_value(self, value):
        self.native_value = value
        self.write_state()


class Reset(ButtonEntity):
    has_entity_name = True
    unique_id = "demo_reset"
    name = "Reset energy"
    device_info = NODE
    presses = 0

    async def press(self):
        self.presses += 1


@hookimpl
async def setup_integration(hub, config):
    count = int((config or {}).get("extra_sensors", 0))
    await hub.entities.add(Power("demo_power", "Power", NODE, 230.5), "demo")
    for entity in (Relay(), Limit(), Mode(), Label(), Reset()):
        await hub.entities.add(entity, "demo")
    meter = Power("demo_meter_power", "Power", METER, 0)
    meter.available = False
    await hub.entities.add(meter, "demo")
    for index in range(count):
        await hub.entities.add(Power(f"demo_extra_{index}", f"Extra {index}", None, index), "demo")
