"""Many simulated nodes in one process: build them, step them, inject faults.

Every node runs the real firmware (`firmware.node.Node`) on a `VirtualBoard`; one thread
steps all of them in turn, as a device's main loop would step one. A node's PZEM keeps its
energy counter in `<node dir>/pzem.json` (the real meter keeps it in its own memory), so a
restart carries on counting where it stopped; `catch_up` replays the time the simulator was
not running (up to a day), as readings a node would upload from its offline buffer.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from firmware import compat
from firmware.config import validate
from firmware.hmac_sha256 import hmac_sha256
from firmware.pzem import decode_measurements
from firmware.sim import profiles
from firmware.sim.board import Reboot, VirtualBoard
from firmware.sim.meter import MeterEmulator
from firmware.sim.shims import install

_LOGGER = logging.getLogger("firmware.sim")
COUNTER_FILE = "pzem.json"
COUNTER_SAVE_EVERY = 30.0  # seconds between saves of a meter's counter
FAULTS = ("offline", "online", "stuck_relay", "unstick", "anomaly", "meter_reset", "meter_silent", "meter_noise", "clear", "reboot")


def device_key(master: bytes, node_id: str) -> bytes:
    """Return a node's OTA key derived from a fleet secret (HMAC(master, node_id))."""
    return hmac_sha256(master, node_id.encode())


def parse_broker(url: str) -> tuple[str, int]:
    """Return (host, port) from mqtt://host:port."""
    parts = urlsplit(url if "://" in url else "mqtt://" + url)
    if parts.scheme not in ("mqtt", "tcp"):
        msg = f"broker URL must be mqtt://host:port, got {url!r}"
        raise ValueError(msg)
    return parts.hostname or "127.0.0.1", parts.port or 1883


class SimNode:
    """One simulated node: its settings, board and running firmware."""

    def __init__(
        self,
        config: dict[str, Any],
        root: Path,
        kind: str,
        seed: int,
        wall: Callable[[], int] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.config = config
        self.wall = wall
        self.clock = clock
        self.root = root
        self.kind = kind
        self.seed = seed
        self.reboots = 0
        self.faults: dict[str, float] = {}  # fault -> time it ends (inf: until cleared)
        root.mkdir(parents=True, exist_ok=True)
        saved = self._load_counter()
        # A meter first seen starts at a few kWh; later ones carry on from the saved counter.
        self.counter_saved_at: float | None = saved[1] if saved else None
        meter = MeterEmulator(profiles.build(kind, seed), seed=seed, clock=clock or time.time, energy_wh=saved[0] if saved else seed % 7 * 1000.0)
        self.board = VirtualBoard(config["node_id"], meter, [r["pin"] for r in config["relays"]])
        self._next_save = 0.0
        self.node = self._boot()

    @property
    def node_id(self) -> str:
        return str(self.config["node_id"])

    def _boot(self) -> Any:
        from firmware.node import Node

        # Every boot starts from the flash files, like a device: relays.json, readings.bin.
        self.board.clients.clear()
        self.board.pins = {pin: value for pin, value in self.board.pins.items() if pin in self.board.stuck}
        with self.board.active():
            return Node(validate(json.loads(json.dumps(self.config))), root=str(self.root), clock=self.clock, wall=self.wall)

    def step(self) -> None:
        """Run one step of the firmware; reboot it when it asked to."""
        now = time.monotonic()
        for fault, until in list(self.faults.items()):
            if now >= until:
                self.fault("clear", fault=fault)
        try:
            self.node.step()
        except Reboot:
            self.reboot()
        if now >= self._next_save:
            self._next_save = now + COUNTER_SAVE_EVERY
            self.save_counter()

    def _load_counter(self) -> tuple[float, float] | None:
        try:
            saved = json.loads((self.root / COUNTER_FILE).read_text())
            return float(saved["energy_wh"]), float(saved["ts"])
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as err:
            _LOGGER.warning("%s: %s is unreadable (%s); the meter starts again", self.config["node_id"], COUNTER_FILE, err)
            return None

    def save_counter(self) -> None:
        """Write the meter's energy counter (atomically: a crash leaves the old or the new one)."""
        path = self.root / COUNTER_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"energy_wh": self.board.meter.energy_wh, "ts": time.time()}))
        os.replace(tmp, path)

    def catch_up(self, now: float, span: float, step: float) -> list[dict[str, Any]]:
        """Replay the meter from its last save (at most `span` seconds back, a day on a first run).

        Returns the readings, one per `step` seconds, as the firmware reads them (energy in kWh
        at the meter's 1 Wh resolution). The counter ends where those readings end, so live
        readings carry on from there.
        """
        since = max(self.counter_saved_at or 0.0, now - span)
        if now - since < step:
            return []
        readings = []
        for at, registers in self.board.meter.replay(since, now, step):
            reading = decode_measurements(b"".join(r.to_bytes(2, "big") for r in registers))
            reading.pop("alarm", None)
            reading["ts"] = round(at)
            readings.append(reading)
        return readings

    def reboot(self) -> None:
        """Restart the firmware (after an OTA update or on request)."""
        self.board.go_offline()
        self.board.online = "offline" not in self.faults
        self.node.buffer.close()  # a reset closes every file
        self.node.ota.abort()
        self.reboots += 1
        self.node = self._boot()

    def fault(self, kind: str, seconds: float | None = None, relay: str | None = None, factor: float = 4.0, fault: str | None = None) -> None:
        """Inject or clear a fault (see FAULTS); seconds bounds it, else it lasts until cleared."""
        until = time.monotonic() + seconds if seconds else float("inf")
        board, meter = self.board, self.board.meter
        if kind == "offline":
            board.go_offline()
        elif kind == "online":
            kind, fault = "clear", "offline"
        elif kind == "stuck_relay":
            names = [r["name"] for r in self.config["relays"]]
            pin = self.config["relays"][names.index(relay) if relay in names else 0]["pin"]
            board.stuck.add(pin)
        elif kind == "unstick":
            kind, fault = "clear", "stuck_relay"
        elif kind == "anomaly":
            meter.anomaly = factor
        elif kind == "meter_reset":
            meter.reset_counter()
            return
        elif kind == "meter_silent":
            meter.silent = True
        elif kind == "meter_noise":
            meter.garble = 3
            return
        elif kind == "reboot":
            self.reboot()
            return
        if kind == "clear":
            for name in [fault] if fault else list(self.faults):
                self.faults.pop(name, None)
                self._clear(name)
            return
        self.faults[kind] = until
        _LOGGER.info("%s: fault %s", self.node_id, kind)

    def _clear(self, name: str) -> None:
        meter = self.board.meter
        if name == "offline":
            self.board.online = True
        elif name == "stuck_relay":
            self.board.stuck.clear()
        elif name == "anomaly":
            meter.anomaly = 1.0
        elif name == "meter_silent":
            meter.silent = False


class Fleet:
    """Build and run simulated nodes.

    Args:
        broker: mqtt://host:port.
        count: number of nodes.
        data_dir: where each node keeps its flash files (<data_dir>/<node_id>/).
        interval: telemetry interval in seconds.
        prefix: node ids are <prefix>-001, <prefix>-002, ...
        ota_master: fleet secret the per-node OTA keys derive from (None: OTA disabled).
        relays: relays per node.
        discovery_prefix: the hub's discovery prefix.
        topic_root: what the nodes' topics hang under (the hub's `mqtt: topic_root:`).
        wall: the nodes' wall clock for reading timestamps (tests pass a fake one).
        clock: the simulation's time in seconds, for the meters' physics and the nodes' schedule
            (default: real time; a test passes its manual clock to simulate an hour at once).
    """

    def __init__(
        self,
        broker: str,
        count: int,
        data_dir: Path,
        interval: float = 10.0,
        prefix: str = "sim",
        ota_master: bytes | None = None,
        relays: int = 1,
        discovery_prefix: str = "homeassistant",
        wall: Callable[[], int] | None = None,
        clock: Callable[[], float] | None = None,
        topic_root: str = "",
    ) -> None:
        install()
        compat.log = lambda message: _LOGGER.debug("%s", message)
        self.broker = broker
        host, port = parse_broker(broker)
        self.nodes: list[SimNode] = []
        for index in range(1, count + 1):
            node_id = f"{prefix}-{index:03d}"
            kind = profiles.KINDS[(index - 1) % len(profiles.KINDS)]
            config = {
                "node_id": node_id,
                "name": f"{kind.capitalize()} {index}",
                "discovery_prefix": discovery_prefix,
                "topic_root": topic_root,
                "wifi": {"ssid": "sim"},
                "mqtt": {"host": host, "port": port, "keepalive": 30},
                "pzem": {"uart": 2, "address": 1},
                "relays": [{"name": f"relay{n}", "pin": (5, 4, 14, 12)[n - 1], "label": f"Relay {n}", "initial": True} for n in range(1, relays + 1)],
                "telemetry_interval": interval,
                "ota_key": device_key(ota_master, node_id).hex() if ota_master else None,
            }
            self.nodes.append(SimNode(config, data_dir / node_id, kind, seed=index, wall=wall, clock=clock))
        self.by_id = {node.node_id: node for node in self.nodes}
        self.data_dir = data_dir
        self.wall = wall
        self.clock = clock
        self._control: Any = None
        # Faults run on the stepping thread, between steps: a socket is never closed under paho.
        self._queue: deque[Callable[[], None]] = deque()

    def add(self, config: dict[str, Any]) -> SimNode:
        """Add a node that runs this config.json as it is (the host, account and TLS fingerprint
        the hub's Add device page gave; its Wi-Fi settings are not used)."""
        validate(json.loads(json.dumps(config)))  # a ConfigError names the bad setting
        index = len(self.nodes) + 1
        node = SimNode(config, self.data_dir / str(config.get("node_id")), profiles.KINDS[(index - 1) % len(profiles.KINDS)],
                       seed=index, wall=self.wall, clock=self.clock)
        self.nodes.append(node)
        self.by_id[node.node_id] = node
        return node

    def step(self) -> None:
        """Step every node once."""
        while self._queue:
            self._queue.popleft()()
        for node in self.nodes:
            node.step()
        if self._control is not None:
            self._control.loop(0.0)

    def run(self, stop: threading.Event, tick: float = 0.05) -> None:
        """Step the nodes until stop is set."""
        while not stop.is_set():
            began = time.monotonic()
            self.step()
            stop.wait(max(0.0, tick - (time.monotonic() - began)))

    def fault(self, node_id: str, kind: str, **options: Any) -> None:
        """Inject a fault into one node ("*" for all)."""
        if kind not in FAULTS:
            msg = f"unknown fault {kind!r}; one of {', '.join(FAULTS)}"
            raise ValueError(msg)
        targets = self.nodes if node_id == "*" else [self.by_id[node_id]]
        for node in targets:
            self._queue.append(lambda node=node: node.fault(kind, **options))

    def listen_for_faults(self) -> None:
        """Take faults from MQTT: `sim/<node_id|*>/fault` with {"fault": kind, "seconds": n, ...}."""
        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        host, port = parse_broker(self.broker)
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"sim-control-{id(self)}")
        client.on_message = self._on_control
        client.connect(host, port)
        client.subscribe("sim/+/fault")
        self._control = client

    def _on_control(self, client: Any, userdata: Any, message: Any) -> None:
        node_id = message.topic.split("/")[1]
        try:
            options = json.loads(message.payload)
            kind = options.pop("fault")
            self.fault(node_id, kind, **{k: v for k, v in options.items() if k in ("seconds", "relay", "factor", "fault")})
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            _LOGGER.warning("ignored fault message on %s: %s (%r)", message.topic, err, message.payload[:200])

    def catch_up(self, now: float, span: float = 86400.0, step: float = 60.0) -> dict[str, list[dict[str, Any]]]:
        """Replay every node's meter over the time the simulator did not run (see SimNode.catch_up).

        Returns the readings per node id, for the caller to upload as the nodes' offline buffers.
        Call it before `run`.
        """
        return {node.node_id: node.catch_up(now, span, step) for node in self.nodes}

    def close(self) -> None:
        """Stop: drop every connection as a power cut would (the broker publishes their wills)."""
        for node in self.nodes:
            node.board.go_offline()
            node.node.buffer.close()
            node.save_counter()
        if self._control is not None:
            self._control.disconnect()
