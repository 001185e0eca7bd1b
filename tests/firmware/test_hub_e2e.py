"""Simulated nodes and a real hub on a real Mosquitto: what a user sees after plugging nodes in.

These run as soon as the hub's MQTT integration and the recorder are installed; until then
they skip and say which one is missing.
"""

from __future__ import annotations

import asyncio
import importlib.util
import textwrap
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from firmware.sim.fleet import Fleet
from tests.firmware.conftest import stepping_wall


def _missing() -> str | None:
    if importlib.util.find_spec("integrations.mqtt") is None:
        return "integrations/mqtt (the hub's MQTT integration) is not installed yet"
    if importlib.util.find_spec("hub.recorder") is None:
        return "hub/recorder is not installed yet"
    from hub.recorder.recorder import Recorder

    if not hasattr(Recorder, "backfill"):
        return "the recorder has no backfill() yet"
    return None


MISSING = _missing()
pytestmark = [pytest.mark.services, pytest.mark.skipif(MISSING is not None, reason=MISSING or "")]


class Setup:
    """A hub plus a fleet stepping in its own thread."""

    def __init__(self, runtime: Any, fleet: Fleet) -> None:
        self.runtime = runtime
        self.hub = runtime.hub
        self.fleet = fleet
        self.node = fleet.nodes[0]
        self.slug = self.node.node_id.replace("-", "_")


@pytest.fixture
async def start(tmp_path: Path, mosquitto_server: Any) -> AsyncIterator[Callable[..., Any]]:
    """Start a hub (mqtt, recorder, telemetry_backfill) and simulated nodes; stop both at the end."""
    from hub import bootstrap

    errors: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    runtimes: list[Any] = []
    stop = threading.Event()
    threads: list[threading.Thread] = []
    fleets: list[Fleet] = []

    async def start_setup(**fleet_options: Any) -> Setup:
        prefix = f"ha{uuid.uuid4().hex[:8]}"
        config = tmp_path / "config"
        config.mkdir()
        (config / "configuration.yaml").write_text(textwrap.dedent(f"""\
            mqtt:
              broker: {mosquitto_server.url}
              discovery_prefix: {prefix}
            recorder:
              commit_interval: 0.05
            telemetry_backfill:
            """))
        runtime = await bootstrap.start(config, tmp_path / "data", port=0)
        runtimes.append(runtime)
        fleet_options.setdefault("interval", 0.2)
        fleet = Fleet(mosquitto_server.url, 1, tmp_path / "nodes", prefix=f"n{uuid.uuid4().hex[:6]}", discovery_prefix=prefix, **fleet_options)
        fleets.append(fleet)
        thread = threading.Thread(target=fleet.run, args=(stop, 0.02), daemon=True)
        thread.start()
        threads.append(thread)
        return Setup(runtime, fleet)

    try:
        yield start_setup
    finally:
        stop.set()
        for thread in threads:
            await asyncio.get_running_loop().run_in_executor(None, thread.join, 10)
        for fleet in fleets:
            fleet.close()
        for runtime in runtimes:
            await bootstrap.stop(runtime)
        loop.set_exception_handler(previous)
    if errors:
        pytest.fail(f"Unhandled errors in the event loop: {errors}")


async def until(condition: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    """Wait until condition() is truthy, checking on every state change (and every 50 ms)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def numeric(hub: Any, entity_id: str) -> float | None:
    state = hub.states.get(entity_id)
    try:
        return float(state.state) if state is not None else None
    except ValueError:
        return None


# Known hub bug, not a firmware one: integrations/mqtt sends no new SUBSCRIBE when a second entity
# subscribes to a topic another entity already subscribed (every entity of a node shares
# devices/<node_id>/status), so the later entities never get the retained "online" and stay
# unavailable. Home Assistant re-subscribes so the broker resends retained messages.
async def test_nodes_are_discovered_report_telemetry_and_obey_relays(start: Callable[..., Any]) -> None:
    setup = await start()
    hub, slug = setup.hub, setup.slug
    await until(lambda: numeric(hub, f"sensor.{slug}_power") is not None, "a power reading")
    power = hub.states.get(f"sensor.{slug}_power")
    assert power.attributes["unit_of_measurement"] == "W"
    assert power.attributes["device_class"] == "power" and power.attributes["state_class"] == "measurement"
    await until(lambda: all(numeric(hub, f"sensor.{slug}_{key}") is not None for key in ("energy", "voltage", "frequency")), "every sensor reporting")
    energy = hub.states.get(f"sensor.{slug}_energy")
    assert energy.attributes["state_class"] == "total_increasing" and energy.attributes["unit_of_measurement"] == "kWh"
    assert 200 < numeric(hub, f"sensor.{slug}_voltage") < 260
    assert 49 < numeric(hub, f"sensor.{slug}_frequency") < 51

    switch = f"switch.{slug}_relay1"
    await until(lambda: getattr(hub.states.get(switch), "state", None) == "on", "the relay's state")
    await hub.services.call("switch", "turn_off", {}, target={"entity_id": switch}, blocking=True)
    await until(lambda: hub.states.get(switch).state == "off", "the node's OFF acknowledgement")
    assert setup.node.board.pins[5] == 0  # the GPIO really changed
    await until(lambda: numeric(hub, f"sensor.{slug}_power") == 0, "the load switched off")
    await hub.services.call("switch", "turn_on", {}, target={"entity_id": switch}, blocking=True)
    await until(lambda: hub.states.get(switch).state == "on", "the node's ON acknowledgement")

    setup.fleet.fault(setup.node.node_id, "offline")
    await until(lambda: hub.states.get(f"sensor.{slug}_power").state == "unavailable", "the last will")


async def test_offline_readings_reach_history_at_their_original_times(start: Callable[..., Any]) -> None:
    from hub.core.bus import callback
    from hub.recorder import get_recorder

    began = int(time.time()) - 3600
    setup = await start(wall=stepping_wall(began))
    hub, slug = setup.hub, setup.slug
    entity_id = f"sensor.{slug}_power"
    await until(lambda: numeric(hub, entity_id) is not None, "the node online")
    batches: list[dict[str, Any]] = []
    hub.bus.listen("telemetry_backfilled", callback(lambda event: batches.append(event.data)))

    setup.fleet.fault(setup.node.node_id, "offline")
    await until(lambda: len(setup.node.node.buffer) >= 5, "readings buffered while offline")
    setup.fleet.fault(setup.node.node_id, "online")
    await until(lambda: batches, "the replayed batch")

    batch = batches[0]
    assert batch["node_id"] == setup.node.node_id and batch["readings"] >= 5
    assert batch["entities"]["power"] == entity_id
    recorder = get_recorder(hub)
    await recorder.flush()
    history = await recorder.backend.read_states([entity_id], batch["first_ts"], batch["last_ts"] + 1)
    stamps = [sample.ts for sample in history[entity_id]]
    # Every buffered reading sits at its own time (10 s apart by the node's clock), an hour ago.
    assert len(stamps) == batch["readings"]
    assert stamps[0] == batch["first_ts"] and stamps[-1] == batch["last_ts"]
    assert all(b - a == 10 for a, b in zip(stamps, stamps[1:], strict=False))
    assert stamps[-1] < time.time() - 1800
    assert all(sample.value is not None and sample.value >= 0 for sample in history[entity_id])
