"""`hub run` as a user starts it, cold then warm, with retained discovery configs: what the start does.

The start's gains stay only while nothing puts the work back: a warm start recreates every
discovered entity from the validated cache (no schema validation, not even of a device block),
asks the device registry's full path once per device (not once per entity), and imports nothing a default start (with the
recorder on) does not use: Alembic only when a migration is due and never Pygments, numpy only
for charts, prometheus_client only for /metrics, cryptography not for HS256 tokens, no embedded
broker, no many-homes host... The hub runs in its own process
(tests/startup/child.py), so what this test session imported does not count.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from tests.servers import free_port

pytestmark = pytest.mark.services

ROOT = Path(__file__).resolve().parents[2]
NODES, PER_NODE = 20, 5


async def retain_configs(server: Any, prefix: str) -> None:
    async with aiomqtt.Client(server.host, server.port, identifier=f"start-{prefix}") as client:
        for n in range(NODES):
            for k in range(PER_NODE):
                uid = f"{prefix}_n{n}_s{k}"
                config = {"name": f"Reading {k}", "uniq_id": uid, "stat_t": f"{prefix}/n{n}/s{k}", "unit_of_meas": "W",
                          "dev_cla": "power", "dev": {"ids": [f"{prefix}_n{n}"], "name": f"Node {n}", "mf": "powerhub"}}
                await client.publish(f"{prefix}/sensor/n{n}/s{k}/config", json.dumps(config), qos=1, retain=True)
                await client.publish(f"{prefix}/n{n}/s{k}", str(200 + k), qos=1, retain=True)


def start(config: Path, data: Path) -> dict[str, Any]:
    """Run the instrumented hub until every sensor is live; return what it reports."""
    command = [sys.executable, "-m", "tests.startup.child", str(NODES * PER_NODE),
               "run", "-c", str(config), "--data", str(data), "--port", str(free_port())]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"the hub did not make every entity live:\n{done.stderr[-3000:]}"
    return {**json.loads(lines[-1]), "log": done.stderr[-3000:]}


async def test_a_warm_start_validates_nothing_asks_per_device_and_imports_nothing_lazy(tmp_path, mosquitto_server):
    prefix = f"start_{uuid.uuid4().hex[:8]}"
    await retain_configs(mosquitto_server, prefix)
    config, data = tmp_path / "config", tmp_path / "data"
    config.mkdir()
    (config / "configuration.yaml").write_text(
        f"homeassistant:\n  name: Start\nmqtt:\n  broker: {mosquitto_server.url}\n  discovery_prefix: {prefix}\nrecorder:\n")

    cold = await asyncio.to_thread(start, config, data)
    assert cold["validated"] == NODES * PER_NODE  # every config from the broker, once
    assert cold["slow_validations"] == 0  # each on the fast path (integrations/mqtt/fast_schema.py)
    assert cold["device_get_or_create"] == NODES  # the other entities of a node find it from memory
    assert cold["device_validations"] == NODES  # a node's device block once, shared by its sensors' configs
    assert "alembic" in cold["modules"]  # the new database was migrated
    assert set(cold["modules"]) <= {"alembic"}  # without Pygments, which Alembic's Mako would import
    assert cold["collecting"]  # the collector paused for the imports only (hub.heap.paused)

    warm = await asyncio.to_thread(start, config, data)
    assert warm["validated"] == 0, warm["log"] + cold["log"]  # every entity from the validated cache; the broker's replay is the same
    assert warm["device_get_or_create"] == NODES
    assert warm["device_validations"] == 0  # validated with their configs when cached: only shared again
    assert warm["modules"] == []  # nothing a default start does not use: no migration is due
