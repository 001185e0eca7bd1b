"""Zero loss through the homes' shared MQTT connection: a hub of three homes killed (`kill -9`) and
stopped cleanly under a live QoS 1 stream to two of them keeps, in each home's history, every
reading the broker accepted (real Mosquitto with persistence, real PostgreSQL, `python -m hub run`)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import asyncpg
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.engine import make_url

from tests.homes.conftest import grant_roles, homes_config
from tests.pg_roles import make_roles
from tests.servers import free_port, launch_mosquitto

ROOT = Path(__file__).resolve().parents[2]
BASE = 1_000_000  # readings are BASE + n: nothing else in history has such values
RATE = 100  # readings per second to each home


class Hub:
    """`python -m hub run` of a config directory, in a process of its own."""

    def __init__(self, config_dir: Path, data_dir: Path, log: Path) -> None:
        self.config_dir, self.data_dir, self.log = config_dir, data_dir, log
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "hub", "run", "-c", str(self.config_dir), "--data", str(self.data_dir),
                   "--port", str(self.port)]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                pytest.fail(f"the hub exited with {self.proc.returncode}: {self.log.read_text()[-3000:]}")
            try:
                with opener.open(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        pytest.fail(f"the hub was not ready within {timeout} s: {self.log.read_text()[-3000:]}")

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail("the hub did not stop within 30 s")


class Stream:
    """QoS 1 readings to each home's sensor at RATE/s; remembers the ones the broker acknowledged."""

    def __init__(self, port: int, topics: dict[str, str]) -> None:
        self.topics = topics  # home id -> state topic
        self.accepted: dict[str, set[int]] = {home: set() for home in topics}
        self._sent: list[tuple[str, int, paho.MQTTMessageInfo]] = []
        self._stop = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id="zero-loss-devices")
        self.client.max_inflight_messages_set(1000)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        n = 0
        began = time.monotonic()
        while not self._stop.is_set():
            n += 1
            for home, topic in self.topics.items():
                self._sent.append((home, BASE + n, self.client.publish(topic, str(BASE + n), qos=1)))
            delay = began + n / RATE - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        deadline = time.monotonic() + 10
        while not all(info.is_published() for _, _, info in self._sent) and time.monotonic() < deadline:
            time.sleep(0.05)
        # Accepted: the broker sent its PUBACK (it keeps the reading for the hub's session).
        for home, value, info in self._sent:
            if info.is_published():
                self.accepted[home].add(value)
        self.client.loop_stop()
        self.client.disconnect()


async def _history(superuser_url: str) -> dict[str, set[int]]:
    url = make_url(superuser_url).set(drivername="postgresql")
    connection = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        rows = await connection.fetch("SELECT home_id, value FROM history_raw WHERE value >= $1", float(BASE))
    finally:
        await connection.close()
    found: dict[str, set[int]] = {}
    for row in rows:
        found.setdefault(row["home_id"], set()).add(int(row["value"]))
    return found


async def test_every_reading_the_broker_accepted_is_in_each_homes_history_after_kill_9_and_a_clean_stop(
        tmp_path: Path, postgres_server: Any) -> None:
    broker = await asyncio.to_thread(launch_mosquitto, "hub-zero-loss-")  # persistence, the window docs/mqtt.md asks
    hub: Hub | None = None
    try:
        database = postgres_server.create_database()
        pg_url = postgres_server.url(database)
        roles = await make_roles(pg_url)
        recorder = f"recorder:\n  backend: postgresql\n  db_url: {pg_url}\n  commit_interval: 0.05\n"
        config_dir = homes_config(tmp_path, roles.storage_yaml(), broker.url, recorder)
        await grant_roles(roles, config_dir)
        hub = Hub(config_dir, tmp_path / "data", tmp_path / "hub.log")
        await asyncio.to_thread(hub.start)
        await asyncio.to_thread(hub.wait_ready)
        # Two homes' meters, announced as devices do (retained discovery configs under each root).
        roots = {home: f"{line.split(':', 1)[1].strip()}" for home, line in zip(
            ("flat-a", "flat-b", "villa"),
            [line for line in (config_dir / "configuration.yaml").read_text().splitlines() if "topic_root:" in line],
            strict=True)}
        topics = {home: f"{roots[home]}devices/meter/power" for home in ("flat-a", "flat-b")}
        announcer = paho.Client(CallbackAPIVersion.VERSION2, client_id="zero-loss-announcer")
        announcer.connect("127.0.0.1", broker.port)
        announcer.loop_start()
        for home, topic in topics.items():
            config = {"name": "Meter power", "unique_id": f"{home}-meter", "state_topic": topic,
                      "unit_of_measurement": "W", "device_class": "power", "state_class": "measurement"}
            announcer.publish(f"{roots[home]}homeassistant/sensor/meter/power/config", json.dumps(config), qos=1,
                              retain=True).wait_for_publish(5)
        announcer.loop_stop()
        announcer.disconnect()
        await asyncio.sleep(0.5)  # the entities exist (and are cached for the restarts)

        stream = Stream(broker.port, topics)
        stream.start()
        try:
            await asyncio.sleep(1.0)
            await asyncio.to_thread(hub.signal, signal.SIGKILL)  # mid-stream: nothing clean about it
            await asyncio.sleep(1.0)  # the broker queues for the hub's session meanwhile
            await asyncio.to_thread(hub.start)
            await asyncio.to_thread(hub.wait_ready)
            await asyncio.sleep(1.0)
            await asyncio.to_thread(hub.signal, signal.SIGTERM)  # a clean stop, homes one after the other
            await asyncio.sleep(0.5)
            await asyncio.to_thread(hub.start)
            await asyncio.to_thread(hub.wait_ready)
            await asyncio.sleep(0.5)
        finally:
            await asyncio.to_thread(stream.stop)
        accepted = stream.accepted
        assert all(len(values) > 3 * RATE for values in accepted.values()), {h: len(v) for h, v in accepted.items()}
        deadline = time.monotonic() + 30
        found: dict[str, set[int]] = {}
        waited = time.monotonic()
        while time.monotonic() < deadline:
            found = await _history(pg_url)
            if all(accepted[home] <= found.get(home, set()) for home in accepted):
                break
            await asyncio.sleep(0.5)
        print(f"history complete after {time.monotonic() - waited:.1f} s")  # noqa: T201 - the test's figure
        missing = {home: sorted(accepted[home] - found.get(home, set()))[:20] for home in accepted}
        counts = {home: (len(accepted[home]), len(found.get(home, set()) & accepted[home])) for home in accepted}
        assert not any(missing.values()), f"accepted vs in history {counts}; missing {missing}"
        # Each home's history holds its own readings only (the villa got none).
        assert "villa" not in found
    finally:
        if hub is not None and hub.proc is not None and hub.proc.poll() is None:
            await asyncio.to_thread(hub.signal, signal.SIGTERM)
        broker.close()
