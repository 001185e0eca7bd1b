"""10,000 retained discovery configs on a Mosquitto with its default settings: every one becomes an entity.

A stock Mosquitto queues at most 1,000 messages (`max_queued_messages`) and keeps 20 in flight
per client; discovery is subscribed at QoS 0, as Home Assistant does, so those limits never drop
a config. (On the Mosquitto 2.0.11 here the retained configs sent at a QoS 1 subscription were
not dropped either in this test: it guards the outcome, all 10,000, not the QoS.)
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import aiomqtt
import pytest

from integrations.mqtt import runtime_of
from tests.integrations.mqtt.conftest import CLIENT_ENV, mqtt_config
from tests.servers import MosquittoServer, _find_binary, _missing, launch_mosquitto

pytestmark = [pytest.mark.services, pytest.mark.timeout(240)]

COUNT = 10_000


@pytest.fixture(params=["gmqtt"])
def mqtt_client_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The default client only: ~25 s a run, and the subscription's QoS is discovery's, not the backend's."""
    monkeypatch.setenv(CLIENT_ENV, request.param)
    return str(request.param)


@pytest.fixture(scope="module")
def stock_mosquitto() -> Iterator[MosquittoServer]:
    """Mosquitto with nothing but a listener: its default queue and in-flight limits."""
    if _find_binary("mosquitto") is None:
        _missing("mosquitto not installed: apt-get install mosquitto")
    server = launch_mosquitto("hub-mqtt-stock-", lines=["allow_anonymous true", "log_dest stderr", "log_type error",
                                                         "log_type warning"])
    try:
        yield server
    finally:
        server.close()


async def test_ten_thousand_retained_configs_all_become_entities(start_mqtt_hub, stock_mosquitto, prefix) -> None:
    began = time.monotonic()
    async with aiomqtt.Client(stock_mosquitto.host, stock_mosquitto.port) as client:
        for i in range(COUNT):
            config = {"name": f"Scale {i}", "unique_id": f"scale_{i}", "state_topic": f"scale/{prefix}/{i}"}
            await client.publish(f"{prefix}/sensor/scale_{i}/config", json.dumps(config), qos=0, retain=True)
        # Every config is retained once the broker answers a later QoS 1 publish (one connection, in order).
        await client.publish(f"{prefix}/done", b"", qos=1)
    published = time.monotonic()
    runtime = await start_mqtt_hub(yaml=mqtt_config(stock_mosquitto.url, prefix))
    discovery = runtime_of(runtime.hub).discovery
    deadline = time.monotonic() + 150
    while len(discovery.entities) < COUNT and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    await discovery.wait_idle()
    print(f"published in {published - began:.1f} s, discovered in {time.monotonic() - published:.1f} s")
    assert len(discovery.entities) == COUNT
    assert len([s for s in runtime.hub.states.all("sensor") if s.entity_id.startswith("sensor.scale_")]) == COUNT
