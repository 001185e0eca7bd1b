"""PZEM-004T v3 energy meters on the hub's own serial port (a USB-TTL adapter on a Raspberry Pi).

    pzem:
      port: /dev/ttyUSB0          # or a pyserial URL such as rfc2217://host:4000
      scan_interval: 10           # seconds between polls of every meter
      timeout: 0.2                # seconds to wait for a reply; retries: 2 more attempts
      unavailable_after: 3        # failed polls in a row before the entities go unavailable
      meters:                     # several meters share one bus by Modbus address
        - address: 1
          name: Kitchen
        - address: 2
          name: Heater

Each meter gets sensors for power (W), energy (kWh, total_increasing), voltage (V), current
(A), frequency (Hz) and power factor, a power-alarm binary sensor, and a "Reset energy"
button; `pzem.reset_energy` (target any of a meter's entities, or `address: N`) does the
same. Timeouts and CRC errors are retried, counted in every entity's attributes (`timeouts`,
`crc_errors`, `last_error`) and logged. The Modbus-RTU driver is the node firmware's own
(firmware/pzem.py), so the hub and the nodes read meters the same way.

Meters on our ESP nodes need none of this: they arrive through MQTT discovery.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub import hookimpl
from hub.core.runtime import HubKey
from hub.core.services import ServiceCall
from hub.exceptions import ServiceValidationError
from integrations.pzem.config import CONFIG_SCHEMA

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from hub.core.hub import Hub
    from integrations.pzem.bus import PzemBus

__all__ = ["CONFIG_SCHEMA"]
_LOGGER = logging.getLogger(__name__)
DOMAIN = "pzem"
BUS: HubKey[PzemBus] = HubKey("pzem")

RESET_SCHEMA = vol.Schema(
    {
        vol.Optional("entity_id"): object,
        vol.Optional("device_id"): object,
        vol.Optional("area_id"): object,
        vol.Optional("address"): vol.All(vol.Coerce(int), vol.Range(min=1, max=248)),
    }
)


@hookimpl
async def setup_integration(hub: Hub, config: Any) -> None:
    """Add the meters' entities and register pzem.reset_energy; polling starts in connect_sources."""
    from integrations.pzem.bus import PzemBus
    from integrations.pzem.entities import _MeterEntity, build, reset
    from integrations.pzem.serial_port import SerialUart

    config = CONFIG_SCHEMA(config)
    bus = PzemBus(hub, config, lambda: SerialUart(config["port"], config["baudrate"]))
    for entity in build(bus):
        await hub.entities.add(entity, DOMAIN)

    async def reset_energy(call: ServiceCall) -> None:
        addresses: set[int] = set()
        if "address" in call.data:
            addresses.add(call.data["address"])
        for entity_id in call.entity_ids or ():
            entity = hub.entities.get(entity_id)
            if isinstance(entity, _MeterEntity) and entity.bus is bus:
                addresses.add(entity.status.address)
        unknown = addresses - set(bus.meters)
        if not addresses or unknown:
            known = ", ".join(str(a) for a in bus.meters)
            message = f"pzem.reset_energy needs a meter: an entity of one, or address ({known})"
            raise ServiceValidationError(message)
        for address in sorted(addresses):
            await reset(bus, address)

    hub.services.register(DOMAIN, "reset_energy", reset_energy, RESET_SCHEMA)  # described in services.yaml
    hub.runtime[BUS] = bus
    hub.on_stop(bus.stop)  # stops polling if connect_sources never ran its disconnect


@hookimpl
def connect_sources(hub: Hub) -> Callable[[], Awaitable[None]] | None:
    """Start polling the meters, now that the recorder and automations listen."""
    bus = hub.runtime.get(BUS)
    if bus is None:
        return None
    bus.start()
    return bus.stop
