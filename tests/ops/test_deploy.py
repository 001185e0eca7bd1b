"""What can be checked of the deployment files without a container engine or a cluster."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub import bootstrap

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
ENV = {
    "HUB_METRICS_TOKEN": "t0ken",
    "HUB_DB_URL": "postgresql+asyncpg://hub:secret@postgres:5432/hub",
    "INFLUXDB_TOKEN": "influx-token",
    "MQTT_PASSWORD": "mqtt-password",
}


def env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))
    return {key: value for key, value in pairs}


def test_compose_has_the_stack_with_volumes_and_env() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {name: service.get("image") for name, service in services.items()} == {
        "hub": "powerhub:latest",
        "postgres": "postgres:16",
        "influxdb": "influxdb:2",
        "mosquitto": "eclipse-mosquitto:2",
    }
    named_volumes = set(compose["volumes"])
    for name in ("hub", "postgres", "influxdb", "mosquitto"):
        mounted = {v.split(":")[0] for v in services[name]["volumes"]}
        assert mounted & named_volumes, f"{name} keeps its data in a named volume"
    assert services["hub"]["env_file"] == ".env"
    # Every ${VAR} the compose file uses is in .env.example.
    used = set(re.findall(r"\$\{([A-Z_]+)", (ROOT / "docker-compose.yml").read_text()))
    assert used <= set(env_file(ROOT / ".env.example"))
    assert (DEPLOY / "mosquitto" / "mosquitto.conf").read_text().count("allow_anonymous false") == 1


def test_dockerfile_is_slim_non_root_with_healthcheck() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    assert stages[0].startswith("node:") and stages[-1] == "python:3.11-slim"
    assert re.search(r"^USER hub$", text, re.MULTILINE)
    assert "HEALTHCHECK" in text and "/healthz" in text
    assert '"hub", "run", "-c", "/config", "--data", "/data"' in text
    for copied in re.findall(r"^COPY (?!--from)(\S+)", text, re.MULTILINE):
        assert (ROOT / copied).exists(), f"the Dockerfile copies {copied}, which is missing"


def test_container_configuration_validates_with_the_example_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {**env_file(ROOT / ".env.example"), **ENV}.items():
        monkeypatch.setenv(key, value)
    checked = bootstrap.check_config(DEPLOY / "config")
    assert {i.domain for i in checked.integrations} >= {"mqtt", "recorder", "backup", "automation"}
    assert checked.config["recorder"]["backend"] == "influxdb2"
    assert checked.config["http"]["server_host"] == "0.0.0.0"


def kubernetes_documents() -> list[dict[str, Any]]:
    documents = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        documents.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return documents


def test_kubernetes_manifests_have_the_kinds_and_probes() -> None:
    documents = kubernetes_documents()
    kinds = {doc["kind"] for doc in documents}
    assert {"Deployment", "Service", "ConfigMap", "Secret", "PersistentVolumeClaim", "Kustomization"} <= kinds
    for doc in documents:
        assert doc.get("apiVersion"), doc
    deployment = next(doc for doc in documents if doc["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert deployment["spec"]["selector"]["matchLabels"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    claims = {doc["metadata"]["name"] for doc in documents if doc["kind"] == "PersistentVolumeClaim"}
    assert {v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"] if "persistentVolumeClaim" in v} == claims
    env_sources = {next(iter(ref.values()))["name"] for ref in container["envFrom"]}
    assert env_sources == {doc["metadata"]["name"] for doc in documents if doc["kind"] in ("ConfigMap", "Secret")}
    service = next(doc for doc in documents if doc["kind"] == "Service")
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    listed = set(next(doc for doc in documents if doc["kind"] == "Kustomization")["resources"])
    assert listed == {p.name for p in (DEPLOY / "k8s").glob("*.yaml")} - {"kustomization.yaml"}


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_unit_verifies(tmp_path: Path) -> None:
    unit = (DEPLOY / "systemd" / "hub.service").read_text()
    assert re.search(r"^User=hub$", unit, re.MULTILINE) and re.search(r"^Restart=on-failure$", unit, re.MULTILINE)
    # The unit names /opt/hub/venv/bin/hub; verify against this checkout's command instead.
    hub_command = shutil.which("hub", path=str(Path(__import__("sys").executable).parent))
    assert hub_command is not None
    (tmp_path / "hub.service").write_text(unit.replace("/opt/hub/venv/bin/hub", hub_command))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "hub.service")], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stdout + result.stderr


def test_compose_gives_the_hub_its_own_account_and_devices_theirs() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mosquitto = compose["services"]["mosquitto"]
    assert mosquitto["command"] == ["sh", "/mosquitto/init.sh"]
    assert "./deploy/mosquitto/init.sh:/mosquitto/init.sh:ro" in mosquitto["volumes"]
    conf = (DEPLOY / "mosquitto" / "mosquitto.conf").read_text()
    assert "password_file" not in conf and "plugin /usr/lib/mosquitto_dynamic_security.so" in conf
    # The hub's settings: its own account, and where devices are told to connect.
    mqtt = yaml.load((DEPLOY / "config" / "configuration.yaml").read_text(), Loader=_EnvLoader)["mqtt"]
    assert set(mqtt) == {"broker", "username", "password", "provisioning"}
    assert set(mqtt["provisioning"]) == {"host", "port"}
    example = env_file(ROOT / ".env.example")
    assert {"MQTT_USERNAME", "MQTT_PASSWORD", "MQTT_DEVICE_HOST", "MQTT_PORT"} <= set(example)
    assert "MQTT_DEVICE_HOST" in next(d for d in kubernetes_documents() if d["kind"] == "ConfigMap")["data"]


class _EnvLoader(yaml.SafeLoader):
    """Read the container configuration's `!env_var`, `!include` and `!secret` tags as plain strings."""


for _tag in ("!env_var", "!include", "!secret"):
    _EnvLoader.add_constructor(_tag, lambda loader, node: loader.construct_scalar(node))


def _start_shipped_mosquitto(tmp_path: Path, username: str, password: str) -> tuple[subprocess.Popen[bytes], int]:
    """Run deploy/mosquitto/init.sh with deploy/mosquitto/mosquitto.conf, only its paths and port
    changed for this machine (Debian's plugin path, a temporary data dir, a free loopback port)."""
    import os

    from integrations.mqtt.dynsec import find_plugin
    from tests.servers import free_port

    port = free_port()
    data = tmp_path / "mosquitto-data"
    data.mkdir()
    conf = (DEPLOY / "mosquitto" / "mosquitto.conf").read_text()
    conf = conf.replace("/usr/lib/mosquitto_dynamic_security.so", str(find_plugin()))
    conf = conf.replace("/mosquitto/data/", f"{data}/").replace("listener 1883\n", f"listener {port} 127.0.0.1\n")
    if os.geteuid() == 0:
        conf += "user root\n"
    (tmp_path / "mosquitto.conf").write_text(conf)
    env = {"PATH": os.environ["PATH"] + ":/usr/sbin:/sbin", "MQTT_USERNAME": username, "MQTT_PASSWORD": password,
           "MOSQUITTO_CONFIG": str(tmp_path / "mosquitto.conf"), "DYNSEC_FILE": str(data / "dynamic-security.json")}
    with (tmp_path / "mosquitto.log").open("wb") as log:
        process = subprocess.Popen(["sh", str(DEPLOY / "mosquitto" / "init.sh")], env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
    import socket
    import time

    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.05)
    process.terminate()  # reaped now: a Popen the traceback keeps would warn in a later test
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    pytest.fail("the shipped Mosquitto config did not start:\n" + (tmp_path / "mosquitto.log").read_text())


@pytest.mark.skipif(shutil.which("mosquitto_ctrl") is None, reason="mosquitto (with mosquitto_ctrl) not installed")
async def test_the_shipped_broker_starts_and_the_hub_adds_devices_to_it(tmp_path: Path) -> None:
    """The compose broker in a real Mosquitto: only accounts get in, the hub administers it with
    its own account, and a device added in the hub runs end to end with its own account."""
    import asyncio
    import json
    import threading
    import uuid

    from firmware.sim.fleet import Fleet
    from tests.integrations.mqtt.lan_broker import call, connect_code, owner_headers, until

    process, port = _start_shipped_mosquitto(tmp_path, "hub", "hub-password")
    runtime = None
    fleet = None
    stop = threading.Event()
    try:
        assert oct((tmp_path / "mosquitto-data" / "dynamic-security.json").stat().st_mode & 0o777) == "0o600"
        assert await asyncio.to_thread(connect_code, port, None, None) != 0  # anonymous
        assert await asyncio.to_thread(connect_code, port, "hub", "wrong") != 0
        config = tmp_path / "config"
        config.mkdir()
        mqtt = yaml.load((DEPLOY / "config" / "configuration.yaml").read_text(), Loader=_EnvLoader)["mqtt"]
        (config / "configuration.yaml").write_text(yaml.safe_dump({"mqtt": {
            **{k: v for k, v in mqtt.items() if k not in ("broker", "username", "password", "provisioning")},
            "broker": f"mqtt://127.0.0.1:{port}", "username": "hub", "password": "hub-password",
            "discovery_prefix": f"deploy_{uuid.uuid4().hex[:8]}",
            "provisioning": {"host": "127.0.0.1", "port": port}}}))
        runtime = await bootstrap.start(config, tmp_path / "data", port=0)
        hub = runtime.hub
        headers = await owner_headers(runtime)
        status, answer = await call(runtime, headers, "POST", "/api/v1/devices",
                                    json={"node_id": "node-a", "name": "Kitchen", "kind": "powerhub"})
        assert status == 201, answer
        assert answer["mqtt"]["host"] == "127.0.0.1" and answer["mqtt"]["port"] == port
        config_json = answer["setup"]["config.json"]
        assert config_json["mqtt"]["user"] == "node-a"
        fleet = Fleet("mqtt://127.0.0.1:1", 0, tmp_path / "fleet", interval=0.2,
                      discovery_prefix=config_json["discovery_prefix"])
        fleet.add(json.loads(json.dumps(config_json)))
        thread = threading.Thread(target=fleet.run, args=(stop,), daemon=True)
        thread.start()
        await until(lambda: hub.states.get("switch.node_a_relay1") is not None, "the node through discovery", 15)
        was = hub.states.get("switch.node_a_relay1").state
        await hub.services.call("switch", "turn_off" if was == "on" else "turn_on", {},
                                target={"entity_id": "switch.node_a_relay1"}, blocking=True)
        # The hub's own account may command the node: its command arrived and was acknowledged.
        await until(lambda: hub.states.get("switch.node_a_relay1").state != was, "the relay's acknowledgement")
        status, _ = await call(runtime, headers, "DELETE", f"/api/v1/devices/{answer['id']}")
        assert status == 200
        await until(lambda: not fleet.by_id["node-a"].node.connected, "the node disconnected by the broker")
        password = answer["mqtt"]["password"]
        assert await asyncio.to_thread(connect_code, port, "node-a", password, "node-a") != 0

        # `hub device add|remove` beside the hub put the account on the broker and take it off.
        def hub_cli(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "hub", "device", *args, "-c", str(config),
                                   "--data", str(tmp_path / "data")], capture_output=True, text=True, timeout=60)

        added = await asyncio.to_thread(hub_cli, "add", "node-b", "--json")
        assert added.returncode == 0, added.stderr
        password_b = json.loads(added.stdout)["mqtt"]["password"]
        assert await asyncio.to_thread(connect_code, port, "node-b", password_b, "node-b") == 0
        removed = await asyncio.to_thread(hub_cli, "remove", "node-b")
        assert removed.returncode == 0, removed.stderr
        assert await asyncio.to_thread(connect_code, port, "node-b", password_b, "node-b") != 0
        # With the broker down, adding fails and says why: nothing would give it the account later.
        process.terminate()
        process.wait(5)
        failed = await asyncio.to_thread(hub_cli, "add", "node-c")
        assert failed.returncode == 1 and "Cannot reach the MQTT broker at 127.0.0.1" in failed.stderr
        assert "Traceback" not in failed.stderr
        assert "node-c" not in (await asyncio.to_thread(hub_cli, "list")).stdout
    finally:
        stop.set()
        if fleet is not None:
            fleet.close()
        if runtime is not None:
            await bootstrap.stop(runtime)
        process.terminate()
        process.wait(5)
