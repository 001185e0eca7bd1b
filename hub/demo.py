"""`hub run --demo`: simulated energy-meter nodes (the node firmware under CPython) on the hub's broker.

A new user sees live devices at once: a few nodes with PZEM-004T readings and a relay each,
discovered like real ones. They keep their flash files in <data>/demo-nodes.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from hub.exceptions import HubError

if TYPE_CHECKING:
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)


def _import_fleet() -> type:
    """Import the simulator; firmware/ lives beside hub/ in the source tree and is not installed."""
    try:
        from firmware.sim.fleet import Fleet
    except ImportError:
        root = Path(__file__).resolve().parents[1]
        if not (root / "firmware" / "sim").is_dir():
            raise HubError(f"--demo needs the firmware/ folder of the source tree next to {root / 'hub'}") from None
        sys.path.append(str(root))
        from firmware.sim.fleet import Fleet
    return Fleet


async def start_demo(hub: Hub, nodes: int = 3, interval: float = 5.0) -> Callable[[], Awaitable[None]]:
    """Start simulated nodes against the hub's MQTT broker; return the coroutine function that stops them.

    Raises:
        HubError: the mqtt integration is not running (the demo needs its broker).
    """
    try:
        from integrations.mqtt import runtime_of
    except ImportError as err:
        raise HubError("--demo needs the mqtt integration") from err
    runtime = runtime_of(hub)
    if runtime is None:
        raise HubError("--demo needs the mqtt integration: add `mqtt:` to configuration.yaml")
    Fleet = _import_fleet()
    settings = runtime.client.settings
    raw = hub.config.raw.get("mqtt") or {}
    data_dir = Path(hub.config.data_dir or ".") / "demo-nodes"
    loop = asyncio.get_running_loop()
    # Building a node connects it (blocking socket I/O), so it happens off the event loop.
    fleet = await loop.run_in_executor(
        None,
        lambda: Fleet(
            f"mqtt://{settings.host}:{settings.port}",
            nodes,
            data_dir,
            interval=interval,
            prefix="demo",
            discovery_prefix=raw.get("discovery_prefix", "homeassistant"),
        ),
    )
    stop = threading.Event()
    thread = threading.Thread(target=fleet.run, args=(stop,), name="demo-nodes", daemon=True)
    thread.start()
    _LOGGER.info("Demo: %d simulated nodes publishing to %s:%s", nodes, settings.host, settings.port)

    async def stop_demo() -> None:
        stop.set()
        await loop.run_in_executor(None, thread.join, 5)
        fleet.close()

    return stop_demo
