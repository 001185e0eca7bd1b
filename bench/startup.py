"""Startup benchmark: a hub with 5,000 known entities, from process start to serving them all.

Run: .venv/bin/python bench/startup.py [--entities 5000] [--with-mqtt]

It fills a fresh data dir with 500 devices x 10 entities in the registries, their last known
states and (with --with-mqtt, once the MQTT integration is installed) their discovery configs,
then starts `hub run` as a user would and measures:
- seconds from spawning the process until get_states (WebSocket, or REST /api/states when the
  WebSocket API is not there) returns every entity;
- RSS of the hub process once it has settled (2 s after that answer).
Anchor, Home Assistant 2024.1.6 on this kind of machine: 16.3 s and 296 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from sqlalchemy import insert

from hub.auth.store import AuthStore
from hub.storage.engine import create_engine, default_sqlite_url, migrate, session_factory
from hub.storage.models import DeviceRow, EntityRow, RestoreStateRow
from integrations.mqtt.models import MqttDiscoveryRow

MQTT_MIGRATIONS = Path(__file__).resolve().parents[1] / "integrations" / "mqtt" / "migrations" / "versions"

KINDS = [
    ("power", "W", "measurement"),
    ("energy", "kWh", "total_increasing"),
    ("voltage", "V", "measurement"),
    ("current", "A", "measurement"),
    ("frequency", "Hz", "measurement"),
    ("power_factor", None, "measurement"),
    ("power", "W", "measurement"),
    ("energy", "kWh", "total_increasing"),
    ("voltage", "V", "measurement"),
    ("current", "A", "measurement"),
]


async def populate(data_dir: Path, entities: int, with_mqtt: bool) -> str:
    engine = create_engine(default_sqlite_url(data_dir))
    await migrate(engine, [MQTT_MIGRATIONS] if with_mqtt else [])
    now = datetime.now(UTC)
    devices, rows, states, discovery = [], [], [], []
    for n in range(entities // 10):
        node = f"node{n:04d}"
        devices.append(dict(id=f"dev{n:05d}", identifiers=[["mqtt", node]], connections=[], integration="mqtt",
                            name=f"Node {n}", manufacturer="powerhub", model="PZEM-004T node",
                            created_at=now, modified_at=now))
        for k, (cls, unit, state_class) in enumerate(KINDS):
            object_id = f"{node}_{cls}_{k}"
            entity_id = f"sensor.{object_id}"
            rows.append(dict(id=f"ent{n:05d}{k}", entity_id=entity_id, unique_id=object_id, platform="mqtt",
                             domain="sensor", device_id=f"dev{n:05d}", original_name=f"{cls} {k}",
                             original_device_class=cls, unit_of_measurement=unit, capabilities={"state_class": state_class},
                             created_at=now, modified_at=now))
            attrs = {"unit_of_measurement": unit, "device_class": cls, "state_class": state_class,
                     "friendly_name": f"Node {n} {cls} {k}"}
            states.append(dict(entity_id=entity_id, state=str(230 + k), attributes=attrs, last_changed=now, last_updated=now))
            topic = f"homeassistant/sensor/{node}/{cls}_{k}/config"
            discovery.append(dict(discovery_topic=topic, component="sensor", discovery_id=f"{node} {cls}_{k}", updated_at=now,
                                  payload=json.dumps({"name": f"{cls} {k}", "uniq_id": object_id, "obj_id": object_id,
                                                      "stat_t": f"devices/{node}/{cls}_{k}", "unit_of_meas": unit,
                                                      "dev_cla": cls, "stat_cla": state_class,
                                                      "dev": {"ids": [node], "name": f"Node {n}"}})))
    async with engine.begin() as conn:
        await conn.execute(insert(DeviceRow), devices)
        await conn.execute(insert(EntityRow), rows)
        await conn.execute(insert(RestoreStateRow), states)
        if with_mqtt:
            await conn.execute(insert(MqttDiscoveryRow), discovery)
    auth = AuthStore(session_factory(engine), bcrypt_rounds=4)
    user = await auth.add_user("bench", "bench-password", "owner")
    token = await auth.create_long_lived_token(user.id, "bench")
    await engine.dispose()
    return token


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def get_states(session: aiohttp.ClientSession, base: str, token: str) -> list[dict] | None:
    try:
        async with session.ws_connect(f"{base}/api/websocket") as ws:
            await ws.receive_json(timeout=5)
            await ws.send_json({"type": "auth", "access_token": token})
            if (await ws.receive_json(timeout=5)).get("type") != "auth_ok":
                return None
            await ws.send_json({"id": 1, "type": "get_states"})
            reply = await ws.receive_json(timeout=30)
            return reply.get("result")
    except aiohttp.WSServerHandshakeError:
        async with session.get(f"{base}/api/states", headers={"Authorization": f"Bearer {token}"}) as response:
            return await response.json() if response.status == 200 else None


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def main(entities: int, with_mqtt: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config, data = Path(tmp) / "config", Path(tmp) / "data"
        config.mkdir()
        (config / "configuration.yaml").write_text("homeassistant:\n  name: Bench\n" + ("mqtt:\n" if with_mqtt else ""))
        token = await populate(data, entities, with_mqtt)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        began = time.monotonic()
        process = subprocess.Popen([sys.executable, "-m", "hub", "run", "-c", str(config), "--data", str(data), "--port", str(port)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            answer = None
            async with aiohttp.ClientSession() as session:
                while time.monotonic() - began < 60:
                    try:
                        answer = await get_states(session, base, token)
                        if answer is not None and len(answer) >= entities:
                            break
                    except (TimeoutError, aiohttp.ClientConnectionError):
                        pass
                    await asyncio.sleep(0.02)
            elapsed = time.monotonic() - began
            await asyncio.sleep(2)
            rss = rss_mb(process.pid)
        finally:
            process.terminate()
            process.wait(timeout=10)
    count = len(answer or [])
    print(f"entities restored and served:        {count:,}{'  (with MQTT discovery cache)' if with_mqtt else ''}")
    print(f"process start -> all states served:  {elapsed:.2f} s   (goal < 4 s; Home Assistant 2024.1.6: 16.3 s)")
    print(f"settled RSS:                         {rss:.0f} MB  (goal < 150 MB; Home Assistant 2024.1.6: 296 MB)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entities", type=int, default=5000)
    parser.add_argument("--with-mqtt", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.entities, args.with_mqtt))
