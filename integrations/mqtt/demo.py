"""`hub run --demo` on MQTT: simulated energy-meter nodes (the node firmware under CPython) on the hub's broker.

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

from hub.exceptions import HubError
from integrations.mqtt.runtime_api import MqttApi

_LOGGER = logging.getLogger(__name__)


def _import_fleet() -> type:
    """Import the simulator; firmware/ lives beside integrations/ in the source tree and may not be installed."""
    try:
        from firmware.sim.fleet import Fleet
    except ImportError:
        root = Path(__file__).resolve().parents[2]
        if not (root / "firmware" / "sim").is_dir():
            raise HubError(f"--demo needs the firmware/ folder of the source tree in {root}") from None
        sys.path.append(str(root))
        from firmware.sim.fleet import Fleet
    return Fleet


async def start_nodes(mqtt: MqttApi, data_dir: Path, nodes: int, interval: float) -> Callable[[], Awaitable[None]]:
    """Start simulated nodes against the broker of mqtt; return the coroutine function that stops them.

    Raises:
        HubError: the simulator (firmware/ of the source tree) is not available.
    """
    Fleet = _import_fleet()
    broker = mqtt.broker
    loop = asyncio.get_running_loop()
    # Building a node connects it (blocking socket I/O), so it happens off the event loop.
    fleet = await loop.run_in_executor(
        None,
        lambda: Fleet(
            f"mqtt://{broker.host}:{broker.port}",
            nodes,
            data_dir,
            interval=interval,
            prefix="demo",
            discovery_prefix=mqtt.discovery_prefix,
        ),
    )
    stop = threading.Event()
    thread = threading.Thread(target=fleet.run, args=(stop,), name="demo-nodes", daemon=True)
    thread.start()
    _LOGGER.info("Demo: %d simulated nodes publishing to %s:%s", nodes, broker.host, broker.port)

    async def stop_nodes() -> None:
        stop.set()
        await loop.run_in_executor(None, thread.join, 5)
        fleet.close()

    return stop_nodes
