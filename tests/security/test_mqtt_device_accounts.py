"""Device accounts without a running hub: `hub run` refusing an open LAN broker, the firmware's
certificate pinning, and the files `hub mqtt export-acl` writes, in a plain Mosquitto."""

from __future__ import annotations

import json
import socket

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from integrations.mqtt.dynsec import find_plugin
from tests.integrations.mqtt.lan_broker import connect_code, publish_as

pytestmark = pytest.mark.skipif(find_plugin() is None, reason="mosquitto with dynamic security not installed")


@pytest.mark.parametrize("embedded", ["bind: 0.0.0.0\n    allow_anonymous: true", "bind: 0.0.0.0\n    engine: amqtt"])
def test_hub_run_refuses_a_lan_broker_without_authentication(tmp_path, embedded: str) -> None:
    import subprocess
    import sys

    (tmp_path / "configuration.yaml").write_text(f"mqtt:\n  embedded:\n    port: 0\n    {embedded}\n")
    result = subprocess.run([sys.executable, "-m", "hub", "run", "-c", str(tmp_path), "--data", str(tmp_path / "data"),
                             "--port", "0"], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "mqtt.embedded.bind is 0.0.0.0" in result.stderr and "bind: 127.0.0.1" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_firmware_refuses_a_broker_with_another_certificate(tmp_path) -> None:
    from firmware import pinning
    from integrations.mqtt import broker_tls

    files = broker_tls.ensure(tmp_path / "tls", ["127.0.0.1"])
    assert oct((tmp_path / "tls" / "broker.key").stat().st_mode & 0o777) == "0o600"
    der = ssl_der(files.certificate.read_bytes())
    pinning.check(der, files.fingerprint)  # the right one passes, with colons
    pinning.check(der, files.fingerprint.replace(":", "").lower())
    other = broker_tls.ensure(tmp_path / "other", ["127.0.0.1"])
    with pytest.raises(OSError, match="not the one in config.json"):
        pinning.check(der, other.fingerprint)


def ssl_der(pem: bytes) -> bytes:
    import ssl

    return ssl.PEM_cert_to_DER_cert(pem.decode())


def test_exported_password_and_acl_files_work_in_a_users_own_mosquitto(tmp_path) -> None:
    """`hub device add` then `hub mqtt export-acl`: a plain Mosquitto with those files lets the
    device in with its password only, and keeps it in its own topics."""
    import subprocess
    import sys
    import time

    from integrations.mqtt.broker import find_mosquitto
    from tests.servers import free_port

    def hub(*args: str) -> str:
        result = subprocess.run([sys.executable, "-m", "hub", *args, "-c", str(tmp_path / "config")],
                                capture_output=True, text=True, timeout=60, check=True)
        return result.stdout

    (tmp_path / "config").mkdir()
    answer = {}
    for node_id in ("node-a", "node-b"):
        answer[node_id] = json.loads(hub("device", "add", node_id, "--host", "127.0.0.1", "--json"))
    hub("mqtt", "export-acl", "--out", str(tmp_path / "broker"))
    port = free_port()
    conf = tmp_path / "broker" / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {tmp_path}/broker/passwd\n"
                    f"acl_file {tmp_path}/broker/acl\n" + ("user root\n" if __import__("os").geteuid() == 0 else ""))
    broker = subprocess.Popen([find_mosquitto(), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        password_a = answer["node-a"]["mqtt"]["password"]
        assert connect_code(port, "node-a", password_a) == 0
        assert connect_code(port, "node-a", "wrong") != 0
        assert connect_code(port, None, None) != 0
        seen: list[str] = []
        watcher = paho.Client(CallbackAPIVersion.VERSION2, client_id="watch")
        watcher.username_pw_set("node-b", answer["node-b"]["mqtt"]["password"])
        watcher.on_message = lambda _c, _u, m: seen.append(m.topic)
        watcher.connect("127.0.0.1", port)
        watcher.subscribe("devices/node-b/relay1/set", qos=1)
        watcher.loop_start()
        time.sleep(0.3)
        publish_as(port, "node-a", password_a, [("devices/node-b/relay1/set", "ON", False)])
        time.sleep(0.5)
        assert seen == []  # node-a may not command node-b
        hub_password = json.loads((tmp_path / "config" / ".storage" / "secrets" / "mqtt_hub.json").read_text())["password"]
        publish_as(port, "powerhub-hub", hub_password, [("devices/node-b/relay1/set", "ON", False)])
        for _ in range(100):
            if seen:
                break
            time.sleep(0.05)
        assert seen == ["devices/node-b/relay1/set"]  # the hub may
        watcher.loop_stop()
        watcher.disconnect()
    finally:
        broker.terminate()
        broker.wait(5)
