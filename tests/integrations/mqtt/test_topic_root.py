"""`mqtt: topic_root:`: every device topic hangs under one root, and a device of one root cannot
reach another's (real Mosquitto with its dynamic-security plugin, the firmware simulator)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from hub.config.check import validate_section
from integrations.mqtt import api, dynsec, runtime_of
from integrations.mqtt.config import CONFIG_SCHEMA
from integrations.mqtt.provisioner import Provisioner, setup_for
from integrations.mqtt.provisioning import KINDS, DeviceStore, device_acl
from tests.integrations.mqtt.conftest import CLIENT_ENV
from tests.integrations.mqtt.lan_broker import LAN, call, connect_code, owner_headers, publish_as, until


@pytest.fixture(autouse=True)
def mqtt_client_backend(monkeypatch: pytest.MonkeyPatch) -> str:
    """Topic strings do not depend on the MQTT library: one backend is enough here."""
    monkeypatch.setenv(CLIENT_ENV, "gmqtt")
    return "gmqtt"


@pytest.mark.parametrize("value", ["", "home1/", "site-2/home_1/", "a.b/"])
def test_valid_roots_are_kept(value: str) -> None:
    assert CONFIG_SCHEMA({"topic_root": value})["topic_root"] == value
    assert CONFIG_SCHEMA({})["topic_root"] == ""


@pytest.mark.parametrize(("value", "expected"), [
    ("home1", 'must end with "/"'),
    ("home/+/", "a wildcard"),
    ("#/", "a wildcard"),
    ("/home1/", "an empty topic word"),
    ("home1//", "an empty topic word"),
    ("$SYS/", "'$SYS'"),
    ("h me/", "'h me'"),
    (5, "expected empty, or topic words"),
])
def test_a_bad_root_is_refused_naming_the_field_and_what_is_expected(tmp_path: Path, value: Any, expected: str) -> None:
    from hub.config.loader import load_yaml

    (tmp_path / "configuration.yaml").write_text(f"mqtt:\n  discovery: true\n  topic_root: {json.dumps(value)}\n")
    section = load_yaml(tmp_path / "configuration.yaml")["mqtt"]
    validated, issues = validate_section("mqtt", CONFIG_SCHEMA, section, base_dir=tmp_path)
    assert validated is None and len(issues) == 1
    text = str(issues[0])
    assert text.startswith("configuration.yaml:3: mqtt.topic_root: "), text
    assert expected in text


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_of_device_gets_its_topics_under_the_root(kind: str) -> None:
    """All a device may use is under its root, but for discovery (under the discovery prefix)."""
    acl = device_acl(kind, "node-a", "homeassistant", "home1/")
    plain = device_acl(kind, "node-a", "homeassistant", "")
    for rooted, unrooted in ((acl.publish, plain.publish), (acl.subscribe, plain.subscribe)):
        for topic, without in zip(rooted, unrooted, strict=True):
            if without.startswith("homeassistant/"):
                assert topic == without
            else:
                assert topic == "home1/" + without


def test_the_settings_each_kind_is_given_use_the_root(tmp_path: Path) -> None:
    store = DeviceStore(tmp_path)
    provisioner = Provisioner(store, None, "homeassistant", "192.0.2.1", {"port": 1883}, root="home1/")
    answers = {}
    for kind in KINDS:
        device, password = store.add(f"n-{kind}", None, kind, root="home1/")
        answers[kind] = provisioner.configuration(device, password)
        assert answers[kind]["topic_root"] == "home1/"
    config = answers["powerhub"]["setup"]["config.json"]
    assert config["topic_root"] == "home1/"
    from firmware import topics
    from firmware.config import validate

    assert topics.state("n-powerhub", validate(config)["topic_root"]) == "home1/devices/n-powerhub/state"
    assert "FullTopic home1/%prefix%/%topic%/" in answers["tasmota"]["setup"]["console"][0]
    assert "topic_prefix: home1/n-esphome\n" in answers["esphome"]["setup"]["yaml"]
    assert "base_topic: home1/n-zigbee2mqtt\n" in answers["zigbee2mqtt"]["setup"]["yaml"]
    assert answers["generic"]["setup"]["settings"]["topics"] == "home1/n-generic/#"
    # A record saved before the setting existed has no root: it keeps `devices/<id>`.
    saved = json.loads(store.path.read_text())
    for record in saved["devices"]:
        record.pop("topic_root")
    store.path.write_text(json.dumps(saved))
    old = DeviceStore(tmp_path).devices["n-powerhub"]
    assert old.topic_root == ""
    assert setup_for(old, answers["powerhub"]["mqtt"], "homeassistant")["config.json"]["topic_root"] == ""


@pytest.mark.parametrize("root", ["home1", "home/#/", 3])
def test_the_firmware_refuses_a_bad_root_in_config_json(root: Any) -> None:
    from firmware.config import ConfigError, validate

    with pytest.raises(ConfigError, match="topic_root must be"):
        validate({"node_id": "n", "mqtt": {"host": "h"}, "topic_root": root})
    assert validate({"node_id": "n", "mqtt": {"host": "h"}})["topic_root"] == ""


def test_a_node_announces_its_topics_under_its_root() -> None:
    from firmware.config import validate
    from firmware.discovery import messages

    config = validate({"node_id": "n1", "mqtt": {"host": "h"}, "topic_root": "home1/", "relays": [{"pin": 5}]})
    payloads = [json.loads(payload) for _topic, payload in messages(config)]
    assert {p["~"] for p in payloads} == {"home1/devices/n1"}
    assert all(topic.startswith("homeassistant/") for topic, _ in messages(config))


def _hub(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hub", *args, "-c", str(tmp_path / "config")],
                          capture_output=True, text=True, timeout=60)


def test_hub_device_add_and_export_acl_follow_the_configured_root(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "configuration.yaml").write_text("mqtt:\n  topic_root: home1/\n")
    result = _hub(tmp_path, "device", "add", "node-a", "--host", "127.0.0.1", "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["topic_root"] == "home1/" and answer["setup"]["config.json"]["topic_root"] == "home1/"
    assert "home1/devices/node-a/#" in answer["topics"]["publish"]
    assert "home1/devices/node-a/+/set" in answer["topics"]["subscribe"]
    assert _hub(tmp_path, "mqtt", "export-acl", "--out", str(tmp_path / "out")).returncode == 0
    acl = (tmp_path / "out" / "acl").read_text()
    assert "topic write home1/devices/node-a/#" in acl and "topic read home1/devices/node-a/+/set" in acl
    assert "topic write devices/" not in acl
    assert _hub(tmp_path, "mqtt", "export-acl", "--out", str(tmp_path / "dyn"), "--format", "dynsec").returncode == 0
    roles = json.loads((tmp_path / "dyn" / "dynamic-security.json").read_text())["roles"]
    topics = {acl["topic"] for role in roles if role["rolename"] == "device-node-a" for acl in role["acls"]}
    assert "home1/devices/node-a/#" in topics
    # A bad root: the command names the file, the line and the field, and adds nothing.
    (tmp_path / "config" / "configuration.yaml").write_text("mqtt:\n  topic_root: home1\n")
    result = _hub(tmp_path, "device", "add", "node-b", "--host", "127.0.0.1")
    assert result.returncode == 1
    assert "configuration.yaml:2: mqtt.topic_root: 'home1' must end with \"/\"" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert "node-b" not in _hub(tmp_path, "device", "list").stdout


def _watch(port: int, username: str, password: str, topic_filter: str, seen: list[str]) -> tuple[paho.Client, list[int]]:
    """Connect and subscribe; return the client and the SUBACK codes (128: refused)."""
    granted: list[int] = []
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"{username}-watch")
    client.username_pw_set(username, password)
    client.on_message = lambda _c, _u, m: seen.append(m.topic)
    client.on_subscribe = lambda _c, _u, _m, codes, _p: granted.extend(c.value for c in codes)
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.subscribe(topic_filter, qos=1)
    return client, granted


async def test_a_node_under_home1_works_end_to_end_and_cannot_reach_home2(start_mqtt_hub, tmp_path: Path) -> None:
    from firmware.sim.fleet import Fleet

    yaml = (LAN + "    host: 127.0.0.1\n  topic_root: home1/\n"
            "recorder:\n  commit_interval: 0.05\ntelemetry_backfill:\n")
    runtime = await start_mqtt_hub(yaml=yaml)
    hub = runtime.hub
    assert api(hub).topic_root == "home1/"
    headers = await owner_headers(runtime)
    status, a = await call(runtime, headers, "POST", "/api/v1/devices",
                           json={"node_id": "node-a", "name": "Kitchen", "kind": "powerhub"})
    assert status == 201, a
    assert a["topic_root"] == "home1/" and "home1/devices/node-a/#" in a["topics"]["publish"]
    broker = runtime_of(hub).broker
    # A second home on the same broker: its own root and discovery prefix, its own device account.
    home2 = Provisioner(DeviceStore(tmp_path / "home2"), None, "home2/homeassistant", "127.0.0.1",
                        broker.endpoint(), root="home2/")
    device_b, password_b = home2.store.add("node-b", "Garage", "powerhub", None, "home2/homeassistant", root="home2/")
    await dynsec.send(broker.host, broker.port, "powerhub-hub", runtime_of(hub).provisioner.store.hub_password(),
                      dynsec.add_commands(device_b, password_b))
    b = home2.configuration(device_b, password_b)
    fleet = Fleet("mqtt://127.0.0.1:1", 0, tmp_path / "fleet", interval=0.2)
    for answer in (a, b):
        fleet.add(answer["setup"]["config.json"])  # the files as the Add device page gives them
    stop = threading.Event()
    thread = threading.Thread(target=fleet.run, args=(stop,), daemon=True)
    thread.start()
    password_a = a["mqtt"]["password"]
    watchers: list[paho.Client] = []
    try:
        # End to end under home1/: discovery, readings, a relay command and its acknowledgement.
        await until(lambda: hub.states.get("switch.node_a_relay1") is not None, "node-a through discovery", 15)
        await until(lambda: (s := hub.states.get("sensor.node_a_power")) is not None
                    and s.state not in ("unknown", "unavailable"), "node-a's readings")
        assert fleet.by_id["node-a"].node.connected
        # node-b's account is another home's; the fleet connects its nodes one after another.
        await until(lambda: fleet.by_id["node-b"].node.connected, "node-b connected under home2/")
        relay_was = hub.states.get("switch.node_a_relay1").state
        service = "turn_off" if relay_was == "on" else "turn_on"
        await hub.services.call("switch", service, {}, target={"entity_id": "switch.node_a_relay1"}, blocking=True)
        wanted = "off" if relay_was == "on" else "on"
        await until(lambda: hub.states.get("switch.node_a_relay1").state == wanted, "the relay's acknowledgement")
        assert fleet.by_id["node-a"].node.relays.state("relay1") == wanted.upper()
        # Offline readings go to history through the rooted telemetry topic.
        batches: list[dict[str, Any]] = []
        hub.bus.listen("telemetry_backfilled", lambda event: batches.append(event.data))
        now = time.time()
        await asyncio.to_thread(publish_as, broker.port, "node-a", password_a, [(
            "home1/devices/node-a/telemetry",
            json.dumps({"node_id": "node-a", "readings": [{"ts": now - 60, "power": 12.5}]}), False)])
        await until(lambda: batches, "the batch in history")
        assert batches[0]["node_id"] == "node-a" and batches[0]["points"] == 1

        # node-a may neither read nor write home2/: its subscription is refused, nothing arrives.
        seen: list[str] = []
        spy, granted = await asyncio.to_thread(_watch, broker.port, "node-a", password_a, "home2/devices/node-b/#", seen)
        watchers.append(spy)
        await until(lambda: granted, "the SUBACK")
        assert granted == [128]
        relay_b = fleet.by_id["node-b"].node.relays.state("relay1")
        target = "OFF" if relay_b == "ON" else "ON"
        node_b_seen: list[str] = []
        hub_view, _ = await asyncio.to_thread(_watch, broker.port, "powerhub-hub",
                                              runtime_of(hub).provisioner.store.hub_password(), "home2/#", node_b_seen)
        watchers.append(hub_view)
        await until(lambda: any(t == "home2/devices/node-b/state" for t in node_b_seen), "node-b's own readings")
        node_b_seen.clear()
        await asyncio.to_thread(publish_as, broker.port, "node-a", password_a, [
            ("home2/devices/node-b/relay1/set", target, False),
            ("home2/devices/node-b/relay1/state", target, True),
            ("home2/homeassistant/switch/node-b/relay1/config", "{}", True),
            ("devices/node-b/relay1/set", target, False),  # the root-less topic is not its either
        ])
        await asyncio.sleep(1.0)  # node-b steps every 50 ms: it would have switched by now
        assert fleet.by_id["node-b"].node.relays.state("relay1") == relay_b
        assert not [t for t in node_b_seen if t != "home2/devices/node-b/state"], node_b_seen
        assert seen == []
        # And the other way: node-b cannot command home1's node.
        relay_a = fleet.by_id["node-a"].node.relays.state("relay1")
        await asyncio.to_thread(publish_as, broker.port, "node-b", password_b, [
            ("home1/devices/node-a/relay1/set", "OFF" if relay_a == "ON" else "ON", False)])
        await asyncio.sleep(0.5)
        assert fleet.by_id["node-a"].node.relays.state("relay1") == relay_a
        assert await asyncio.to_thread(connect_code, broker.port, "node-b", password_b, "node-b-2") == 0
    finally:
        for client in watchers:
            client.loop_stop()
            client.disconnect()
        stop.set()
        thread.join(5)
        fleet.close()
