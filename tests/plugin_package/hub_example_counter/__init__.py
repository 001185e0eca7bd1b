"""A counter: the smallest useful third-party integration (see docs/integrations.md)."""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from hub import hookimpl
from hub.core.entity import SensorEntity
from hub.core.services import ServiceCall

DOMAIN = "example_counter"

CONFIG_SCHEMA = vol.Schema(
    {
        vol.Required("name"): str,
        vol.Optional("initial", default=0): vol.Coerce(int),
        vol.Optional("step", default=1): vol.All(vol.Coerce(int), vol.Range(min=1)),
    }
)


class Counter(SensorEntity):
    """A number that services move up and down."""

    state_class = "total"
    icon = "mdi:counter"

    def __init__(self, name: str, initial: int, step: int) -> None:
        self.name = name
        self.unique_id = f"{DOMAIN}_{name}"
        self.native_value = initial
        self.step = step

    def add(self, amount: int) -> None:
        self.native_value += amount
        self.write_state()


@hookimpl
async def setup_integration(hub: Any, config: dict[str, Any]) -> None:
    counter = Counter(config["name"], config["initial"], config["step"])
    await hub.entities.add(counter, DOMAIN)

    def increment(call: ServiceCall) -> None:
        counter.add(call.data.get("amount", counter.step))

    def reset(call: ServiceCall) -> None:
        counter.native_value = 0
        counter.write_state()

    hub.services.register(
        DOMAIN, "increment", increment, vol.Schema({vol.Optional("amount"): vol.Coerce(int)})
    )
    hub.services.register(DOMAIN, "reset", reset, vol.Schema({}))
