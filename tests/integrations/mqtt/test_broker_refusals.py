"""Refused broker logins reach the hub's log, one line each, with what can be known of the client."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from integrations.mqtt import runtime_of
from integrations.mqtt.broker_log import RefusalRelay
from tests.integrations.mqtt.conftest import CLIENT_ENV
from tests.integrations.mqtt.lan_broker import LAN, call, connect_code, owner_headers, until


@pytest.fixture(autouse=True)
def mqtt_client_backend(monkeypatch: pytest.MonkeyPatch) -> str:
    """The broker's log does not depend on the hub's MQTT library: one backend is enough here."""
    monkeypatch.setenv(CLIENT_ENV, "gmqtt")
    return "gmqtt"


def connect_from(source: str, port: int, username: str | None, password: str | None, client_id: str) -> int:
    """Connect from a source address of the loopback network (127.0.0.0/8); return the CONNACK reason."""
    return connect_code(port, username, password, client_id, source=source)


def refusals(caplog: pytest.LogCaptureFixture, source: str) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "integrations.mqtt.broker" and f"from {source}:" in r.getMessage()]


async def test_wrong_password_unknown_user_and_revoked_account_each_log_one_line(start_mqtt_hub, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="integrations.mqtt.broker")
    runtime = await start_mqtt_hub(yaml=LAN)
    broker = runtime_of(runtime.hub).broker
    headers = await owner_headers(runtime)
    status, a = await call(runtime, headers, "POST", "/api/v1/devices", json={"node_id": "node-a", "kind": "powerhub"})
    assert status == 201, a
    password = a["mqtt"]["password"]
    assert await asyncio.to_thread(connect_from, "127.0.0.2", broker.port, "node-a", password, "node-a") == 0

    # node-a's address, a wrong password: named by its last login, and the reason.
    assert await asyncio.to_thread(connect_from, "127.0.0.2", broker.port, "node-a", "wrong", "node-a") != 0
    await until(lambda: refusals(caplog, "127.0.0.2"), "the refusal in the hub's log")
    [line] = refusals(caplog, "127.0.0.2")
    assert "last accepted from this address as client node-a, username node-a" in line
    assert "from 127.0.0.2:" in line and f"(port {broker.port})" in line
    assert "not authorised, a wrong password for account 'node-a'" in line

    # An unknown user from an address never accepted: the address and the reason Mosquitto gives.
    assert await asyncio.to_thread(connect_from, "127.0.0.3", broker.port, "ghost", "boo", "ghost-1") != 0
    await until(lambda: refusals(caplog, "127.0.0.3"), "the second refusal")
    [line] = refusals(caplog, "127.0.0.3")
    assert "refused a client (Mosquitto does not name refused clients) from 127.0.0.3:" in line
    assert "not authorised, no such account, a wrong password or no credentials" in line
    assert "Traceback" not in caplog.text

    # Revoked: the device's next attempt says its account is gone.
    assert (await call(runtime, headers, "DELETE", f"/api/v1/devices/{a['id']}"))[0] == 200
    caplog.clear()
    assert await asyncio.to_thread(connect_from, "127.0.0.2", broker.port, "node-a", password, "node-a") != 0
    await until(lambda: refusals(caplog, "127.0.0.2"), "the refusal after the revocation")
    [line] = refusals(caplog, "127.0.0.2")
    assert "account 'node-a' does not exist (never added, or removed)" in line
    assert broker.refusals is not None and broker.refusals.refused == 3


def test_newer_mosquitto_lines_name_the_client(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Releases after Debian's 2.0.11 name the refused client and its address on one line."""
    caplog.set_level(logging.WARNING, logger="integrations.mqtt.broker")
    relay = RefusalRelay(tmp_path / "mosquitto.log", lambda username: username == "plug-1", frozenset({"powerhub-hub"}))
    relay.feed(
        "1: New connection from 192.168.1.5:52097 on port 1883.\n"
        "1: Client plug-1 [192.168.1.5:52097] disconnected: not authorised.\n"
        "2: New connection from 192.168.1.6:40000 on port 8883.\n"
        "2: Client DVES_1A2B [192.168.1.6:40000] disconnected: not authorised.\n"
    )
    assert relay.refused == 2 and relay.pending == {}
    assert relay.lines[0].startswith("The MQTT broker refused client plug-1 from 192.168.1.5:52097 (port 1883): "
                                     "not authorised, a wrong password for account 'plug-1'")
    assert relay.lines[1].startswith("The MQTT broker refused client DVES_1A2B from 192.168.1.6:40000 (port 8883): "
                                     "not authorised, no such account, a wrong password or no credentials")
    assert len(caplog.records) == 2


def test_the_hubs_own_logins_never_name_a_refused_client(tmp_path: Path) -> None:
    relay = RefusalRelay(tmp_path / "mosquitto.log", lambda _u: False, frozenset({"powerhub-hub"}))
    relay.feed(
        "1: New connection from 127.0.0.1:1000 on port 1883.\n"
        "1: New client connected from 127.0.0.1:1000 as powerhub-abc (p2, c0, k60, u'powerhub-hub').\n"
        "2: New connection from 127.0.0.1:1001 on port 1883.\n"
        "2: Client <unknown> disconnected, not authorised.\n"
    )
    assert "powerhub-abc" not in relay.lines[0]
    assert "from 127.0.0.1:1001 (port 1883)" in relay.lines[0]
