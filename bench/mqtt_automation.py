"""End to end through MQTT: a sensor value over a threshold -> automation -> relay command topic.

Run: .venv/bin/python bench/mqtt_automation.py [--rounds 500] [--automations 1000]

A real Mosquitto, the hub as a separate `hub run` process with the MQTT integration and a
numeric_state automation (plus --automations - 1 others watching other sensors), and this
process as the device: it publishes `power` below and then above 2,000 W and times the
publish until the relay's command arrives on its command topic. Prints p50/p99/max.
Anchor: Home Assistant 2024.1.6 measured here p50 3.8-5.0 ms, p99 9.5-15 ms; goal p99 < 4.75 ms.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mqtt_ingest import _connect_packet, _length, _publish_packet, start_mosquitto  # noqa: E402


class RawDevice:
    """The device side over plain sockets: paho's network thread adds ~20 ms of wake-up delay
    to a publish made from another thread, which would swamp what is measured here."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(_connect_packet(f"bench-device-{time.time_ns()}"))
        self._read_packet()  # CONNACK
        self.buffer = b""

    def _read_exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("broker closed the connection")
            data += chunk
        return data

    def _read_packet(self) -> tuple[int, bytes]:
        header = self._read_exact(1)[0]
        length, shift = 0, 0
        while True:
            byte = self._read_exact(1)[0]
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        return header, self._read_exact(length)

    def subscribe(self, topic: str) -> None:
        encoded = topic.encode()
        body = b"\x00\x01" + len(encoded).to_bytes(2, "big") + encoded + b"\x00"
        self.sock.sendall(b"\x82" + _length(len(body)) + body)
        self._read_packet()  # SUBACK

    def publish(self, topic: str, payload: str, retain: bool = False) -> None:
        packet = bytearray(_publish_packet(topic.encode(), payload.encode(), 0, 0))
        if retain:
            packet[0] |= 0x01
        self.sock.sendall(bytes(packet))

    def wait_publish(self, timeout: float) -> float | None:
        """Return the time a PUBLISH arrives, or None after timeout seconds."""
        self.sock.settimeout(timeout)
        try:
            while True:
                header, _ = self._read_packet()
                if header >> 4 == 3:
                    return time.perf_counter()
        except TimeoutError:
            return None
        finally:
            self.sock.settimeout(None)

    def drain(self) -> None:
        while self.wait_publish(0.002) is not None:
            pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(config: Path, broker_port: int, automations: int) -> None:
    rules = [
        {
            "id": "overpower",
            "mode": "queued",
            "triggers": [{"trigger": "numeric_state", "entity_id": "sensor.bench_power", "above": 2000}],
            "actions": [{"action": "switch.turn_on", "target": {"entity_id": "switch.bench_relay"}}],
        }
    ]
    for n in range(1, automations):
        rules.append({
            "id": f"other_{n}",
            "triggers": [{"trigger": "numeric_state", "entity_id": f"sensor.other_{n}", "above": 2000}],
            "actions": [{"action": "switch.turn_on", "target": {"entity_id": "switch.bench_relay"}}],
        })
    (config / "automations.yaml").write_text(json.dumps(rules))
    (config / "configuration.yaml").write_text(
        f"mqtt:\n  broker: mqtt://127.0.0.1:{broker_port}\nautomation: !include automations.yaml\n"
    )


def main(rounds: int, automations: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        broker, broker_port = start_mosquitto(workdir)
        config = workdir / "config"
        config.mkdir()
        write_config(config, broker_port, automations)
        hub = subprocess.Popen([sys.executable, "-m", "hub", "run", "-c", str(config), "--data", str(workdir / "data"),
                                "--port", str(free_port())], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        device = RawDevice(broker_port)
        device.subscribe("bench/relay/set")
        device.publish("homeassistant/sensor/bench/power/config", json.dumps(
            {"name": "Power", "obj_id": "bench_power", "uniq_id": "bench_power", "stat_t": "bench/power",
             "unit_of_meas": "W", "dev_cla": "power", "stat_cla": "measurement"}), retain=True)
        device.publish("homeassistant/switch/bench/relay/config", json.dumps(
            {"name": "Relay", "obj_id": "bench_relay", "uniq_id": "bench_relay", "cmd_t": "bench/relay/set",
             "stat_t": "bench/relay/state"}), retain=True)
        latencies: list[float] = []
        try:
            # Wait until the hub has discovered both and the automation reacts.
            deadline = time.time() + 60
            ready = False
            while time.time() < deadline and not ready:
                device.publish("bench/power", "100")
                time.sleep(0.05)
                device.publish("bench/power", "2500")
                ready = device.wait_publish(0.5) is not None
            if not ready:
                raise SystemExit("the hub never sent a relay command")
            for _ in range(rounds):
                device.publish("bench/power", "100")
                time.sleep(0.01)
                device.drain()
                sent = time.perf_counter()
                device.publish("bench/power", "2500")
                arrived = device.wait_publish(2)
                if arrived is not None:
                    latencies.append((arrived - sent) * 1000)
        finally:
            device.sock.close()
            hub.terminate()
            hub.wait(timeout=10)
            broker.terminate()
            broker.wait(timeout=10)
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]  # noqa: E731
    print(f"rounds: {len(latencies)}/{rounds} with {automations} automations loaded")
    print(f"publish -> relay command: p50 {statistics.median(latencies):.2f} ms  p99 {p(0.99):.2f} ms  max {latencies[-1]:.2f} ms")
    print("anchor Home Assistant 2024.1.6: p50 3.8-5.0 ms, p99 9.5-15 ms; goal p99 < 4.75 ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=500)
    parser.add_argument("--automations", type=int, default=1000)
    args = parser.parse_args()
    main(args.rounds, args.automations)
