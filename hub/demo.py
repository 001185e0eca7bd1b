"""`hub run --demo`: simulated devices from the enabled integrations, so a new user sees live entities at once.

The devices come from the `start_demo` hook; the mqtt integration starts simulated energy-meter
nodes (the node firmware under CPython) on its broker.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from hub.exceptions import HubError
from hub.plugins import call_hook

if TYPE_CHECKING:
    from hub.core.hub import Hub


async def start_demo(hub: Hub, nodes: int = 3, interval: float = 5.0) -> Callable[[], Awaitable[None]]:
    """Start the simulated devices of every enabled integration; return the coroutine function that stops them.

    Raises:
        HubError: no enabled integration simulates devices (the demo needs the mqtt integration).
    """
    started = await call_hook(hub.plugins, "start_demo", hub=hub, nodes=nodes, interval=interval) if hub.plugins else []
    stops = [stop for stop in started if stop is not None]
    if not stops:
        raise HubError("--demo needs the mqtt integration: add `mqtt:` to configuration.yaml")

    async def stop_demo() -> None:
        for stop in stops:
            await stop()

    return stop_demo
