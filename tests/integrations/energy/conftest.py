"""An in-memory hub on a manual clock in Europe/Berlin, and a helper to set the energy integration up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hub.core.bus import callback
from hub.core.clock import ManualClock
from hub.core.hub import Hub, HubConfig
from integrations import energy

BERLIN = ZoneInfo("Europe/Berlin")
METER = {"device_class": "energy", "state_class": "total_increasing", "unit_of_measurement": "kWh",
         "friendly_name": "Kitchen energy"}


def ts(*args: int) -> float:
    """Return the Unix time of a Berlin wall time."""
    return datetime(*args, tzinfo=BERLIN).timestamp()  # type: ignore[misc]


@pytest.fixture
async def hub() -> AsyncIterator[Hub]:
    """A hub in Europe/Berlin with EUR, its clock at 1 March 2024 00:00; loop errors fail the test."""
    errors: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    instance = Hub(HubConfig(time_zone="Europe/Berlin", currency="EUR"))
    instance.clock = ManualClock(ts(2024, 3, 1), time_zone="Europe/Berlin")  # type: ignore[attr-defined]
    try:
        yield instance
        await instance.stop()
    finally:
        loop.set_exception_handler(previous)
    if errors:
        pytest.fail(f"Unhandled errors in the event loop: {errors}")


@pytest.fixture
def setup_energy(hub: Hub) -> Callable[[dict[str, Any]], Any]:
    """Set the energy integration up with a config (validated as configuration.yaml's would be)."""

    async def setup(config: dict[str, Any]) -> Any:
        await energy.setup_integration(hub, energy.CONFIG_SCHEMA(config))
        return energy.manager_of(hub)

    return setup


def events(hub: Hub, event_type: str) -> list[dict[str, Any]]:
    """Collect the data of every event of a type fired from now on."""
    seen: list[dict[str, Any]] = []

    @callback
    def record(event: Any) -> None:
        seen.append(dict(event.data))

    hub.bus.listen(event_type, record)
    return seen


async def read(hub: Hub, at: float, value: float | str, entity_id: str = "sensor.kitchen_energy",
               attributes: dict[str, Any] | None = None) -> None:
    """Move the clock to `at` and report a meter reading then."""
    await hub.clock.set_time(at)
    hub.states.set(entity_id, str(value), attributes or METER)


def value(hub: Hub, entity_id: str) -> float:
    state = hub.states.get(entity_id)
    assert state is not None, entity_id
    return float(state.state)
