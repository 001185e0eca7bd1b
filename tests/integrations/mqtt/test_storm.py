"""A storm of retained discovery configs at start: handled without blocking the loop, cached in batches."""

from __future__ import annotations

import asyncio
import gc
import json
import time

import aiomqtt
import pytest

from integrations.mqtt import runtime_of
from tests.integrations.mqtt.conftest import wait_state

pytestmark = pytest.mark.services

COUNT = 1000


async def test_thousand_retained_configs_at_start(start_mqtt_hub, mosquitto_server, prefix):
    async with aiomqtt.Client(mosquitto_server.host, mosquitto_server.port) as client:
        for i in range(COUNT):
            config = {"name": f"Storm {i}", "unique_id": f"storm_{i}", "state_topic": f"storm/{i}"}
            await client.publish(f"{prefix}/sensor/storm_{i}/config", json.dumps(config), qos=1, retain=True)

    worst = [0.0]  # the most CPU time the loop's thread spent between two ticks of a 10 ms timer
    late = [0.0]  # the most wall-clock time a tick was late
    running = [True]

    async def watch_loop() -> None:
        # A loop blocked by the hub's own work spends the CPU time between two ticks on this thread;
        # on a loaded machine a tick is also late while the process waits for a core, which the
        # thread's CPU time does not count. The wall-clock bound stays as a backstop for blocking I/O.
        while running[0]:
            before, cpu = time.monotonic(), time.thread_time()
            await asyncio.sleep(0.01)
            worst[0] = max(worst[0], time.thread_time() - cpu)
            late[0] = max(late[0], time.monotonic() - before - 0.01)

    # Collect what earlier tests in this process left behind first: a full collection of their
    # garbage is not the hub blocking its loop.
    gc.collect()
    watcher = asyncio.create_task(watch_loop())
    try:
        hub = (await start_mqtt_hub()).hub
        await wait_state(hub, f"sensor.storm_{COUNT - 1}", timeout=60)
        runtime = runtime_of(hub)
        await runtime.discovery.wait_idle()
        assert len(runtime.discovery.entities) == COUNT
    finally:
        running[0] = False
        await watcher
    assert worst[0] < 0.5, f"the event loop was blocked for {worst[0]:.2f} s of CPU (late by {late[0]:.2f} s)"
    assert late[0] < 5.0, f"a 10 ms timer ran {late[0]:.2f} s late ({worst[0]:.2f} s of that on the loop's CPU)"
    await runtime.store.flush()
    cached = await runtime.store.load()
    assert len([topic for topic in cached if "/storm_" in topic]) == COUNT
