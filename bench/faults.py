"""Faults with numbered readings: does every reading a broker accepted reach history?

    .venv/bin/python bench/faults.py                      # every fault, the long form (a few minutes)
    .venv/bin/python bench/faults.py --faults hub_kill broker_kill --readings 15000 --rate 500
    .venv/bin/python bench/faults.py --short              # the form CI runs (tests/e2e/test_faults.py)
    .venv/bin/python bench/faults.py --hub-root /tmp/main # the same faults against another checkout
    .venv/bin/python bench/faults.py --short --faults broker_kill --load 16   # beside 16 busy loops

Real processes throughout: the hub (`python -m hub run`, in a process of its own), Mosquitto,
PostgreSQL and InfluxDB 1.x from the Debian packages (started as tests/servers.py starts them),
and a device publishing numbered readings at QoS 1 to 10 discovered sensors at a fixed rate
(paho-mqtt, a persistent session that resends what the broker did not acknowledge, as a device
with an offline buffer does). Reading n is the payload "n" on sensor n % 10, so history says
exactly which readings arrived.

Faults (each on a fresh hub and data directory):
  none                nothing happens
  hub_kill            kill -9 of the hub mid-stream, restarted 5 s later
  broker_kill         kill -9 of an external Mosquitto configured as docs/mqtt.md asks (persistence
                      saved every second) mid-stream, sensors discovered 3 s before, restarted 10 s later
  broker_kill_hub_behind  the same while the hub is 1.5 s behind (stopped with SIGSTOP, as a loaded
                      machine stalls it; continued as the broker dies): Mosquitto acknowledges a
                      reading before it persists it, so what it queued for the hub beyond the
                      in-flight window since its last save dies with it. With the window docs/mqtt.md
                      asks for (the embedded broker's, 2,000) the readings are on the hub's side
                      already and nothing is lost; with 100 this lost 751 of 2,500
  broker_kill_slow_save  the same on a Mosquitto that saves every 30 s (the issue's broker): it comes
                      back without the retained configs and without the hub's session, and drops
                      what devices publish before the hub has subscribed again. That loss is the
                      broker's; the row shows what such a broker costs (not asserted in CI)
  embedded_kill       kill -9 of the hub's embedded Mosquitto mid-stream (the hub restarts it)
  postgres_outage     the PostgreSQL history backend stopped for 60 s at 1,000 readings/s
  influxdb_outage     the InfluxDB history backend stopped for 60 s at 1,000 readings/s
  disk_full           the file system under the recorder's spool full for 10 s (a tmpfs in a
                      mount namespace of the hub's own): readyz and a persistent notification
                      must say so, the hub keep running. The disk is filled while the spool holds
                      a backlog; the spool deleting it gives the hub room for small appends again,
                      which once hid the full disk on a loaded machine ("NOT REPORTED"): the hub
                      judges by the free space after each append too (hub/recorder/spool.py)

Per fault it prints: readings published, acknowledged by the broker, found in history, missing
(acknowledged but still not in history after the settle wait and a
further late wait: lost), late (acknowledged, in history only after the settle wait: slow, not
lost; a loaded machine shows these), duplicated (in history more than once: delivered again after
a crash, which at-least-once allows), the seconds from the fault's end until the hub is whole
again (/readyz answers 200 and every reading acknowledged before then is in history), and the
tracebacks in the hub's log.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import (  # noqa: E402 - after the path: the bench runs from a checkout
    InfluxDBServer,
    MosquittoServer,
    _find_binary,
    _influxd_major,
    _make_tempdir,
    _service_user,
    free_port,
    launch_mosquitto,
    launch_postgres,
)

FAULTS = ("none", "hub_kill", "broker_kill", "broker_kill_hub_behind", "embedded_kill", "postgres_outage", "influxdb_outage", "disk_full",
          "broker_kill_slow_save")
SENSORS = 10
PREFIX = "homeassistant"
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Plan:
    """How long and how fast: the long form (the issue's table) or the short one (CI)."""

    readings: int = 15_000
    rate: float = 500.0
    outage_readings: int = 60_000
    outage_rate: float = 1000.0
    hub_down: float = 5.0
    broker_down: float = 10.0
    outage: float = 60.0
    disk_full: float = 10.0
    hub_behind: float = 1.5  # broker_kill_hub_behind: how long the hub is stopped before the broker dies
    fault_at: float = 0.4  # the fault comes when this share of the readings was published
    settle: float = 90.0  # the most to wait, after publishing, for the hub to be whole
    late: float = 120.0  # then, the most to wait for a reading still missing before calling it lost

    @classmethod
    def short(cls) -> Plan:
        """The CI form: seconds, not minutes, per fault; every fault still hits mid-stream."""
        return cls(readings=2500, rate=500.0, outage_readings=6000, outage_rate=1000.0, hub_down=2.0, broker_down=2.0,
                   outage=3.0, disk_full=2.0, settle=45.0, late=60.0)


@dataclass
class Result:
    fault: str
    published: int = 0
    acked: int = 0
    found: int = 0
    missing: int = 0  # acknowledged, and not in history even after the late wait: lost
    late: int = 0  # acknowledged, and in history only after the settle wait: slow, not lost
    duplicated: int = 0
    whole_s: float | None = None
    tracebacks: int = 0
    notes: list[str] = field(default_factory=list)

    def row(self) -> str:
        whole = f"{self.whole_s:6.2f} s" if self.whole_s is not None else "   never"
        return (f"{self.fault:<22} {self.published:>9} {self.acked:>9} {self.found:>9} {self.missing:>8} {self.late:>6}"
                f" {self.duplicated:>10}"
                f"   {whole} {self.tracebacks:>10}")


HEADER = (f"{'fault':<22} {'published':>9} {'acked':>9} {'in history':>9} {'missing':>8} {'late':>6} {'duplicated':>10}"
          f"   {'whole after':>8} {'tracebacks':>10}")


# ---------------------------------------------------------------- servers


class Servers:
    """The Mosquitto, PostgreSQL and InfluxDB a run uses, started on first use (or the tests' own)."""

    def __init__(self, mosquitto: Any = None, postgres: Any = None, influxdb: Any = None) -> None:
        self._mosquitto, self._postgres, self._influxdb = mosquitto, postgres, influxdb
        self._mosquitto_slow: Any = None
        self._owned: list[Any] = []

    def _launch(self, server: Any) -> Any:
        self._owned.append(server)
        server.start()
        return server

    @property
    def mosquitto(self) -> Any:
        if self._mosquitto is None:
            # the fixture's broker: persistence saved every second, the in-flight window docs/mqtt.md asks for
            self._mosquitto = launch_mosquitto("bench-mqtt-")
            self._owned.append(self._mosquitto)
        return self._mosquitto

    @property
    def mosquitto_slow_save(self) -> Any:
        """A Mosquitto that saves its persistence every 30 s (the issue's broker): a crash loses its last 30 s."""
        if self._mosquitto_slow is None:
            binary = _find_binary("mosquitto")
            assert binary, "mosquitto is not installed"
            owner = _service_user("mosquitto")
            server = MosquittoServer(binary, _make_tempdir("bench-mqtt-slow-", owner), owner, free_port())
            server.write_config()
            server.config_path.write_text(server.config_path.read_text().replace("autosave_interval 1\n", "autosave_interval 30\n"))
            self._mosquitto_slow = self._launch(server)
        return self._mosquitto_slow

    @property
    def postgres(self) -> Any:
        if self._postgres is None:
            self._postgres = launch_postgres("bench-pg-")
            self._owned.append(self._postgres)
        return self._postgres

    @property
    def influxdb(self) -> Any:
        if self._influxdb is None:
            binary = _find_binary("influxd")
            assert binary and _influxd_major(binary) == 1, "influxd 1.x is not installed"
            owner = _service_user("influxdb")
            http_port, rpc_port = free_port(), free_port()
            server = InfluxDBServer(binary, _make_tempdir("bench-influx-", owner), owner, http_port, rpc_port)
            server.write_config()
            self._influxdb = self._launch(server)
        return self._influxdb

    def close(self) -> None:
        for server in self._owned:
            server.close()


# ---------------------------------------------------------------- the device


class Publisher:
    """A device: numbered readings at QoS 1 at a fixed rate, resent until the broker acknowledges them."""

    def __init__(self, port: int, first: int, count: int, rate: float, client_id: str) -> None:
        import paho.mqtt.client as paho

        self.first, self.count, self.rate = first, count, rate
        self.published = 0
        self.acked: set[int] = set()
        self.done = threading.Event()
        self._lock = threading.Lock()
        self._mids: dict[int, int] = {}
        self._early: set[int] = set()  # acknowledged before publish() returned its mid
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(0.05, 0.5)
        client.on_publish = self._on_publish
        self.client = client
        self.port = port
        self._thread = threading.Thread(target=self._run, name="publisher", daemon=True)

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        with self._lock:
            number = self._mids.pop(mid, None)
            if number is not None:
                self.acked.add(number)
            else:
                self._early.add(mid)

    def start(self) -> None:
        self.client.connect_async("127.0.0.1", self.port, keepalive=10)
        self.client.loop_start()
        self._thread.start()

    def _run(self) -> None:
        began = time.monotonic()
        for index in range(self.count):
            due = began + index / self.rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            number = self.first + index
            # Not under our lock: paho calls on_publish holding its own, and publish() takes that one.
            info = self.client.publish(f"faults/s{number % SENSORS}/power", str(number), qos=1)
            with self._lock:
                if info.mid in self._early:
                    self._early.discard(info.mid)
                    self.acked.add(number)
                else:
                    self._mids[info.mid] = number
            self.published += 1
        self.done.set()

    def acked_now(self) -> set[int]:
        with self._lock:
            return set(self.acked)

    def wait_acked(self, timeout: float) -> None:
        """Wait until every reading published was acknowledged (the broker may be away a while)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.acked) >= self.published and self.done.is_set():
                    return
            time.sleep(0.05)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def announce_sensors(port: int) -> None:
    """Publish the 10 sensors' retained discovery configs (state topics at the hub's default QoS)."""
    import paho.mqtt.client as paho

    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"faults-announce-{os.getpid()}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        for k in range(SENSORS):
            config = {"name": f"Faults s{k}", "unique_id": f"faults_s{k}", "state_topic": f"faults/s{k}/power",
                      "unit_of_measurement": "W", "state_class": "measurement", "force_update": False}
            client.publish(f"{PREFIX}/sensor/faults_s{k}/config", json.dumps(config), qos=1, retain=True).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


def entity_ids() -> list[str]:
    return [f"sensor.faults_s{k}" for k in range(SENSORS)]


# ---------------------------------------------------------------- the hub


class HubProcess:
    """`python -m hub run` in a process of its own; optionally inside a mount namespace (disk_full)."""

    def __init__(self, workdir: Path, config: str, hub_root: Path, spool_tmpfs: str | None = None) -> None:
        self.config_dir = workdir / "config"
        self.data_dir = workdir / "data"
        self.config_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.config_dir / "configuration.yaml").write_text(config)
        self.log_path = workdir / "hub.log"
        self.hub_root = hub_root
        self.spool_tmpfs = spool_tmpfs
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def spool_dir(self) -> Path:
        return self.data_dir / "recorder_spool"

    def start(self) -> None:
        command = [sys.executable, "-m", "hub", "run", "-c", str(self.config_dir), "--data", str(self.data_dir),
                   "--port", str(self.port)]
        if self.spool_tmpfs is not None:
            # The spool on a small file system of its own, visible to the hub only.
            self.spool_dir.mkdir(exist_ok=True)
            script = f"mount -t tmpfs -o size={self.spool_tmpfs} benchspool {self.spool_dir} && exec \"$@\""
            command = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *command]
        env = {**os.environ, "PYTHONPATH": str(self.hub_root)}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(command, cwd=self.hub_root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)

    def readyz(self) -> tuple[int, dict[str, Any]]:
        try:
            with _NO_PROXY.open(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"{}")
        except (OSError, ValueError):
            return 0, {}

    def wait_ready(self, timeout: float = 60.0) -> float:
        began = time.monotonic()
        while time.monotonic() - began < timeout:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"the hub exited with code {self.proc.returncode}; log {self.log_path}")
            if self.readyz()[0] == 200:
                return time.monotonic() - began
            time.sleep(0.05)
        raise RuntimeError(f"the hub was not ready within {timeout:.0f} s: {self.readyz()}; log {self.log_path}")

    def embedded_broker_pid(self) -> int | None:
        pid_file = self.data_dir / "mqtt_broker" / "mosquitto.pid"
        try:
            return int(pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def in_namespace(self, shell: str) -> None:
        """Run a shell command in the hub's mount namespace (to fill and empty its spool's disk)."""
        assert self.proc is not None
        subprocess.run(["nsenter", "-t", str(self.proc.pid), "-m", "sh", "-c", shell], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the hub's log (the first traceback's, when there is one)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        at = text.find("Traceback (most recent call last)")
        shown = text[max(0, text.rfind("\n", 0, at - 300)):] if at >= 0 else text
        return "\n".join(shown.splitlines()[:lines] if at >= 0 else shown.splitlines()[-lines:])

    def tracebacks(self) -> int:
        try:
            return self.log_path.read_text(errors="replace").count("Traceback (most recent call last)")
        except OSError:
            return 0


# ---------------------------------------------------------------- history


class History:
    """Reads what the hub's history backend holds, straight from the backend (also while the hub is down)."""

    def __init__(self, kind: str, **options: Any) -> None:
        self.kind, self.options = kind, options
        self.last_error: str | None = None  # why the last read found nothing, if it failed

    def recorder_yaml(self) -> str:
        if self.kind == "sqlite":
            return "recorder:\n  commit_interval: 1\n"
        if self.kind == "postgresql":
            return f"recorder:\n  backend: postgresql\n  db_url: {self.options['url']}\n  retry_max: 1\n"
        return (f"recorder:\n  backend: influxdb\n  url: {self.options['url']}\n  database: {self.options['database']}\n"
                "  retry_max: 1\n")

    def _backend(self, data_dir: Path) -> Any:
        from hub.recorder.backends.influx_v1 import InfluxV1Backend
        from hub.recorder.backends.postgres import PostgresBackend
        from hub.recorder.backends.sqlite import SQLiteBackend

        if self.kind == "sqlite":
            return SQLiteBackend(data_dir / "history.db")
        if self.kind == "postgresql":
            return PostgresBackend(self.options["url"], pool_size=1)
        return InfluxV1Backend(self.options["url"], self.options["database"])

    def counts(self, data_dir: Path) -> collections.Counter[int]:
        """Return how often each reading is in history (an empty count while the backend is down)."""

        async def read() -> collections.Counter[int]:
            backend = self._backend(data_dir)
            found: collections.Counter[int] = collections.Counter()
            try:
                await backend.open()
                rows = await backend.read_states(entity_ids(), 0, time.time() + 3600)
            except Exception as err:  # noqa: BLE001 - the backend is down: nothing readable now
                self.last_error = f"{type(err).__name__}: {err}"
                return found
            finally:
                await backend.close()
            for samples in rows.values():
                for sample in samples:
                    if sample.value is not None:
                        found[int(sample.value)] += 1
            self.last_error = None
            return found

        if self.kind == "sqlite" and not (data_dir / "history.db").exists():
            return collections.Counter()
        return asyncio.run(read())


# ---------------------------------------------------------------- one fault


@contextmanager
def workdir(keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


def hub_yaml(broker: str, history: History, extra: str = "") -> str:
    return (f"homeassistant:\n  name: Faults\nlogger:\n  default: warning\npersistent_notification:\n"
            f"{broker}{history.recorder_yaml()}{extra}")


def run_fault(fault: str, servers: Servers, plan: Plan, hub_root: Path = ROOT, keep: bool = False,
              log: Callable[[str], None] = print) -> Result:
    """Run one fault from a fresh hub to the count; return what history holds."""
    result = Result(fault)
    embedded = fault == "embedded_kill"
    outage = fault in ("postgres_outage", "influxdb_outage")
    readings, rate = (plan.outage_readings, plan.outage_rate) if outage else (plan.readings, plan.rate)
    with workdir(keep) as work:
        if fault == "postgres_outage":
            server = servers.postgres
            if not server.running:
                server.start()
            history = History("postgresql", url=server.url(server.create_database()))
        elif fault == "influxdb_outage":
            server = servers.influxdb
            if not server.running:
                server.start()
            history = History("influxdb", url=server.url, database=f"faults_{os.getpid()}_{int(time.time())}")
        else:
            history = History("sqlite")
        if embedded:
            port = free_port()
            broker = f"mqtt:\n  embedded:\n    port: {port}\n"
        else:
            mosquitto = servers.mosquitto_slow_save if fault == "broker_kill_slow_save" else servers.mosquitto
            if not mosquitto.running:
                mosquitto.start()
            port = mosquitto.port
            broker = f"mqtt:\n  broker: mqtt://127.0.0.1:{port}\n  discovery_prefix: {PREFIX}\n  client_id: faults-{fault}-{os.getpid()}\n"
        hub = HubProcess(work, hub_yaml(broker, history), hub_root, spool_tmpfs="2m" if fault == "disk_full" else None)
        hub.start()
        publisher: Publisher | None = None
        try:
            hub.wait_ready()
            announce_sensors(port)
            wait_entities(hub)
            publisher = Publisher(port, 1, readings, rate, f"faults-device-{fault}-{os.getpid()}")
            publisher.start()
            fault_at = int(readings * plan.fault_at)
            if fault in ("broker_kill", "broker_kill_hub_behind", "broker_kill_slow_save"):
                # The sensors (re)discovered 3 s before the crash (a slow-saving broker has not saved them).
                wait_published(publisher, max(0, fault_at - int(3 * rate)))
                announce_sensors(port)
            wait_published(publisher, fault_at)
            healed_at, acked_before = inject(fault, hub, servers, plan, publisher, result, log)
            result.whole_s = wait_whole(hub, history, acked_before, healed_at, plan.settle)
            publisher.done.wait(readings / rate + plan.settle)
            publisher.wait_acked(plan.settle)
            wait_all(hub, history, publisher.acked_now(), plan.settle)
            wait_late(hub, history, publisher.acked_now(), acked_before, healed_at, plan.late, result)
        finally:
            if publisher is not None:
                publisher.stop()
            hub.stop()
            if embedded:
                stop_orphan(hub)
        counts = history.counts(hub.data_dir)
        acked = publisher.acked_now() if publisher is not None else set()
        result.published = publisher.published if publisher is not None else 0
        result.acked = len(acked)
        result.found = len(set(counts) & acked)
        result.missing = len(acked - set(counts))
        result.duplicated = sum(1 for n in acked if counts.get(n, 0) > 1)
        result.tracebacks = hub.tracebacks()
        if result.tracebacks or any("NOT REPORTED" in note for note in result.notes):
            result.notes.append(f"hub log, last lines:\n{hub.log_tail()}")
        if result.missing:
            sample = sorted(acked - set(counts))[:10]
            result.notes.append(f"missing (lost: not in history {plan.settle:g} + {plan.late:g} s after publishing) "
                                f"e.g. {sample}; hub log {hub.log_path}")
            if history.last_error:
                result.notes.append(f"reading history failed: {history.last_error}")
    return result


def wait_entities(hub: HubProcess, timeout: float = 30.0) -> None:
    """Wait until the hub shows every sensor (discovered, subscribed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body = hub.readyz()
        if status == 200 and (hub.data_dir / "hub.db").exists():
            break
        time.sleep(0.1)
    # The discovery round trip and the SUBSCRIBEs take a moment after the configs arrive.
    time.sleep(1.0)


def wait_published(publisher: Publisher, count: int) -> None:
    while publisher.published < count:
        time.sleep(0.01)


def inject(fault: str, hub: HubProcess, servers: Servers, plan: Plan, publisher: Publisher, result: Result,
           log: Callable[[str], None]) -> tuple[float, set[int]]:
    """Inject the fault, wait its time, heal it; return when it healed and what was acked by then."""
    if fault == "none":
        return time.monotonic(), publisher.acked_now()
    if fault == "hub_kill":
        hub.kill()
        time.sleep(plan.hub_down)
        acked = publisher.acked_now()
        hub.start()
        return time.monotonic(), acked
    if fault in ("broker_kill", "broker_kill_hub_behind", "broker_kill_slow_save"):
        broker = servers.mosquitto_slow_save if fault == "broker_kill_slow_save" else servers.mosquitto
        if fault == "broker_kill_hub_behind":
            assert hub.proc is not None
            hub.proc.send_signal(signal.SIGSTOP)
            time.sleep(plan.hub_behind)
        broker.kill()
        if fault == "broker_kill_hub_behind":
            hub.proc.send_signal(signal.SIGCONT)
        time.sleep(plan.broker_down)
        acked = publisher.acked_now()
        broker.start()
        return time.monotonic(), acked
    if fault == "embedded_kill":
        pid = hub.embedded_broker_pid()
        assert pid is not None, "the embedded broker wrote no pid file"
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        # The hub restarts it: healed once it listens again.
        while hub.embedded_broker_pid() in (pid, None) and time.monotonic() - killed < 30:
            time.sleep(0.01)
        return time.monotonic(), publisher.acked_now()
    if fault in ("postgres_outage", "influxdb_outage"):
        server = servers.postgres if fault == "postgres_outage" else servers.influxdb
        server.stop()
        time.sleep(plan.outage)
        status, body = hub.readyz()
        result.notes.append(f"during the outage: readyz {status} {body.get('checks', {}).get('recorder')}")
        acked = publisher.acked_now()
        server.start()
        return time.monotonic(), acked
    if fault == "disk_full":
        hub.in_namespace(f"cat /dev/zero > {hub.spool_dir}/filler")
        full = time.monotonic()
        time.sleep(plan.disk_full)
        # A loaded machine may take longer than the fault lasts to notice and say so: keep the
        # disk full until it is reported, up to REPORT_WITHIN; a hub that never reports still fails.
        probe = publisher.first + publisher.count
        while True:
            status, body = hub.readyz()
            notified = notification_shown(hub)
            if (status != 200 and notified) or time.monotonic() - full > REPORT_WITHIN:
                break
            if publisher.done.is_set():
                # The stream ended before the hub met the full disk (filling it was slow): a
                # reading beyond the counted ones makes the recorder write to its spool again.
                publisher.client.publish(f"faults/s{probe % SENSORS}/power", str(probe), qos=1)
                probe += 1
            time.sleep(0.2)
        result.notes.append(f"disk full: readyz {status} {body.get('checks', {}).get('recorder')}; notification: {notified}; "
                            f"checked {time.monotonic() - full:.1f} s after it filled")
        if status == 200 or not notified:
            result.notes.append("NOT REPORTED")
        acked = publisher.acked_now()
        hub.in_namespace(f"rm -f {hub.spool_dir}/filler")
        return time.monotonic(), acked
    raise ValueError(fault)


REPORT_WITHIN = 20.0  # seconds a full disk may go unreported on a loaded machine before it counts as not reported


def notification_shown(hub: HubProcess) -> bool:
    """Return whether the hub's database holds the recorder's spool notification."""
    import sqlite3

    try:
        with sqlite3.connect(hub.data_dir / "hub.db", timeout=5) as db:
            rows = db.execute("SELECT notification_id FROM persistent_notifications").fetchall()
    except sqlite3.Error:
        return False
    return ("recorder_spool",) in rows


def wait_whole(hub: HubProcess, history: History, acked: set[int], since: float, timeout: float) -> float | None:
    """Return the seconds from `since` until /readyz is 200 and every reading in `acked` is in history."""
    deadline = time.monotonic() + timeout
    while hub.readyz()[0] != 200:
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)
    while time.monotonic() < deadline:
        checked = time.monotonic()
        if acked <= set(history.counts(hub.data_dir)):
            # Whole no later than when this read began.
            return checked - since
        time.sleep(0.25)
    return None


def wait_late(hub: HubProcess, history: History, acked: set[int], acked_before: set[int], healed_at: float,
              timeout: float, result: Result) -> None:
    """Tell late from lost: wait up to `timeout` more for what the settle wait did not see in history.

    A reading that arrives now was slow (a busy machine, a long replay), not lost: it counts in
    `result.late`. What is still absent afterwards is `missing`. If the hub became whole only now,
    `whole_s` says when (the settle wait left it None).
    """
    checked = time.monotonic()
    absent = acked - set(history.counts(hub.data_dir))
    if not absent:
        if result.whole_s is None and hub.readyz()[0] == 200:
            result.whole_s = checked - healed_at  # whole by now, after the settle wait of wait_whole
        return
    began = time.monotonic()
    deadline = began + timeout
    still = set(absent)
    while time.monotonic() < deadline:
        checked = time.monotonic()
        still = acked - set(history.counts(hub.data_dir))
        if result.whole_s is None and hub.readyz()[0] == 200 and not (acked_before & still):
            result.whole_s = checked - healed_at
        if not still:
            break
        time.sleep(0.5)
    arrived = absent - still
    result.late = len(arrived)
    if arrived:
        result.notes.append(f"late: {len(arrived)} readings reached history only after the settle wait (the last within "
                            f"{time.monotonic() - began:.1f} s more), e.g. {sorted(arrived)[:10]}")


def wait_all(hub: HubProcess, history: History, acked: set[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if acked <= set(history.counts(hub.data_dir)):
            return
        time.sleep(0.25)


def stop_orphan(hub: HubProcess) -> None:
    """Stop an embedded broker left running (after a hub was killed, before it took it over)."""
    pid = hub.embedded_broker_pid()
    if pid is not None:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faults", nargs="+", choices=FAULTS, default=list(FAULTS))
    parser.add_argument("--short", action="store_true", help="the CI form: fewer readings, short outages")
    parser.add_argument("--readings", type=int, help="readings per fault (15,000 in the long form)")
    parser.add_argument("--rate", type=float, help="readings per second (500 in the long form)")
    parser.add_argument("--outage", type=float, help="seconds a database stays down (60 in the long form)")
    parser.add_argument("--hub-root", type=Path, default=ROOT, help="run the hub from this checkout (e.g. main, for before/after)")
    parser.add_argument("--keep", action="store_true", help="keep each fault's work directory (config, data, hub.log)")
    parser.add_argument("--settle", type=float, help="seconds to wait, after publishing, for the hub to be whole")
    parser.add_argument("--late", type=float, help="seconds more to wait for a missing reading before calling it lost")
    parser.add_argument("--load", type=int, default=0, help="busy-loop processes to run beside (a loaded machine)")
    args = parser.parse_args()
    plan = Plan.short() if args.short else Plan()
    if args.readings:
        plan.readings = args.readings
    if args.rate:
        plan.rate = args.rate
    if args.settle is not None:
        plan.settle = args.settle
    if args.late is not None:
        plan.late = args.late
    if args.outage:
        plan.outage = args.outage
        plan.outage_readings = int(plan.outage_rate * plan.outage * 1.5)
    print(f"hub from {args.hub_root}; {os.cpu_count()} CPUs; {SENSORS} sensors; {plan.readings} readings at {plan.rate:g}/s "
          f"(database outages: {plan.outage_readings} at {plan.outage_rate:g}/s, {plan.outage:g} s down)", flush=True)
    servers = Servers()
    results = []
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.load)]
    try:
        print(HEADER, flush=True)
        for fault in args.faults:
            result = run_fault(fault, servers, plan, args.hub_root, args.keep)
            results.append(result)
            print(result.row(), flush=True)
            for note in result.notes:
                print(f"{'':<22} {note}", flush=True)
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
        servers.close()
    if any(r.missing for r in results if r.fault != "broker_kill_slow_save"):
        sys.exit(1)


if __name__ == "__main__":
    main()
