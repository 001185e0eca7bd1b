"""Each home's devices live under its topic root, with accounts that reach nothing else: a device
of one home cannot publish into another's (real Mosquitto with its dynamic-security plugin,
administered by the hub's homes as docs/mqtt.md "Your own broker" describes). The same node id in
two homes is two accounts, `<tenant>.<home>.<node>`, each held to its own home's root."""

from __future__ import annotations

import asyncio
import json
import shutil
import textwrap
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from hub import bootstrap, cli
from hub.exceptions import HubError
from integrations.mqtt import api, runtime_of
from tests.homes.conftest import grant_roles, make_roles
from tests.hubs import write_config
from tests.integrations.mqtt.lan_broker import connect_code
from tests.integrations.mqtt.test_provisioning import call, until
from tests.integrations.mqtt.test_topic_root import _watch
from tests.ops.test_deploy import _start_shipped_mosquitto

pytestmark = pytest.mark.skipif(shutil.which("mosquitto_ctrl") is None,
                                reason="mosquitto (with mosquitto_ctrl) not installed")


def _connect_as(port: int, mqtt: dict[str, Any]) -> paho.Client:
    """Connect with a provisioned device's own username, password and client id; wait for the CONNACK."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=mqtt["client_id"])
    client.username_pw_set(mqtt["username"], mqtt["password"])
    client.connect("127.0.0.1", port)
    client.loop_start()
    for _ in range(100):
        if client.is_connected():
            break
        time.sleep(0.05)
    assert client.is_connected(), mqtt["username"]
    return client


async def test_the_same_node_id_in_two_homes_gets_two_accounts_each_held_to_its_home(
        tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    process, port = _start_shipped_mosquitto(tmp_path, "hub", "hub-password")
    runtime = None
    clients: list[Any] = []
    try:
        roles = await make_roles(pg_url)
        config = write_config(tmp_path / "config", roles.storage_yaml() + textwrap.dedent(f"""\
            mqtt:
              broker: mqtt://127.0.0.1:{port}
              username: hub
              password: hub-password
              provisioning: {{host: 127.0.0.1, port: {port}}}
            homes:
              - id: flat-a
                tenant: acme
                topic_root: acme/flat-a/
                members: {{alice: owner}}
              - id: villa
                tenant: zenith
                topic_root: zenith/villa/
                members: {{carol: owner}}
            """))
        runtime = await bootstrap.start(config, tmp_path / "data", port=0, checked=await grant_roles(roles, config))
        homes = runtime.homes
        assert homes is not None
        flat, villa = homes.get("flat-a"), homes.get("villa")
        assert flat is not None and villa is not None
        headers = {}
        for name, home in (("alice", flat), ("carol", villa)):
            user = await home.auth.add_user(name, "correct horse battery", "user")  # an owner as `homes:` says
            headers[name] = {"Authorization": f"Bearer {await home.auth.create_long_lived_token(user.id, 't')}"}
        # Each home's owner adds a node `kitchen`: neither refuses nor overwrites the other's.
        status, a = await call(runtime, headers["alice"], "POST", "/api/v1/devices",
                               json={"node_id": "kitchen", "name": "Kitchen", "kind": "powerhub"})
        assert status == 201, a
        status, v = await call(runtime, headers["carol"], "POST", "/api/v1/devices",
                               json={"node_id": "kitchen", "name": "Kitchen", "kind": "powerhub"})
        assert status == 201, v
        # Its broker account (username and client id) carries its home; its topics hang under its root.
        assert (a["mqtt"]["username"], a["mqtt"]["client_id"]) == ("acme.flat-a.kitchen",) * 2
        assert (v["mqtt"]["username"], v["mqtt"]["client_id"]) == ("zenith.villa.kitchen",) * 2
        assert a["setup"]["config.json"]["mqtt"]["client_id"] == "acme.flat-a.kitchen"
        assert a["topic_root"] == "acme/flat-a/" and "acme/flat-a/devices/kitchen/#" in a["topics"]["publish"]
        assert a["setup"]["config.json"]["discovery_prefix"] == "acme/flat-a/homeassistant"
        assert "zenith/villa/devices/kitchen/#" in v["topics"]["publish"]
        # The other home's device is nowhere in this one.
        status, _ = await call(runtime, {**headers["carol"], "X-Home-Id": "villa"}, "GET", f"/api/v1/devices/{a['id']}")
        assert status == 404
        status, listed = await call(runtime, headers["carol"], "GET", "/api/v1/devices")
        assert status == 200 and "acme.flat-a" not in json.dumps(listed) and "acme/flat-a" not in json.dumps(listed)

        # Both nodes are online at once with their own client ids: neither takes the other's session.
        node_a = await asyncio.to_thread(_connect_as, port, a["mqtt"])
        clients.append(node_a)
        node_v = await asyncio.to_thread(_connect_as, port, v["mqtt"])
        clients.append(node_v)

        def config_of(name: str, unique_id: str) -> str:
            return json.dumps({"name": name, "unique_id": unique_id, "command_topic": "x/set"})

        # Each publishes under its own root: a discovery config makes an entity in its own home.
        node_a.publish("acme/flat-a/homeassistant/switch/kitchen/probe/config", config_of("Probe A", "pa"), qos=1
                       ).wait_for_publish(5)
        node_v.publish("zenith/villa/homeassistant/switch/kitchen/probe/config", config_of("Probe V", "pv"), qos=1
                       ).wait_for_publish(5)
        await until(lambda: flat.hub.states.get("switch.probe_a") is not None, "flat-a's kitchen's own config")
        await until(lambda: villa.hub.states.get("switch.probe_v") is not None, "villa's kitchen's own config")
        # Into the other home's root (the same node id there): the broker drops it, and refuses to let it listen.
        node_a.publish("zenith/villa/homeassistant/switch/kitchen/intruder/config", config_of("Intruder A", "ia"),
                       qos=1).wait_for_publish(5)
        node_a.publish("zenith/villa/devices/kitchen/relay1/set", "ON", qos=1).wait_for_publish(5)
        node_v.publish("acme/flat-a/homeassistant/switch/kitchen/intruder/config", config_of("Intruder V", "iv"),
                       qos=1).wait_for_publish(5)
        for node, foreign in ((a, "zenith/villa/#"), (v, "acme/flat-a/#")):
            seen: list[str] = []
            spy, granted = await asyncio.to_thread(_watch, port, node["mqtt"]["username"], node["mqtt"]["password"],
                                                   foreign, seen)
            clients.append(spy)
            await until(lambda granted=granted: granted, "the SUBACK")
            assert granted == [128], (node["mqtt"]["username"], foreign)
        # What they sent into the other's root before their second own message did not arrive.
        node_a.publish("acme/flat-a/homeassistant/switch/kitchen/probe2/config", config_of("Probe A two", "pa2"),
                       qos=1).wait_for_publish(5)
        node_v.publish("zenith/villa/homeassistant/switch/kitchen/probe2/config", config_of("Probe V two", "pv2"),
                       qos=1).wait_for_publish(5)
        await until(lambda: flat.hub.states.get("switch.probe_a_two") is not None, "flat-a's second config")
        await until(lambda: villa.hub.states.get("switch.probe_v_two") is not None, "villa's second config")
        assert villa.hub.states.get("switch.intruder_a") is None and flat.hub.states.get("switch.intruder_v") is None
        assert {s.entity_id for s in villa.hub.states.all() if s.entity_id.startswith("switch.")} == {
            "switch.probe_v", "switch.probe_v_two"}
        assert node_a.is_connected() and node_v.is_connected()

        # Nor does the hub read or write one home's topics for another: flat-a's connection is held to
        # its root whoever asks (a discovery config's state_topic, an integration, the mqtt.publish service).
        villa_commands: list[str] = []
        node_v.on_message = lambda _c, _u, m: villa_commands.append(m.topic)
        node_v.subscribe("zenith/villa/devices/kitchen/+/set", qos=1)
        mqtt_a = api(flat.hub)
        assert mqtt_a is not None
        overheard: list[str] = []
        mqtt_a.subscribe("zenith/villa/#", lambda m: overheard.append(m.topic))
        node_a.publish("acme/flat-a/homeassistant/sensor/kitchen/spy/config", json.dumps(
            {"name": "Spy", "unique_id": "spy", "state_topic": "zenith/villa/devices/kitchen/power"}), qos=1
                       ).wait_for_publish(5)
        await until(lambda: flat.hub.states.get("sensor.spy") is not None, "flat-a's spy sensor")
        with pytest.raises(HubError, match="under 'acme/flat-a/'"):
            await flat.hub.services.call("mqtt", "publish", {"topic": "zenith/villa/devices/kitchen/relay1/set",
                                                             "payload": "ON", "qos": 1})
        await villa.hub.services.call("mqtt", "publish", {"topic": "zenith/villa/devices/kitchen/relay2/set",
                                                          "payload": "ON", "qos": 1})
        node_v.publish("zenith/villa/devices/kitchen/power", "4242", qos=1).wait_for_publish(5)
        node_v.publish("zenith/villa/homeassistant/switch/kitchen/probe3/config", config_of("Probe V three", "pv3"),
                       qos=1).wait_for_publish(5)
        await until(lambda: villa.hub.states.get("switch.probe_v_three") is not None, "villa's third config")
        await until(lambda: villa_commands, "villa's own command")
        assert villa_commands == ["zenith/villa/devices/kitchen/relay2/set"]
        assert overheard == []
        assert flat.hub.states.get("sensor.spy").state != "4242"  # type: ignore[union-attr]

        # From a shell: `hub device add --home` makes the account the home's UI would, on the running broker.
        where = ["-c", str(config), "--data", str(tmp_path / "data"), "--host", "127.0.0.1"]
        capsys.readouterr()
        assert await asyncio.to_thread(cli.main, ["device", "add", "pantry", "--home", "villa", "--json", *where]) == 0
        pantry = json.loads(capsys.readouterr().out)
        assert pantry["mqtt"]["username"] == "zenith.villa.pantry" and pantry["topic_root"] == "zenith/villa/"
        # Kept in villa's own store (its data dir), not in the process's nor in flat-a's.
        villa_mqtt, flat_mqtt = runtime_of(villa.hub), runtime_of(flat.hub)
        assert villa_mqtt is not None and flat_mqtt is not None
        assert villa_mqtt.provisioner.store.by_device_id("pantry") is not None
        assert flat_mqtt.provisioner.store.by_device_id("pantry") is None
        assert await asyncio.to_thread(connect_code, port, "zenith.villa.pantry", pantry["mqtt"]["password"],
                                       "zenith.villa.pantry") == 0
        # Without --home, or with a home the store does not have, it says which homes there are.
        assert await asyncio.to_thread(cli.main, ["device", "add", "pantry2", *where]) == 1
        assert await asyncio.to_thread(cli.main, ["device", "add", "pantry2", "--home", "attic", *where]) == 1
        printed = capsys.readouterr()
        assert "name one with --home (homes: flat-a (flat-a, acme), villa (villa, zenith))" in printed.err
        assert "--home attic: no such home (homes: flat-a (flat-a, acme), villa (villa, zenith))" in printed.err
    finally:
        for client in clients:
            client.loop_stop()
            client.disconnect()
        if runtime is not None:
            await bootstrap.stop(runtime)
        process.terminate()
        process.wait(5)
