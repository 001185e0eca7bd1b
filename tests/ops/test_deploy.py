"""What can be checked of the deployment files without a container engine or a cluster."""

from __future__ import annotations

import re
import shutil
import subprocess
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
