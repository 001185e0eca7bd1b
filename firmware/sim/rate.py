"""High-rate mode: nodes publish telemetry at a fixed total rate, to load-test MQTT ingest.

The full firmware loop costs ~100 µs per reading in CPython (Modbus frames, CRC, paho), which
caps one process near 8,000 msg/s. This mode keeps the meter physics and the payload format
(`[<topic_root>]devices/<node_id>/state` JSON, one connection per node) but writes MQTT packets straight to
the sockets, batched per 10 ms tick, so one process can reach tens of thousands of msg/s. It
reports each second what it achieved and, if it falls short, what held it back.
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from firmware import topics
from firmware.sim import profiles
from firmware.sim.fleet import parse_broker
from firmware.sim.meter import MeterEmulator

try:
    from orjson import dumps as _dumps  # the hub's own dependency; ~10x faster than json
except ImportError:  # pragma: no cover
    import json

    def _dumps(obj: object) -> bytes:
        return json.dumps(obj).encode()

TICK = 0.01


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(value: bytes) -> bytes:
    return struct.pack(">H", len(value)) + value


def connect_packet(client_id: str, keepalive: int = 60) -> bytes:
    """Return an MQTT 3.1.1 CONNECT with a clean session."""
    body = _string(b"MQTT") + bytes((4, 0x02)) + struct.pack(">H", keepalive) + _string(client_id.encode())
    return b"\x10" + _remaining_length(len(body)) + body


def publish_packet(topic: bytes, payload: bytes) -> bytes:
    """Return a QoS 0 PUBLISH."""
    body = _string(topic) + payload
    return b"\x30" + _remaining_length(len(body)) + body


@dataclass
class RateReport:
    """One second of the run."""

    second: int
    sent: int
    target: int
    build_us: float  # CPU per message spent on readings + JSON + packet
    send_us: float  # time per message inside sendall (high: the broker is not keeping up)
    cpu: float = 0.0  # share of one core this process got in that second
    limit: str = ""


@dataclass
class _Conn:
    node_id: str
    sock: socket.socket
    topic: bytes
    meter: MeterEmulator
    out: list[bytes] = field(default_factory=list)


def _open(host: str, port: int, node_id: str) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(connect_packet(node_id))
    ack = sock.recv(4)
    if len(ack) < 4 or ack[0] != 0x20 or ack[3] != 0:
        msg = f"broker refused {node_id}: CONNACK {ack.hex()}"
        raise ConnectionError(msg)
    return sock


def run(
    broker: str,
    nodes: int,
    rate: float,
    seconds: float,
    prefix: str = "rate",
    report: Callable[[RateReport], None] = print,
    stop: threading.Event | None = None,
    topic_root: str = "",
) -> list[RateReport]:
    """Publish `rate` msg/s in total from `nodes` connections for `seconds`; return per-second reports."""
    host, port = parse_broker(broker)
    clock = time.time
    conns = []
    for index in range(1, nodes + 1):
        node_id = f"{prefix}-{index:03d}"
        meter = MeterEmulator(profiles.build(profiles.KINDS[index % len(profiles.KINDS)], index), seed=index, clock=clock)
        conns.append(_Conn(node_id, _open(host, port, node_id), topics.state(node_id, topic_root).encode(), meter))
    stop = stop or threading.Event()
    reports: list[RateReport] = []
    began = time.perf_counter()
    sent = skipped = 0
    second_sent, second_build, second_send = 0, 0.0, 0.0
    second = 0
    next_ping = began + 30
    turn = 0
    cpu_mark = time.process_time()
    try:
        while not stop.is_set():
            now = time.perf_counter()
            elapsed = now - began
            if elapsed >= seconds:
                break
            due = int(rate * elapsed) - sent - skipped
            # Catch up at most five ticks: a shortfall is reported, not made up in a burst.
            cap = max(1, int(rate * TICK * 5))
            if due > cap:
                skipped += due - cap
                due = cap
            t0 = time.perf_counter()
            for _ in range(max(due, 0)):
                conn = conns[turn]
                turn = (turn + 1) % nodes
                s = conn.meter.sample()
                payload = _dumps({
                    "voltage": round(s["voltage"], 1), "current": round(s["current"], 3),
                    "power": round(s["power"], 1), "energy": round(conn.meter.energy_wh / 1000, 3),
                    "frequency": round(s["frequency"], 1), "power_factor": round(s["pf"], 2),
                    "alarm": False, "ts": int(clock()),
                })
                conn.out.append(publish_packet(conn.topic, payload))
            t1 = time.perf_counter()
            for conn in conns:
                if conn.out:
                    conn.sock.sendall(b"".join(conn.out))
                    conn.out.clear()
            t2 = time.perf_counter()
            if due > 0:
                sent += due
                second_sent += due
                second_build += t1 - t0
                second_send += t2 - t1
            if now >= next_ping:  # keepalive, and drain what the broker sent (PINGRESP)
                next_ping = now + 30
                for conn in conns:
                    conn.sock.sendall(b"\xc0\x00")
                readable, _, _ = select.select([c.sock for c in conns], [], [], 0)
                for sock in readable:
                    sock.recv(65536)
            if int(elapsed) > second:
                cpu_now = time.process_time()
                entry = _summary(second, second_sent, rate, second_build, second_send, cpu_now - cpu_mark)
                cpu_mark = cpu_now
                reports.append(entry)
                report(entry)
                second, second_sent, second_build, second_send = int(elapsed), 0, 0.0, 0.0
            rest = TICK - (time.perf_counter() - now)
            if rest > 0:
                time.sleep(rest)
    finally:
        for conn in conns:
            try:
                conn.sock.sendall(b"\xe0\x00")  # DISCONNECT
            except OSError:
                pass
            conn.sock.close()
    return reports


def _summary(second: int, sent: int, rate: float, build: float, send: float, cpu: float) -> RateReport:
    entry = RateReport(second, sent, int(rate), build / max(sent, 1) * 1e6, send / max(sent, 1) * 1e6, cpu)
    if sent < rate * 0.97:
        if send > build:
            entry.limit = f"socket writes took {send:.2f} s of this second: the broker is not reading fast enough"
        elif cpu > 0.85:
            entry.limit = f"one CPU core is saturated ({cpu:.0%}): {entry.build_us:.1f} µs/msg building readings, JSON and packets"
        else:
            entry.limit = f"the process got only {cpu:.0%} of a core: the machine is busy with other work"
    return entry
