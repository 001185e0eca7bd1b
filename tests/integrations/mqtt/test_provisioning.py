"""Devices on a LAN broker: provisioning, per-device accounts and topics, revocation (real Mosquitto)."""

from __future__ import annotations

import asyncio
import shutil
from typing import Any

import aiohttp
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from integrations.mqtt import runtime_of
from integrations.mqtt.dynsec import find_plugin
from tests.integrations.mqtt.conftest import wait_state

pytestmark = pytest.mark.skipif(shutil.which("mosquitto") is None and not shutil.os.path.exists("/usr/sbin/mosquitto")
                                or find_plugin() is None, reason="mosquitto with dynamic security not installed")

LAN = "mqtt:\n  embedded:\n    bind: 0.0.0.0\n    port: 0\n    tls_port: 0\n"


async def owner_headers(runtime: Any) -> dict[str, str]:
    auth = runtime.hub.auth
    auth._rounds = 4
    user = await auth.add_user("owner", "correct horse battery", "owner")
    return {"Authorization": f"Bearer {await auth.create_long_lived_token(user.id, 'test')}"}


async def call(runtime: Any, headers: dict[str, str], method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.request(
            method, f"{runtime.url}{path}", headers=headers, **kwargs) as response:
        return response.status, await response.json()


def connect_code(port: int, username: str | None, password: str | None, client_id: str = "probe") -> int:
    """Connect with these credentials and return the CONNACK reason (0 = accepted)."""
    done: list[int] = []
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    if username is not None:
        client.username_pw_set(username, password)
    client.on_connect = lambda _c, _u, _f, reason, _p: done.append(reason.value)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        for _ in range(100):
            if done:
                break
            import time
            time.sleep(0.05)
    finally:
        client.disconnect()
        client.loop_stop()
    return done[0] if done else -1


async def test_anonymous_client_on_a_lan_bind_is_refused_and_the_hub_connects(start_mqtt_hub) -> None:
    runtime = await start_mqtt_hub(yaml=LAN)
    broker = runtime_of(runtime.hub).broker
    assert broker.secured and broker.tls is not None
    await wait_state(runtime.hub, "binary_sensor.mqtt_broker_connected", "on")
    assert await asyncio.to_thread(connect_code, broker.port, None, None) != 0
    assert await asyncio.to_thread(connect_code, broker.port, "powerhub-hub", "guess") != 0


async def test_provision_connect_revoke(start_mqtt_hub) -> None:
    runtime = await start_mqtt_hub(yaml=LAN)
    hub = runtime.hub
    headers = await owner_headers(runtime)
    status, a = await call(runtime, headers, "POST", "/api/v1/devices",
                           json={"node_id": "node-a", "name": "Kitchen", "location": "kitchen", "kind": "powerhub"})
    assert status == 201, a
    assert a["mqtt"]["username"] == "node-a" and len(a["mqtt"]["password"]) >= 16
    assert "devices/node-a/#" in a["topics"]["publish"]
    port = runtime_of(hub).broker.port
    assert await asyncio.to_thread(connect_code, port, "node-a", a["mqtt"]["password"], "node-a") == 0
    assert await asyncio.to_thread(connect_code, port, "node-a", "wrong", "node-a") != 0
    status, _ = await call(runtime, headers, "DELETE", f"/api/v1/devices/{a['id']}")
    assert status == 200
    assert await asyncio.to_thread(connect_code, port, "node-a", a["mqtt"]["password"], "node-a") != 0
