"""A seeded, bounded fuzz campaign: ~2,000 hostile cases per surface, no 500, no traceback, no stall.

MQTT discovery configs and state payloads through a real Mosquitto, WebSocket frames after
auth, and HTTP requests with bad bodies, paths and content types. Throughout, another client's
get_states must be answered within a second. The same generators run longer, with any seed,
in bench/fuzz.py (`.venv/bin/python bench/fuzz.py --cases 50000 --seed 7`).
"""

from __future__ import annotations

import asyncio
import textwrap
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from tests.api.conftest import DEVICES, PASSWORD
from tests.hubs import write_config
from tests.security.fuzzer import Findings, fuzz_http, fuzz_mqtt, fuzz_ws, watching

pytestmark = pytest.mark.services

SEED = 20261203
CASES = 2000


@dataclass
class Target:
    runtime: Any
    prefix: str
    broker: Any
    tokens: dict[str, str]

    @property
    def url(self) -> str:
        return str(self.runtime.url)


@pytest.fixture
async def target(tmp_path: Path, start_hub: Any, mosquitto_server: Any) -> AsyncIterator[Target]:
    prefix = f"fuzz_{uuid.uuid4().hex[:8]}"
    config = write_config(tmp_path / "config", textwrap.dedent(f"""\
        testdevices:
        http_ingest:
        mqtt:
          broker: {mosquitto_server.url}
          discovery_prefix: {prefix}
        """), {"testdevices": DEVICES})
    runtime = await start_hub(config)
    auth = runtime.hub.auth
    auth._rounds = 4
    tokens = {}
    for role in ("owner", "user", "read-only"):
        user = await auth.add_user(role, PASSWORD, role)
        tokens[role] = await auth.create_long_lived_token(user.id, role)
    yield Target(runtime, prefix, mosquitto_server, tokens)


def _check(findings: Findings) -> None:
    assert findings.cases >= CASES
    assert not findings.failures, "\n".join(findings.failures)
    assert findings.slowest_get_states < 1.0


async def test_fuzz_mqtt_discovery_and_state_payloads(target: Target) -> None:
    from integrations.mqtt import runtime_of

    findings = Findings()
    mqtt = runtime_of(target.runtime.hub)
    assert mqtt is not None and mqtt.discovery is not None
    async with AsyncExitStack() as stack:
        device = [await stack.enter_async_context(aiomqtt.Client(target.broker.host, target.broker.port))]

        async def publish(topic: str, payload: bytes) -> None:
            try:
                await device[0].publish(topic, payload, qos=0)
            except aiomqtt.MqttError:
                # The broker refused the topic and dropped the publisher; nothing reached the hub.
                device[0] = await stack.enter_async_context(aiomqtt.Client(target.broker.host, target.broker.port))

        async with watching(target.url, target.tokens["owner"], findings):
            await fuzz_mqtt(publish, target.prefix, SEED, CASES, findings, mqtt.discovery.wait_idle)
    _check(findings)
    # The hub still discovers a good config after all that.
    async with aiomqtt.Client(target.broker.host, target.broker.port) as device:
        await device.publish(f"{target.prefix}/sensor/after/config", b'{"name": "After", "state_topic": "after/s"}')
        await device.publish("after/s", b"42")  # may arrive before the subscription: retried below
        for _ in range(300):
            state = target.runtime.hub.states.get("sensor.after")
            if state is not None and state.state == "42":
                break
            if state is not None:
                await device.publish("after/s", b"42")
            await mqtt.discovery.wait_idle()
            await asyncio.sleep(0.02)
        assert target.runtime.hub.states.get("sensor.after").state == "42"


async def test_fuzz_websocket_messages_after_auth(target: Target) -> None:
    findings = Findings()
    async with watching(target.url, target.tokens["owner"], findings):
        await fuzz_ws(target.url, target.tokens["owner"], SEED, CASES // 2, findings)
        await fuzz_ws(target.url, target.tokens["user"], SEED + 1, CASES // 2, findings)
    _check(findings)


async def test_fuzz_rest_bodies_paths_and_content_types(target: Target) -> None:
    findings = Findings()
    tokens: list[str | None] = [target.tokens["owner"], target.tokens["owner"], target.tokens["user"],
                                target.tokens["read-only"], None, "not-a-token"]
    async with watching(target.url, target.tokens["owner"], findings):
        await fuzz_http(target.url, tokens, SEED, CASES, findings)
    _check(findings)
