"""A home's plan enforced in a real hub: device and entity limits (MQTT discovery on a real Mosquitto,
POST /api/v1/devices), the `models` feature gate of ONNX sensors, and messages per second."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import pytest

from hub import bootstrap
from hub.core.bus import callback
from hub.core.clock import ManualClock
from hub.core.hub import Hub, HubConfig
from hub.core.scope import HomeScope
from hub.tenancy import limits
from hub.tenancy.plans import PLANS, Plan, plans_from_config, use_plans
from integrations.mqtt.dynsec import find_plugin
from integrations.notify.persistent import store_of
from tests.integrations.onnx.conftest import FIXTURES

# A plan small enough to reach its limits in a test.
TINY = plans_from_config({"tiny": {"limits": {"devices": 2, "entities": 4, "messages_per_second": 5}}})


@pytest.fixture
def start_home(tmp_path: Path, start_hub: Callable[..., Any]) -> Callable[..., Any]:
    """Start hub cores of a home on a plan (tests/hubs.py's start_hub: loop errors fail the test)."""

    async def start(yaml: str, plan: str, plans: dict[str, Plan] | None = None) -> bootstrap.Runtime:
        config_dir = tmp_path / "config"
        config_dir.mkdir(exist_ok=True)
        (config_dir / "configuration.yaml").write_text(textwrap.dedent(yaml))
        runtime: bootstrap.Runtime = await start_hub(config_dir, plan=plan, plans=plans)
        return runtime

    return start


async def until(check: Callable[[], Any], what: str, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def notification(hub: Hub, limit: str) -> str | None:
    store = store_of(hub)
    found = store.get(f"plan_limit_{limit}") if store is not None else None
    return None if found is None else found.message


def sensor_config(name: str, device: str) -> str:
    return json.dumps({"name": name, "unique_id": f"{device}_{name}", "state_topic": f"{device}/{name}",
                       "device": {"identifiers": [device], "name": device}})


@pytest.mark.services
async def test_discovery_refuses_the_device_and_entity_past_the_plan_once_per_topic(
    start_home: Any, mosquitto_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    prefix = "plans_discovery"
    runtime = await start_home(
        f"""\
        persistent_notification:
        mqtt:
          broker: {mosquitto_server.url}
          discovery_prefix: {prefix}
        """,
        "tiny", TINY,
    )
    hub = runtime.hub
    caplog.set_level(logging.WARNING)
    async with aiomqtt.Client(mosquitto_server.host, mosquitto_server.port) as device:
        for name, dev in (("a1", "d1"), ("a2", "d1"), ("b1", "d2"), ("c1", "d3"), ("a3", "d1")):
            await device.publish(f"{prefix}/sensor/{name}/config", sensor_config(name, dev), qos=1)
        await until(lambda: notification(hub, "entities") is not None, "the entity limit's notification")
        # The same config again (a device re-announcing itself): refused again, logged once.
        await device.publish(f"{prefix}/sensor/a3/config", sensor_config("a3", "d1").replace("a3", "a3 "), qos=1)
        await device.publish(f"{prefix}/sensor/a3/config", sensor_config("a3", "d1"), qos=1)
        await asyncio.sleep(0.3)
    assert sorted(s.entity_id for s in hub.states.all() if s.entity_id.startswith("sensor.d")) == [
        "sensor.d1_a1", "sensor.d1_a2", "sensor.d2_b1"]
    # Every registered entity of the home counts, the hub's own too (the broker's connection sensor).
    assert len(hub.device_registry) == 2 and len(hub.entity_registry) == 4
    assert "The plan 'tiny' allows 2 devices per home; home default/default has 2" in notification(hub, "devices")
    assert "The plan 'tiny' allows 4 entities per home; home default/default has 4" in notification(hub, "entities")
    refusals = [r.getMessage() for r in caplog.records if "allows 4 entities" in r.getMessage()]
    assert len(refusals) == 1 and f"{prefix}/sensor/a3/config" in refusals[0]
    assert not [r for r in caplog.records if r.exc_info]  # no traceback: a refusal is not a bug


@pytest.mark.services
@pytest.mark.skipif(find_plugin() is None, reason="mosquitto's dynamic security plugin is not installed")
async def test_provisioning_past_the_plan_answers_403_naming_the_limit(start_home: Any) -> None:
    plans = plans_from_config({"tiny": {"limits": {"devices": 1}}})
    runtime = await start_home("mqtt:\n  embedded:\n    port: 0\n", "tiny", plans)
    auth = runtime.hub.auth
    auth._rounds = 4
    user = await auth.add_user("owner", "correct horse battery", "owner")
    headers = {"Authorization": f"Bearer {await auth.create_long_lived_token(user.id, 'test')}"}
    answers = []
    async with aiohttp.ClientSession(headers=headers) as session:
        for node_id in ("node-a", "node-b"):
            body = {"node_id": node_id, "kind": "powerhub"}
            async with session.post(f"{runtime.url}/api/v1/devices", json=body) as response:
                answers.append((response.status, await response.json()))
    assert answers[0][0] == 201
    status, refused = answers[1]
    assert status == 403
    assert refused == {"message": "The plan 'tiny' allows 1 devices per home; home default/default has 1. "
                       "Remove some or move the tenant to a larger plan.",
                       "plan": "tiny", "limit": "devices", "allowed": 1}
    assert runtime.hub.device_registry.get_by_identifier("mqtt", "node-b") is None
    await auth.audit.flush()
    assert ("device.create", "refused") in [(e.action, e.result) for e in await auth.audit.entries()]


ONNX = """\
persistent_notification:
onnx:
  - name: Power sum
    model: sum4.onnx
    inputs: sensor.power
    window: {samples: 4}
    output: y
"""


@pytest.mark.parametrize(("plan", "allowed"), [("starter", False), ("professional", True), (None, True)])
async def test_model_sensors_need_a_plan_with_models(start_home: Any, tmp_path: Path, plan: str | None, allowed: bool,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "config").mkdir()
    shutil.copy(FIXTURES / "sum4.onnx", tmp_path / "config" / "sum4.onnx")
    runtime = await start_home(ONNX, plan)
    hub = runtime.hub
    assert (hub.states.get("sensor.power_sum") is not None) is allowed
    if allowed:
        assert notification(hub, "models") is None
        return
    # The home runs on; its users learn which plan lacks which feature.
    await until(lambda: notification(hub, "models") is not None, "the notification")
    message = notification(hub, "models")
    assert "The plan 'starter' of home default/default does not include the feature 'models' (ONNX model sensors)" in message
    assert "a plan that does: industrial, professional" in message
    assert "does not include the feature 'models'" in caplog.text


async def test_messages_over_the_plan_rate_are_dropped_counted_and_warned_once_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub = Hub(HubConfig(plan="tiny", scope=HomeScope("acme", "flat")))
    hub.clock = clock = ManualClock(1_700_000_000.0)
    use_plans(hub, TINY)
    limits.apply(hub)
    gate = limits.message_gate(hub, "homeassistant")
    assert gate is not None
    reading = type("Message", (), {"topic": "devices/n1/power"})()
    config = type("Message", (), {"topic": "homeassistant/sensor/x/config"})()
    caplog.set_level(logging.WARNING)
    assert [gate(reading) for _ in range(8)] == [True] * 5 + [False] * 3
    assert gate(config)  # discovery configs define entities: never dropped, never counted
    await clock.advance(1.0)
    assert [gate(reading) for _ in range(7)] == [True] * 5 + [False] * 2
    rate = limits.message_rate(hub)
    assert rate is not None and rate.dropped == 5
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert "Home acme/flat is over its plan 'tiny' limit of 5 messages per second" in warnings[0]
    await clock.advance(60.0)
    for _ in range(6):
        gate(reading)
    assert len(caplog.records) == 2 and rate.dropped == 6
    (metric,) = limits.metrics(hub)
    assert metric.name == "hub_plan_messages_dropped"
    assert [(s.labels, s.value) for s in metric.samples if s.name.endswith("_total")] == [
        ({"home": "acme/flat", "plan": "tiny"}, 6.0)]


def test_a_home_without_a_plan_installs_no_check() -> None:
    hub = Hub(HubConfig())
    limits.apply(hub)
    assert limits.message_gate(hub, "homeassistant") is None and limits.message_rate(hub) is None
    limits.require_feature(hub, "models")  # every feature
    industrial = Hub(HubConfig(plan="industrial"))
    limits.require_feature(industrial, "models")
    assert PLANS["industrial"].limits.messages_per_second is not None


@pytest.mark.services
async def test_readings_over_the_rate_from_a_real_broker_are_dropped_and_counted(
    start_home: Any, mosquitto_server: Any
) -> None:
    prefix = "plans_rate"
    runtime = await start_home(
        f"mqtt:\n  broker: {mosquitto_server.url}\n  discovery_prefix: {prefix}\n", "tiny", TINY)
    hub = runtime.hub
    async with aiomqtt.Client(mosquitto_server.host, mosquitto_server.port) as device:
        await device.publish(f"{prefix}/sensor/p/config", sensor_config("p", "d1"), qos=1)
        await until(lambda: hub.states.get("sensor.d1_p") is not None, "the discovered sensor")
        seen: list[str] = []
        hub.states.track("sensor.d1_p", callback(lambda event: seen.append(event.data["new_state"].state)))
        for value in range(40):
            await device.publish("d1/p", str(value), qos=0)
        await device.publish("d1/p", "done", qos=1)
    rate = limits.message_rate(hub)
    assert rate is not None
    await until(lambda: rate.dropped + len(seen) >= 40, "every reading handled or dropped", timeout=5)
    # 41 readings within a second or two: at most 5 a second got through, the rest were counted.
    assert rate.dropped >= 41 - 10 and len(seen) <= 10
    assert rate.dropped + len(seen) == 41


async def test_http_ingest_past_the_entity_limit_answers_403_naming_it(start_home: Any) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from integrations.http_ingest.keys import hash_key
    from integrations.http_ingest.models import DeviceApiKeyRow

    plans = plans_from_config({"tiny": {"limits": {"entities": 2}}})
    runtime = await start_home("http_ingest:\n", "tiny", plans)
    raw = "phk_" + "P" * 43
    async with runtime.hub.db() as session, session.begin():
        await session.execute(insert(DeviceApiKeyRow).values(
            id="meter", name="Barn meter", key_hash=hash_key(raw), prefix=raw[:10], created_by=None,
            created_at=datetime.now(UTC), expires_at=None, last_used_at=None, usage_count=0, revoked_at=None,
            device="barn", backfill_days=7.0))
    answers = []
    async with aiohttp.ClientSession(headers={"X-API-Key": raw}) as http:
        for measurements in ({"kwh": 3, "volts": 230}, {"amps": 2}):
            async with http.post(f"{runtime.url}/api/v1/telemetry", json={"device": "barn",
                                                                           "measurements": measurements}) as response:
                answers.append((response.status, await response.json()))
    assert answers[0][0] == 201
    assert answers[1] == (403, {"message": "The plan 'tiny' allows 2 entities per home; home default/default has 2. "
                                "Remove some or move the tenant to a larger plan.",
                                "plan": "tiny", "limit": "entities", "allowed": 2})
    assert runtime.hub.states.get("sensor.barn_amps") is None
