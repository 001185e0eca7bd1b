"""`hub run --demo` on MQTT: simulated energy-meter nodes (the node firmware under CPython) on the hub's broker.

A new user sees live devices at once: a few nodes with PZEM-004T readings and a relay each,
discovered like real ones. They keep their flash files and their meters' counters in
<data>/demo-nodes, so a restart carries on counting. The time the demo did not run (a day,
on the first run) is replayed and uploaded as the nodes' offline buffers, through the same
telemetry topic and `telemetry_backfill` integration a real node uses: charts and the energy
page have a day of history from the first minute.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from hub.exceptions import HubError
from integrations.mqtt.runtime_api import MqttApi

if TYPE_CHECKING:
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)
BACKFILL_SPAN = 86400.0  # the most the demo replays: a day
BACKFILL_STEP = 60.0  # one reading a minute, as a node's offline buffer would hold
UPLOAD_BATCH = 240  # readings per telemetry message
DISCOVERY_WAIT = 30.0  # how long an upload waits for the hub to know the node's sensors


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


async def start_nodes(
    mqtt: MqttApi, data_dir: Path, nodes: int, interval: float, hub: Hub | None = None
) -> Callable[[], Awaitable[None]]:
    """Start simulated nodes against the broker of mqtt; return the coroutine function that stops them.

    With the hub and its telemetry_backfill integration, the time the demo did not run is
    replayed first and uploaded once the hub has discovered the nodes.

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
            topic_root=mqtt.topic_root,
        ),
    )
    upload = None
    if hub is not None and "telemetry_backfill" in hub.config.components:
        # Replaying a day of minutes takes a moment of CPU: off the event loop, before the nodes run.
        backlog = await loop.run_in_executor(None, fleet.catch_up, time.time(), BACKFILL_SPAN, BACKFILL_STEP)
        upload = hub.create_task(upload_backlog(hub, mqtt, backlog), "demo history upload")
    elif hub is not None:
        _LOGGER.info("Demo: add `telemetry_backfill:` to configuration.yaml for a day of history from the start")
    stop = threading.Event()
    thread = threading.Thread(target=fleet.run, args=(stop,), name="demo-nodes", daemon=True)
    thread.start()
    _LOGGER.info("Demo: %d simulated nodes publishing to %s:%s", nodes, broker.host, broker.port)

    async def stop_nodes() -> None:
        if upload is not None and not upload.done():
            upload.cancel()
        stop.set()
        await loop.run_in_executor(None, thread.join, 5)
        fleet.close()

    return stop_nodes


async def upload_backlog(hub: Hub, mqtt: MqttApi, backlog: dict[str, list[dict[str, Any]]]) -> int:
    """Publish each node's replayed readings on its telemetry topic, once the hub knows its sensors.

    Returns the readings published.
    """
    from firmware import topics

    sent = 0
    for node_id, readings in backlog.items():
        if not readings:
            continue
        if not await _discovered(hub, f"{node_id}_energy"):
            _LOGGER.warning("Demo: %s was not discovered within %.0f s; its history is not uploaded", node_id, DISCOVERY_WAIT)
            continue
        # The topic real nodes upload their offline buffer on (firmware/ is MicroPython: untyped).
        topic = topics.telemetry(node_id, mqtt.topic_root)  # type: ignore[no-untyped-call]
        for start in range(0, len(readings), UPLOAD_BATCH):
            part = readings[start:start + UPLOAD_BATCH]
            await mqtt.publish(topic, orjson.dumps({"node_id": node_id, "readings": part}), qos=1)
            sent += len(part)
    if sent:
        _LOGGER.info("Demo: uploaded %d replayed readings of %d nodes", sent, sum(1 for r in backlog.values() if r))
    return sent


async def _discovered(hub: Hub, unique_id: str) -> bool:
    """Wait until the hub has an entity for a node's sensor (the telemetry upload needs it)."""
    deadline = time.monotonic() + DISCOVERY_WAIT
    while time.monotonic() < deadline:
        registry = hub.entity_registry
        if registry is not None and registry.get_entity_id("sensor", "mqtt", unique_id) is not None:
            return True
        if any(entity.unique_id == unique_id for entity in hub.entities.for_domain("sensor")):
            return True
        await asyncio.sleep(0.1)
    return False
