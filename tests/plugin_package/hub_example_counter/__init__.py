"""A counter: the smallest useful third-party integration (see docs/integrations.md).

Its value is kept in a table of its own (`models.py`, created by `migrations/versions/`), so
it survives restarts.
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from sqlalchemy import select

from hub import hookimpl
from hub.core.entity import SensorEntity
from hub.core.services import ServiceCall
from hub.storage import utcnow
from hub_example_counter.models import CounterRow

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


async def load_value(hub: Any, name: str) -> int | None:
    """Return the counter's saved value, or None if it has none yet."""
    sessions = hub.require_db()  # the session factory; a HubError on a hub without storage
    async with sessions() as session:
        return (await session.execute(select(CounterRow.value).where(CounterRow.name == name))).scalar_one_or_none()


async def save_value(hub: Any, counter: Counter) -> None:
    """Write the counter's value."""
    sessions = hub.require_db()  # the session factory; a HubError on a hub without storage
    async with sessions() as session, session.begin():
        await session.merge(CounterRow(name=counter.name, value=counter.native_value, updated_at=utcnow()))


@hookimpl
async def setup_integration(hub: Any, config: dict[str, Any]) -> None:
    saved = await load_value(hub, config["name"])
    counter = Counter(config["name"], config["initial"] if saved is None else saved, config["step"])
    await hub.entities.add(counter, DOMAIN)

    async def increment(call: ServiceCall) -> None:
        counter.add(call.data.get("amount", counter.step))
        await save_value(hub, counter)

    async def reset(call: ServiceCall) -> None:
        counter.native_value = 0
        counter.write_state()
        await save_value(hub, counter)

    hub.services.register(
        DOMAIN, "increment", increment, vol.Schema({vol.Optional("amount"): vol.Coerce(int)})
    )
    hub.services.register(DOMAIN, "reset", reset, vol.Schema({}))
