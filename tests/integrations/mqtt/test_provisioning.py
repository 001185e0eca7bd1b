"""Devices on a LAN broker: provisioning, per-device accounts and topics, revocation (real Mosquitto)."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading

import aiohttp
import pytest

from integrations.mqtt import runtime_of
from integrations.mqtt.dynsec import find_plugin
from tests.integrations.mqtt.conftest import wait_state
from tests.integrations.mqtt.lan_broker import LAN, call, connect_code, owner_headers, publish_as, until

pytestmark = pytest.mark.skipif(shutil.which("mosquitto") is None and not shutil.os.path.exists("/usr/sbin/mosquitto")
                                or find_plugin() is None, reason="mosquitto with dynamic security not installed")

async def test_anonymous_client_on_a_lan_bind_is_refused_and_the_hub_connects(start_mqtt_hub, tmp_path, caplog) -> None:
    runtime = await start_mqtt_hub(yaml=LAN)
    broker = runtime_of(runtime.hub).broker
    assert broker.secured and broker.tls is not None
    await wait_state(runtime.hub, "binary_sensor.mqtt_broker_connected", "on")
    assert await asyncio.to_thread(connect_code, broker.port, None, None) != 0
    assert await asyncio.to_thread(connect_code, broker.port, "powerhub-hub", "guess") != 0
    # The hub's log says who was refused and why.
    await until(lambda: broker.refusals.refused >= 2, "the refusals in the hub's log")
    assert "The MQTT broker refused a client (Mosquitto does not name refused clients) from 127.0.0.1:" in caplog.text
    assert "not authorised" in caplog.text
    # `hub device add` beside the running hub: the broker takes the account at once, no restart.
    import subprocess
    import sys

    result = await asyncio.to_thread(subprocess.run, [
        sys.executable, "-m", "hub", "device", "add", "node-c", "--json", "-c", str(tmp_path / "config"),
        "--data", str(tmp_path / "data")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    password = json.loads(result.stdout)["mqtt"]["password"]
    assert await asyncio.to_thread(connect_code, broker.port, "node-c", password, "node-c") == 0
    assert runtime_of(runtime.hub).provisioner.store.by_device_id("node-c") is not None


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
    # Bad requests name the field and what was expected.
    for body, expected in (
        ({"node_id": "node-a", "kind": "powerhub"}, "exists already"),
        ({"node_id": "a/b", "kind": "powerhub"}, "node_id must be"),
        ({"node_id": "node-x", "kind": "toaster"}, "kind must be one of powerhub, tasmota"),
        ({"node_id": "node-x", "kind": "generic", "colour": "red"}, "Unknown field(s) colour"),
    ):
        status, answer = await call(runtime, headers, "POST", "/api/v1/devices", json=body)
        assert status == 400 and expected in answer["message"], answer
    # A refused request leaves no device behind.
    assert hub.device_registry.get_by_identifier("mqtt", "a/b") is None
    assert hub.device_registry.get_by_identifier("mqtt", "node-x") is None
    auth = hub.auth
    user = await auth.add_user("guest", "correct horse battery", "user")
    guest = {"Authorization": f"Bearer {await auth.create_long_lived_token(user.id, 'guest')}"}
    assert (await call(runtime, guest, "POST", "/api/v1/devices", json={"node_id": "x", "kind": "generic"}))[0] == 401
    assert (await call(runtime, guest, "DELETE", f"/api/v1/devices/{a['id']}"))[0] == 401
    status, _ = await call(runtime, headers, "DELETE", f"/api/v1/devices/{a['id']}")
    assert status == 200
    assert await asyncio.to_thread(connect_code, port, "node-a", a["mqtt"]["password"], "node-a") != 0
    assert (await call(runtime, headers, "DELETE", f"/api/v1/devices/{a['id']}"))[0] == 404
    await hub.auth.audit.flush()
    actions = [(e.action, e.result) for e in await hub.auth.audit.entries()]
    assert ("device.create", "ok") in actions and ("device.delete", "ok") in actions
    assert ("device.create", "refused") in actions


async def test_provisioned_nodes_over_tls_stay_in_their_own_topics(start_mqtt_hub, tmp_path) -> None:
    from firmware.sim.fleet import Fleet

    runtime = await start_mqtt_hub(yaml=LAN + "    host: 127.0.0.1\n")
    hub = runtime.hub
    headers = await owner_headers(runtime)
    answers = {}
    for node_id, name in (("node-a", "Kitchen"), ("node-b", "Garage")):
        status, answers[node_id] = await call(runtime, headers, "POST", "/api/v1/devices",
                                              json={"node_id": node_id, "name": name, "kind": "powerhub"})
        assert status == 201, answers[node_id]
    broker = runtime_of(hub).broker
    config_a = answers["node-a"]["setup"]["config.json"]
    assert config_a["mqtt"]["port"] == broker.tls_port and config_a["mqtt"]["ssl"] is True
    assert config_a["mqtt"]["fingerprint"] == broker.tls.fingerprint
    # The simulator runs the files as the Add device page gives them.
    paths = []
    for node_id, answer in answers.items():
        path = tmp_path / f"{node_id}.json"
        path.write_text(json.dumps(answer["setup"]["config.json"]))
        paths.append(path)
    fleet = Fleet("mqtt://127.0.0.1:1", 0, tmp_path / "fleet")
    for path in paths:
        fleet.add(json.loads(path.read_text()))
    stop = threading.Event()
    thread = threading.Thread(target=fleet.run, args=(stop,), daemon=True)
    thread.start()
    try:
        await until(lambda: hub.states.get("switch.node_a_relay1") is not None
                    and hub.states.get("switch.node_b_relay1") is not None, "both nodes through discovery")
        await until(lambda: hub.states.get("switch.node_b_relay1").state == "off", "node-b's relay state")
        password_a = answers["node-a"]["mqtt"]["password"]
        # node-a's account writes on node-b's state and command topics, then on its own relay state.
        await asyncio.to_thread(publish_as, broker.port, "node-a", password_a, [
            ("devices/node-b/relay1/state", "ON", True),
            ("devices/node-b/relay1/set", "ON", False),
            ("homeassistant/switch/node-b/relay1/config", "{}", True),
            ("devices/node-a/relay1/state", "ON", True),
        ])
        await until(lambda: hub.states.get("switch.node_a_relay1").state == "on", "node-a's own message")
        await asyncio.sleep(0.5)  # node-b's relay would have answered a command by now
        assert hub.states.get("switch.node_b_relay1").state == "off"
        assert fleet.by_id["node-b"].node.relays.state("relay1") in ("OFF", False, "off")
        # Revoked: the node is disconnected at once and cannot log in again.
        status, _ = await call(runtime, headers, "DELETE", f"/api/v1/devices/{answers['node-a']['id']}")
        assert status == 200
        await until(lambda: not fleet.by_id["node-a"].node.connected, "node-a disconnected by the broker")
        assert await asyncio.to_thread(connect_code, broker.port, "node-a", password_a, "node-a") != 0
        await asyncio.sleep(1.0)
        assert not fleet.by_id["node-a"].node.connected
        assert fleet.by_id["node-b"].node.connected
    finally:
        stop.set()
        thread.join(5)
        fleet.close()


async def test_the_web_ui_can_serve_the_brokers_certificate(start_mqtt_hub, tmp_path) -> None:
    """`http: ssl_certificate` pointed at the broker's certificate: one certificate, one CA to trust."""
    import ssl

    tls = tmp_path / "data" / "mqtt_broker" / "tls"
    await start_mqtt_hub.stop(await start_mqtt_hub(yaml=LAN))  # the first LAN start makes the certificates
    runtime = await start_mqtt_hub(yaml=LAN + f"http:\n  ssl_certificate: {tls}/broker.crt\n  ssl_key: {tls}/broker.key\n")
    assert runtime.url.startswith("https://")
    context = ssl.create_default_context(cafile=str(tls / "ca.crt"))
    async with aiohttp.ClientSession() as session, session.get(f"{runtime.url}/api/", ssl=context) as response:
        assert response.status == 401  # TLS verified against the hub's CA; no token sent


async def test_your_own_certificate_replaces_the_hubs(start_mqtt_hub, tmp_path) -> None:
    import ssl

    from integrations.mqtt import broker_tls

    own = tmp_path / "own"
    broker_tls.create(own, ["127.0.0.1"])
    runtime = await start_mqtt_hub(yaml=LAN + f"    certificate: {own}/broker.crt\n    key: {own}/broker.key\n"
                                          f"    ca_certificate: {own}/ca.crt\n")
    broker = runtime_of(runtime.hub).broker
    assert broker.tls.fingerprint == broker_tls.fingerprint((own / "broker.crt").read_bytes())
    context = ssl.create_default_context(cafile=str(own / "ca.crt"))
    context.check_hostname = False
    reader, writer = await asyncio.open_connection("127.0.0.1", broker.tls_port, ssl=context)
    served = writer.get_extra_info("ssl_object").getpeercert(True)
    writer.close()
    assert broker_tls.fingerprint(ssl.DER_cert_to_PEM_cert(served).encode()) == broker.tls.fingerprint
    assert not (tmp_path / "data" / "mqtt_broker" / "tls" / "broker.crt").exists()
