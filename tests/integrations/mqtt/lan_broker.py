"""Helpers for tests of a hub whose embedded broker listens on the LAN: accounts, logins, publishes.

A test starts the hub with `start_mqtt_hub(yaml=LAN)`, provisions devices over the API with
`owner_headers` and `call`, and probes the real Mosquitto with paho: `connect_code` (the CONNACK
reason, optionally from another loopback source address) and `publish_as`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

LAN = "mqtt:\n  embedded:\n    bind: 0.0.0.0\n    port: 0\n    tls_port: 0\n"


async def owner_headers(runtime: Any) -> dict[str, str]:
    """Add an owner to the hub; return the headers of a long-lived token of theirs."""
    auth = runtime.hub.auth
    auth._rounds = 4
    user = await auth.add_user("owner", "correct horse battery", "owner")
    return {"Authorization": f"Bearer {await auth.create_long_lived_token(user.id, 'test')}"}


async def call(runtime: Any, headers: dict[str, str], method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    """Call the hub's API; return the status and the JSON answer."""
    async with aiohttp.ClientSession() as session, session.request(
            method, f"{runtime.url}{path}", headers=headers, **kwargs) as response:
        return response.status, await response.json()


def connect_code(port: int, username: str | None, password: str | None, client_id: str = "probe",
                 source: str | None = None) -> int:
    """Connect with these credentials (from a loopback source address if given); return the CONNACK reason (0 = accepted)."""
    done: list[int] = []
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    if username is not None:
        client.username_pw_set(username, password)
    client.on_connect = lambda _c, _u, _f, reason, _p: done.append(reason.value)
    client.connect("127.0.0.1", port, bind_address=source or "")
    client.loop_start()
    try:
        for _ in range(100):
            if done:
                break
            time.sleep(0.05)
    finally:
        client.disconnect()
        client.loop_stop()
    return done[0] if done else -1


def publish_as(port: int, username: str, password: str, messages: list[tuple[str, str, bool]]) -> None:
    """Publish (topic, payload, retain) in order over one connection, QoS 1, waiting for each PUBACK."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"{username}-probe")
    client.username_pw_set(username, password)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        for topic, payload, retain in messages:
            client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


async def until(predicate: Any, what: str, timeout: float = 10.0) -> None:
    """Wait until predicate() is true; fail the test naming what did not happen."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
