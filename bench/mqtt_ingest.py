"""MQTT ingest through a real Mosquitto: discovered sensors fed by a separate publisher process.

    .venv/bin/python bench/mqtt_ingest.py --recorder --ws    # both client backends, twice each
    .venv/bin/python bench/mqtt_ingest.py --client gmqtt --repeat 1
    .venv/bin/python bench/mqtt_ingest.py --template         # payload {"ts": ...} through value_template
    .venv/bin/python bench/mqtt_ingest.py --client gmqtt --qos 0 --recorder --ws --rates 30000 --seconds 10 --repeat 1

Each run is a hub in its own process (so CPU and RSS are its own) on one shared Mosquitto;
runs alternate between the backends (gmqtt, paho, gmqtt, paho) so both see the same machine.
--recorder turns the recorder on; --ws adds a WebSocket client in another process subscribed to
state_changed (as a dashboard is). Prints, per QoS and rate: messages sent/received, loss, drain
time after the publisher stops, hub CPU seconds per 1,000 messages; the highest rate sustained
(<1% loss, drained within 0.5 s: no growing backlog); publish->state_changed p50/p99 at 1k
msg/s; RSS; then a summary per run and the receive ceilings of the bare libraries (aiomqtt's
iterator, paho's threaded loop, gmqtt's callback) and of the hub's client on each backend, after
the publisher's own ceiling (one process and two; --publishers N shares every rate among N).
Latency is publish -> state_changed in the hub (and -> the WebSocket client), from the moment a
batch of readings is handed to the publisher's socket.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _child_token import child_token, with_token  # noqa: E402 - bench/ is the script's folder

# ---------------------------------------------------------------- publisher (separate process)


def _length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _connect_packet(client_id: str) -> bytes:
    body = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(client_id).to_bytes(2, "big") + client_id.encode()
    return b"\x10" + _length(len(body)) + body


def _publish_packet(topic: bytes, payload: bytes, qos: int, packet_id: int) -> bytes:
    body = len(topic).to_bytes(2, "big") + topic
    if qos:
        body += packet_id.to_bytes(2, "big")
    body += payload
    return (b"\x32" if qos else b"\x30") + _length(len(body)) + body


def publisher(port: int, rate: float, seconds: float, qos: int, topics: int, template: bool, count: int,
              offset: int = 0) -> None:
    """Publish at a fixed rate (raw MQTT over a socket, so the publisher is never the bottleneck).

    QoS 0 packets are pre-built per topic up to their payload, a fixed-width time.time() taken
    once per batch just before the batch is written: a batch of n readings is one
    `stamp.join(prefixes)` (C), so one process reaches 100,000s of packets a second, and the
    latency measured starts when the bytes are handed to the socket, not when they were built.
    """
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(_connect_packet(f"bench-pub-{os.getpid()}"))
    assert sock.recv(4)[:1] == b"\x20"
    acks = [0]

    def read_acks() -> None:
        buffer = b""
        while True:
            data = sock.recv(65536)
            if not data:
                return
            buffer += data
            whole = len(buffer) // 4
            acks[0] += whole  # PUBACKs are 4 bytes each
            buffer = buffer[whole * 4 :]

    reader = threading.Thread(target=read_acks, daemon=True)
    reader.start()
    names = [f"bench/{i}/state".encode() for i in range(topics)]
    width = len(f"{time.time():.6f}")  # 17 characters until the year 2286
    head, tail = (b'{"ts": ', b"}") if template else (b"", b"")
    # Each QoS 0 packet up to its stamp; a batch is prefix, stamp+tail, prefix, stamp+tail, ...
    size = len(head) + width + len(tail)
    prefixes = [_publish_packet(name, b"0" * size, 0, 0)[:-size] + head for name in names]
    rotation = prefixes[offset % topics:] + prefixes[: offset % topics]
    total = count if count else int(rate * seconds)
    sent = 0
    packet_id = 0
    started = time.time()
    while sent < total:
        now = time.time()
        due = total if not rate else min(total, int((now - started) * rate) + 1)
        if due > sent:
            if qos:
                batch = []
                for n in range(sent, due):
                    packet_id = packet_id % 65535 + 1
                    stamp = f"{time.time():.6f}"
                    payload = f'{{"ts": {stamp}}}' if template else stamp
                    batch.append(_publish_packet(names[(n + offset) % topics], payload.encode(), qos, packet_id))
                sock.sendall(b"".join(batch))
            else:
                chunk = [rotation[n % topics] for n in range(sent, due)]
                stamp = f"{time.time():.6f}".encode() + tail
                sock.sendall(stamp.join(chunk) + stamp)
            sent = due
        if rate:
            time.sleep(0.002)
    ended = time.time()
    deadline = time.time() + 10
    while qos and acks[0] < sent and time.time() < deadline:
        time.sleep(0.01)
    sock.sendall(b"\xe0\x00")
    sock.close()
    print(json.dumps({"sent": sent, "started": started, "ended": ended, "acked": acks[0]}))


# ---------------------------------------------------------------- broker


def start_mosquitto(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = workdir / "mosquitto.conf"
    lines = [f"listener {port} 127.0.0.1", "allow_anonymous true", "max_queued_messages 1000000",
             "max_inflight_messages 1000", "persistence false", "log_type error",
             # as the hub's embedded broker: without it Nagle delays each PUBLISH 20-40 ms
             "set_tcp_nodelay true"]
    if os.geteuid() == 0:
        lines.append("user root")
    config.write_text("\n".join(lines) + "\n")
    proc = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port)).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("mosquitto did not start")


async def run_publisher(port: int, rate: float, seconds: float, qos: int, topics: int, template: bool, count: int = 0,
                        publishers: int = 1) -> dict:
    """Publish from `publishers` processes (each rate/n over every topic, from its own offset); merged report."""

    async def one(index: int) -> dict:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--publisher", "--port", str(port), "--rate", str(rate / publishers),
            "--seconds", str(seconds), "--qos", str(qos), "--topics", str(topics), "--count", str(count // publishers),
            "--offset", str(index * topics // publishers), *(["--template"] if template else []),
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await proc.communicate()
        return json.loads(out.decode().strip().splitlines()[-1])  # type: ignore[no-any-return]

    reports = await asyncio.gather(*(one(i) for i in range(publishers)))
    return {"sent": sum(r["sent"] for r in reports), "started": min(r["started"] for r in reports),
            "ended": max(r["ended"] for r in reports), "acked": sum(r["acked"] for r in reports)}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _malloc_heap() -> str:
    """Return glibc's heap in use and free (every arena): RSS the allocator keeps after a burst shows as free."""
    import ctypes

    class _Mallinfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

    try:
        mallinfo2 = ctypes.CDLL(None).mallinfo2
    except (AttributeError, OSError):
        return ""
    mallinfo2.restype = _Mallinfo2
    info = mallinfo2()
    return f"; malloc heap {info.uordblks / 1e6:.0f} MB used, {info.fordblks / 1e6:.0f} MB free, mmap {info.hblkhd / 1e6:.0f} MB"


GLIBC_HEAP_MAX = 64 << 20  # a glibc thread arena's heap is mapped at a multiple of this (64-bit)


def _mapping_kind(start: int, name: str) -> str:
    """Name what a mapping of /proc/self/smaps holds, coarsely enough that one kind's growth stands out."""
    if name == "[heap]":
        return "glibc main heap"
    if not name:
        # A thread arena's heap starts at a multiple of 64 MB; Python's 1 MB arenas, blocks
        # glibc mmaps (>= 128 kB), SQLite's and thread stacks are the other anonymous mappings.
        return "glibc thread arenas" if start % GLIBC_HEAP_MAX == 0 else "other anonymous"
    if name.startswith("/") and (name.endswith(".so") or ".so." in name):
        return "shared libraries"
    return name.rsplit("/", 1)[-1] if name.startswith("/") else name


def memory_map() -> dict[str, int]:
    """Return the process's resident kB per kind of mapping (/proc/self/smaps), Python's arenas apart."""
    kinds: dict[str, int] = {}
    kind = ""
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            fields = line.split(maxsplit=5)
            if fields[0].endswith(":"):
                if fields[0] == "Rss:":
                    kinds[kind] = kinds.get(kind, 0) + int(fields[1])
                continue
            kind = _mapping_kind(int(fields[0].split("-")[0], 16), fields[5].strip() if len(fields) > 5 else "")
    arenas = python_arenas()
    if arenas is not None:
        kinds["of which Python arenas (1 MB each)"] = arenas * 1024
    return kinds


def python_arenas() -> int | None:
    """Return how many arenas Python's object allocator holds (CPython; None elsewhere).

    sys.getallocatedblocks() counts live objects: an arena one live object pins stays mapped,
    so after a burst the arenas, not the blocks, are what RSS follows.
    """
    import re

    debug = getattr(sys, "_debugmallocstats", None)
    if debug is None:
        return None
    with tempfile.TemporaryFile() as out:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(out.fileno(), 2)  # the statistics go to the C-level stderr
        try:
            debug()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        found = re.search(rb"# arenas allocated current\s*=\s*([\d,]+)", out.read())
    return int(found.group(1).replace(b",", b"")) if found else None


def grown(before: dict[str, int], after: dict[str, int], threshold_kb: int = 1024) -> str:
    """Return the kinds of mapping whose RSS changed by threshold_kb or more, largest change first."""
    changes = sorted(((after.get(k, 0) - before.get(k, 0), k) for k in before.keys() | after.keys()),
                     key=lambda c: -abs(c[0]))
    return ", ".join(f"{k} {d / 1024:+.1f} MB (now {after.get(k, 0) / 1024:.1f})"
                     for d, k in changes if abs(d) >= threshold_kb)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# ---------------------------------------------------------------- WebSocket subscriber (separate process)


async def ws_subscriber(url: str, token: str) -> None:
    """Subscribe to state_changed like a dashboard; print the events counted when stdin closes.

    Also prints when the hub closed the socket: it cuts off a client that falls too far behind,
    and rows measured after that were measured without a WebSocket subscriber.
    """
    import aiohttp
    import orjson

    count = [0]
    latencies: list[float] = []
    closed_at: list[float | None] = [None]
    async with aiohttp.ClientSession() as session, session.ws_connect(f"{url}/api/websocket", max_msg_size=0) as ws:
        await ws.receive()
        await ws.send_json({"type": "auth", "access_token": token})
        assert (await ws.receive_json())["type"] == "auth_ok"
        await ws.send_json({"id": 1, "type": "supported_features", "features": {"coalesce_messages": 1}})
        await ws.receive()
        await ws.send_json({"id": 2, "type": "subscribe_events", "event_type": "state_changed"})
        await ws.receive()
        print("ready", flush=True)

        async def read() -> None:
            async for msg in ws:
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    break
                now = time.time()
                data = orjson.loads(msg.data)
                for item in data if isinstance(data, list) else (data,):
                    if item.get("type") == "event":
                        count[0] += 1
                        # The state is the publisher's time.time(): publish -> WebSocket client.
                        if count[0] % 10 == 0:
                            try:
                                latencies.append(now - float(item["event"]["data"]["new_state"]["state"]))
                            except (KeyError, TypeError, ValueError):
                                pass
            closed_at[0] = time.time()

        reader = asyncio.create_task(read())
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        reader.cancel()
    ordered = sorted(latencies)
    p50 = ordered[len(ordered) // 2] * 1000 if ordered else None
    p99 = ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000 if ordered else None
    print(json.dumps({"events": count[0], "closed_at": closed_at[0], "p50_ms": p50, "p99_ms": p99}), flush=True)


# ---------------------------------------------------------------- the hub side (one process per run)


class Reservoir(list):
    """A uniform sample of at most `size` of the values appended (Algorithm R), seeded.

    A soak at 5,000 readings/s for 30 minutes sees 9 million latencies and 1.8 million loop
    ticks: kept whole they grew the hub process's RSS by hundreds of MB, which is the
    benchmark's memory, not the hub's. Percentiles of the sample estimate the whole run's.
    """

    def __init__(self, size: int = 100_000) -> None:
        super().__init__()
        self.size = size
        self.seen = 0
        self.largest = 0.0  # the largest value appended, sampled or not
        self._random = random.Random(23)

    def append(self, value: float) -> None:  # type: ignore[override]
        self.seen += 1
        if value > self.largest:
            self.largest = value
        if len(self) < self.size:
            super().append(value)
        else:
            slot = self._random.randrange(self.seen)
            if slot < self.size:
                self[slot] = value

    def clear(self) -> None:
        super().clear()
        self.seen = 0
        self.largest = 0.0


def thread_times() -> dict[str, tuple[float, float]]:
    """Each thread of this process (by name, numbered threads summed): CPU seconds and seconds
    spent runnable but waiting for a core (the machine's load), from /proc's schedstat."""
    names = {thread.native_id: thread.name for thread in threading.enumerate()}
    out: dict[str, tuple[float, float]] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            ran, waited, _ = (int(x) for x in (task / "schedstat").read_text().split())
        except (OSError, ValueError):
            continue
        name = names.get(int(task.name), "other")
        name = name.rstrip("0123456789").rstrip("_-") or name
        cpu, wait = out.get(name, (0.0, 0.0))
        out[name] = (cpu + ran / 1e9, wait + waited / 1e9)
    return out


STEP_EDGES = (0.0005, 0.001, 0.002, 0.005, 0.010)  # seconds: the --slow-callbacks histogram of loop callbacks


class Stalls:
    """What holds the loop: a 1 ms ticker's lateness, and garbage collections with their pauses."""

    def __init__(self) -> None:
        self.lags: list[float] = Reservoir()
        self.gcs: list[tuple[int, float]] = []
        self._gc_began = 0.0
        self._task: asyncio.Task[None] | None = None
        self._threads = thread_times()
        self._wall = time.perf_counter()
        self.step_counts = [0] * (len(STEP_EDGES) + 1)
        self.step_cpu = [0.0] * (len(STEP_EDGES) + 1)

    def _on_gc(self, phase: str, info: dict) -> None:
        # CPU time of this thread: on a loaded machine wall time also counts other processes.
        if phase == "start":
            self._gc_began = time.thread_time()
        else:
            self.gcs.append((info["generation"], time.thread_time() - self._gc_began))

    async def _tick(self) -> None:
        while True:
            began = time.perf_counter()
            await asyncio.sleep(0.001)
            self.lags.append(time.perf_counter() - began - 0.001)

    def start(self) -> None:
        import gc

        gc.callbacks.append(self._on_gc)
        self._task = asyncio.get_running_loop().create_task(self._tick())
        if self.handles is not None:
            self._wrap_handles()

    handles: list[tuple[float, str]] | None = None

    def _wrap_handles(self) -> None:
        """Time every loop callback in CPU time and keep the ones over 2 ms, named (--slow-callbacks)."""
        from asyncio import events

        original = events.Handle._run
        slow = self.handles
        assert slow is not None

        edges, counts, cpu = STEP_EDGES, self.step_counts, self.step_cpu

        def run(handle: events.Handle) -> None:
            callback = handle._callback  # type: ignore[attr-defined]  # before it runs: some clear it
            began = time.thread_time()
            original(handle)
            spent = time.thread_time() - began
            slot = bisect.bisect(edges, spent)
            counts[slot] += 1
            cpu[slot] += spent
            if spent > 0.002:
                task = getattr(callback, "__self__", None)
                name = repr(task.get_coro()) if isinstance(task, asyncio.Task) else repr(callback)
                slow.append((spent, name[:160]))

        events.Handle._run = run  # type: ignore[method-assign]

    def stop(self) -> None:
        import gc

        gc.callbacks.remove(self._on_gc)
        if self._task is not None:
            self._task.cancel()

    def reset(self) -> None:
        self.lags.clear()
        self.gcs.clear()
        self._threads = thread_times()
        self._wall = time.perf_counter()
        if self.handles is not None:
            self.handles.clear()
            self.step_counts[:] = [0] * len(self.step_counts)
            self.step_cpu[:] = [0.0] * len(self.step_cpu)

    def report(self) -> dict:
        lags = sorted(self.lags) or [0.0]
        pauses = [d for _, d in self.gcs] or [0.0]
        return {"lag_p99_ms": lags[int(len(lags) * 0.99) - 1 if len(lags) > 1 else 0] * 1000, "lag_max_ms": max(lags[-1], getattr(self.lags, "largest", 0.0)) * 1000,
                "gc_count": len(self.gcs), "gc_max_ms": max(pauses) * 1000,
                "gc_gen2": sum(1 for g, _ in self.gcs if g == 2),
                "gc_cpu_ms": sum(d for _, d in self.gcs) * 1000,
                "threads": self._thread_summary(),
                "slow_callbacks": self._slow_summary()}

    def _thread_summary(self) -> dict[str, tuple[float, float]]:
        """Per thread since reset(): share of the wall time on a CPU, and share runnable but not on one."""
        wall = time.perf_counter() - self._wall
        before, now = self._threads, thread_times()
        out = {}
        for name, (cpu, wait) in now.items():
            cpu0, wait0 = before.get(name, (0.0, 0.0))
            if cpu - cpu0 > 0.01 * wall:
                out[name] = ((cpu - cpu0) / wall, (wait - wait0) / wall)
        return dict(sorted(out.items(), key=lambda item: -item[1][0]))

    def _slow_summary(self) -> list[str]:
        if self.handles is None:
            return []
        labels = ["<0.5", "0.5-1", "1-2", "2-5", "5-10", ">10"]
        total = sum(self.step_cpu) or 1.0
        lines = ["loop callbacks by CPU ms: " + ", ".join(
            f"{label}: {n} ({cpu / total:.0%} of loop CPU)" for label, n, cpu in zip(labels, self.step_counts, self.step_cpu, strict=True))]
        by_name: dict[str, list[float]] = {}
        for spent, name in self.handles:
            by_name.setdefault(name.split(" at 0x")[0], []).append(spent)
        top = sorted(by_name.items(), key=lambda item: -sum(item[1]))[:6]
        return lines + [f"{len(times)}x max {max(times) * 1000:.1f} ms CPU: {name}" for name, times in top]


async def bench_hub(args: argparse.Namespace, port: int, workdir: Path) -> dict:
    import aiomqtt

    if args.as_hub_run:
        from hub.ops.allocator import tune_allocator

        tune_allocator()  # as `hub run` does: a long-running process's allocator settings

    from hub import bootstrap
    from hub.core.bus import callback
    from integrations.mqtt import runtime_of

    config_dir = workdir / "config"
    config_dir.mkdir()
    text = (f"mqtt:\n  broker: mqtt://127.0.0.1:{port}\n  discovery_prefix: bench\n  client: {args.client}\n"
            f"  client_id: {args.client_id}\nlogger:\n  default: warning\n")
    if args.recorder:
        text += "recorder:\n"
    (config_dir / "configuration.yaml").write_text(text)
    runtime = await bootstrap.start(config_dir, workdir / "data", port=0)
    hub = runtime.hub
    mqtt = runtime_of(hub)
    assert mqtt is not None and mqtt.discovery is not None
    template = "{{ value_json.ts }}" if args.template else None
    token = ""
    if args.ws:
        user = await hub.auth.add_user("bench", "bench password", "owner")
        token = await hub.auth.create_long_lived_token(user.id, "bench")

    async def ws_start() -> asyncio.subprocess.Process:
        # A fresh subscriber per row: one the hub cut off in an earlier row does not hide the next.
        proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--ws-subscriber", runtime.url,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=with_token(token))
        assert proc.stdout is not None
        assert (await proc.stdout.readline()).strip() == b"ready"
        return proc

    async def ws_stop(proc: asyncio.subprocess.Process) -> dict:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.close()
        report = json.loads((await proc.stdout.read()).decode().strip().splitlines()[-1])
        await proc.wait()
        return report

    async def discover(qos: int) -> None:
        async with aiomqtt.Client("127.0.0.1", port) as client:
            for i in range(args.sensors):
                config = {"name": f"Bench {i}", "unique_id": f"bench_{i}", "state_topic": f"bench/{i}/state", "qos": qos}
                if template:
                    config["value_template"] = template
                await client.publish(f"bench/sensor/bench_{i}/config", json.dumps(config), qos=1)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            await mqtt.discovery.wait_idle()
            entities = [e for e in mqtt.discovery.entities.values() if e.unique_id and e.unique_id.startswith("bench_")]
            if len(entities) == args.sensors and all(e.qos == qos for e in entities):
                break
            await asyncio.sleep(0.1)
        await mqtt.client.wait_subscribed()

    received = [0]
    last = [0.0]
    latencies: list[float] = Reservoir()
    sample = [False]

    @callback
    def on_change(event) -> None:  # type: ignore[no-untyped-def]
        new = event.data["new_state"]
        if new is None or not event.data["entity_id"].startswith("sensor.bench_"):
            return
        received[0] += 1
        now = time.time()
        last[0] = now
        if sample[0]:
            try:
                latencies.append(now - float(new.state))
            except ValueError:
                pass

    hub.bus.listen("state_changed", on_change)
    rss_samples: list[tuple[float, float, int]] = []  # (seconds since the first row, MB, readings so far)
    counted = [0]

    snapshots: list = []
    mapped: list[dict[str, int]] = []  # --smaps: the previous sample's RSS per kind of mapping

    async def sample_rss() -> None:
        began_at = time.monotonic()
        while True:
            await asyncio.sleep(args.rss_every)
            if args.tracemalloc:
                import tracemalloc

                # The first and the latest only: each snapshot holds every traced block.
                snapshots[1:] = [tracemalloc.take_snapshot()]
            sample = (time.monotonic() - began_at, rss_mb(), counted[0] + received[0])
            rss_samples.append(sample)
            print(f"  RSS at {sample[0]:6.0f} s: {sample[1]:6.1f} MB after {sample[2]:,} readings{held()}", flush=True)
            if args.smaps:
                kinds = memory_map()
                changed = grown(mapped[0] if mapped else {}, kinds)
                if changed:
                    print(f"    mappings {'that changed' if mapped else 'at the first sample'}: {changed}", flush=True)
                mapped[:] = [kinds]

    def held() -> str:
        """Where readings wait inside the hub: Python's live blocks and the recorder's queues."""
        from hub.recorder import RECORDER

        recorder = hub.runtime.get(RECORDER)
        text = f" (Python blocks {sys.getallocatedblocks() / 1e6:.2f} M{_malloc_heap()}"
        if recorder is not None:
            text += (f"; recorder pending {recorder.queue_depth:,}, spool {recorder.spool.points:,} points, "
                     f"decoded {recorder._recent_points:,}")
            if recorder.tiers is not None:  # when the downsampler last ran: its reads are bursts
                text += f", tiers to {time.strftime('%H:%M', time.localtime(recorder.tiers.watermarks['minute']))}"
        return text + ")"

    async def feed_direct(count: int) -> dict:
        """--direct: hand readings to the hub's MQTT client as its socket callback does, 100 per
        loop step, as fast as the hub takes them: the hub's CPU per reading without the broker,
        the publisher and the socket parsing, which share the machine's two cores otherwise."""
        from integrations.mqtt.subscriptions import Message

        handle = mqtt.client._handle
        topics = [f"bench/{i}/state" for i in range(args.sensors)]
        started = time.time()
        n = 0
        while n < count:
            now = time.time()
            stamp = (f'{{"ts": {now:.6f}}}' if args.template else f"{now:.6f}").encode()
            for j in range(n, min(n + 100, count)):
                handle(Message(topics[j % args.sensors], stamp, 0, False, now))
            n = min(n + 100, count)
            await asyncio.sleep(0)  # the WebSocket writer, the recorder and timers run between reads
        return {"sent": count, "started": started, "ended": time.time(), "acked": 0}

    stalls = Stalls()
    if args.slow_callbacks:
        stalls.handles = []
    stalls.start()
    began = time.monotonic()
    await discover(0)
    print(f"discovered {args.sensors} sensors in {time.monotonic() - began:.1f} s; RSS {rss_mb():.0f} MB", flush=True)
    if args.gc_experiment != "off":
        import gc

        # As `hub run` does once start-up settled: long-lived objects out of the collector's scans.
        from hub import heap

        heap.freeze()
        gc.set_threshold(heap.YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    if args.gc_experiment.startswith("t"):
        import gc

        gc.set_threshold(int(args.gc_experiment[1:]), 10, 10)
    # End this loop step here: the slow-callback timer charges a step when it ends, and the
    # freeze's collection (100 ms) must not be counted in the first row.
    await asyncio.sleep(0.1)
    results = []
    rss_start = rss_mb()
    sampler = asyncio.get_running_loop().create_task(sample_rss()) if args.rss_every else None
    for qos in args.qos:
        if qos != 0:
            await discover(qos)
        for rate in args.rates:
            received[0] = 0
            latencies.clear()
            sample[0] = True
            stalls.reset()
            ws = await ws_start() if args.ws else None
            cpu_before = cpu_seconds()
            if getattr(args, "direct", False):
                sent = await feed_direct(int(rate * args.seconds))
            else:
                sent = await run_publisher(port, rate, args.seconds, qos, args.sensors, args.template,
                                           publishers=getattr(args, "publishers", 1))
            # Drain: wait until everything arrived or nothing more comes for a second.
            seen, quiet_since = received[0], time.time()
            while received[0] < sent["sent"] and time.time() - quiet_since < 1.0:
                await asyncio.sleep(0.05)
                if received[0] != seen:
                    seen, quiet_since = received[0], time.time()
            cpu = cpu_seconds() - cpu_before
            loss = 1 - received[0] / sent["sent"]
            drain = max(0.0, last[0] - sent["ended"])
            achieved = sent["sent"] / (sent["ended"] - sent["started"])
            row = {"qos": qos, "rate": rate, "achieved_pub": achieved, "sent": sent["sent"], "received": received[0],
                   "loss": loss, "drain_s": drain, "cpu_per_1000": cpu / max(received[0], 1) * 1000,
                   "sustained": loss < 0.01 and drain < 0.5 and achieved > 0.95 * rate}
            if ws is not None:
                report = await ws_stop(ws)
                row["ws_events"] = report["events"]
                row["ws_connected"] = report["closed_at"] is None  # else the hub cut it off
                row["ws_p50_ms"], row["ws_p99_ms"] = report["p50_ms"], report["p99_ms"]
            if latencies:
                ordered = sorted(latencies)
                row["p50_ms"] = statistics.median(ordered) * 1000
                row["p99_ms"] = ordered[int(len(ordered) * 0.99) - 1] * 1000
            results.append(row)
            counted[0] += received[0]
            extra = f"  p50 {row['p50_ms']:.2f} ms  p99 {row['p99_ms']:.2f} ms" if "p50_ms" in row else ""
            if ws is not None:
                extra += f"  WS {row['ws_events']} events" + ("" if row["ws_connected"] else ", CUT OFF by the hub")
                if row["ws_p99_ms"] is not None:
                    extra += f" (WS p50 {row['ws_p50_ms']:.2f} p99 {row['ws_p99_ms']:.2f} ms)"
            row.update(stalls.report())
            extra += (f"  [loop lag p99 {row['lag_p99_ms']:.1f} max {row['lag_max_ms']:.1f} ms; "
                      f"GC {row['gc_count']} runs, {row['gc_cpu_ms']:.0f} ms CPU, max {row['gc_max_ms']:.1f} ms, "
                      f"gen2 {row['gc_gen2']}]")
            extra += "\n      threads (CPU / waiting for a core, share of the row's wall time): " + ", ".join(
                f"{name} {cpu:.0%}/{wait:.0%}" for name, (cpu, wait) in row["threads"].items())
            extra += "".join(f"\n      slow callback {line}" for line in row["slow_callbacks"])
            print(f"QoS {qos} {rate:>6} msg/s (published {achieved:>7.0f}/s): received {received[0]:>7}/{sent['sent']:<7} "
                  f"loss {loss:6.2%}  drain {drain:5.2f} s  CPU {row['cpu_per_1000']:.3f} s/1000 msgs"
                  f"  {'sustained' if row['sustained'] else 'NOT sustained'}{extra}", flush=True)
    if sampler is not None:
        sampler.cancel()
    if args.gc_experiment != "off":
        # What `hub run`'s periodic re-freeze (every heap.REFREEZE_EVERY) and full collection
        # (every heap.FULL_EVERY) hold the loop for, in this heap after the rows above.
        import gc

        from hub import heap

        sizes = [len(gc.get_objects(generation)) for generation in range(3)]
        began = time.thread_time()
        found = gc.collect()
        young = time.thread_time() - began
        gc.freeze()
        began = time.thread_time()
        heap.freeze(full=True)
        full_cpu = time.thread_time() - began
        print(f"heap: {sizes} objects in generations 0-2 ({gc.get_freeze_count():,} frozen); re-freeze {young * 1000:.1f} ms CPU "
              f"({found:,} unreachable), full collection and re-freeze {full_cpu * 1000:.1f} ms CPU", flush=True)
    if len(snapshots) >= 2:
        # What grew between the first sample and the last: where memory over time goes.
        for stat in snapshots[-1].compare_to(snapshots[0], "lineno")[:15]:
            print(f"  grew {stat.size_diff / 1024:8.0f} KiB in {stat.count_diff:+7} blocks: {stat.traceback}", flush=True)
    summary: dict = {"client": args.client, "rows": results, "rss_mb": rss_mb(), "rss_start_mb": rss_start,
                     "rss_samples": rss_samples, "readings": counted[0],
                     "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    stalls.stop()
    await bootstrap.stop(runtime)
    return summary


async def run_hub_process(args: argparse.Namespace, port: int, client: str, label: str) -> dict:
    """Run one hub benchmark in a child process; echo its lines, return its summary."""
    client_id = f"bench-hub-{label.replace(' #', '-').replace(':', '-')}"
    command = [sys.executable, __file__, "--hub-run", "--port", str(port), "--client", client.partition(":")[0], "--client-id", client_id,
               "--sensors", str(args.sensors), "--seconds", str(args.seconds),
               "--rates", *map(str, args.rates), "--qos", *map(str, args.qos), "--rss-every", str(args.rss_every),
               "--publishers", str(getattr(args, "publishers", 1))]
    command += ["--tracemalloc"] if getattr(args, "tracemalloc", False) else []
    command += ["--smaps"] if getattr(args, "smaps", False) else []
    command += ["--direct"] if getattr(args, "direct", False) else []
    command += ["--as-hub-run"] if getattr(args, "as_hub_run", False) else []
    command += ["--gc-experiment", client.partition(":")[2]] if ":" in client else []
    command += [flag for flag, on in (("--recorder", args.recorder), ("--ws", args.ws), ("--template", args.template),
                                      ("--slow-callbacks", args.slow_callbacks)) if on]
    proc = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    summary: dict = {}
    async for raw in proc.stdout:
        line = raw.decode().rstrip()
        if line.startswith("RESULT "):
            summary = json.loads(line[7:])
        else:
            print(f"[{label}] {line}", flush=True)
    await proc.wait()
    # End the run's persistent session, or the broker keeps queueing QoS 1 messages for it.
    import aiomqtt

    async with aiomqtt.Client("127.0.0.1", port, identifier=client_id, clean_session=True):
        pass
    return summary


def print_summary(runs: list[tuple[str, dict]], qos_levels: list[int]) -> None:
    print("\nsummary (highest rate sustained: <1% loss, drained within 0.5 s; latency publish->state_changed at 1k msg/s)")
    for label, run in runs:
        parts = []
        for qos in qos_levels:
            rows = [r for r in run["rows"] if r["qos"] == qos]
            # With --ws, a rate counts only if the WebSocket subscriber was still connected.
            ok = [r["rate"] for r in rows if r["sustained"] and r.get("ws_connected", True)]
            at_1k = next((r for r in rows if r["rate"] == 1000 and "p50_ms" in r), None)
            cpu = statistics.median(r["cpu_per_1000"] for r in rows) if rows else 0.0
            lat = f" p50 {at_1k['p50_ms']:.2f} p99 {at_1k['p99_ms']:.2f} ms" if at_1k else ""
            parts.append(f"QoS {qos}: {max(ok) if ok else 'none':>5}/s{lat} CPU {cpu:.3f} s/1000")
        print(f"  {label:<9} " + " | ".join(parts) + f" | RSS {run['rss_mb']:.0f} MB (peak {run['peak_rss_mb']:.0f})")


# ---------------------------------------------------------------- client ceilings


async def publisher_ceiling(port: int, count: int, publishers: int) -> float:
    report = await run_publisher(port, 0, 0, 0, 1000, False, count, publishers)
    return float(report["sent"]) / (report["ended"] - report["started"])


async def ceiling_aiomqtt(port: int, count: int) -> float:
    import aiomqtt

    async with aiomqtt.Client("127.0.0.1", port, max_queued_incoming_messages=0) as client:
        await client.subscribe("bench/#")
        publish = asyncio.create_task(run_publisher(port, 0, 0, 0, 1000, False, count))
        got, first = 0, 0.0
        try:
            async with asyncio.timeout(60):
                async for _ in client.messages:
                    got += 1
                    if got == 1:
                        first = time.perf_counter()
                    if got == count:
                        break
        except TimeoutError:
            pass
        await publish
        return got / (time.perf_counter() - first)


async def ceiling_gmqtt(port: int, count: int) -> float:
    import gmqtt
    from gmqtt.mqtt.constants import MQTTv311

    got = [0]
    first = [0.0]
    done = asyncio.get_running_loop().create_future()

    def on_message(client, topic, payload, qos, properties) -> None:  # type: ignore[no-untyped-def]
        got[0] += 1
        if got[0] == 1:
            first[0] = time.perf_counter()
        if got[0] == count and not done.done():
            done.set_result(time.perf_counter())

    client = gmqtt.Client(f"gmqtt-{os.getpid()}")
    client.on_message = on_message
    await client.connect("127.0.0.1", port, version=MQTTv311)
    client.subscribe("bench/#", qos=0)
    await asyncio.sleep(0.5)
    publish = asyncio.create_task(run_publisher(port, 0, 0, 0, 1000, False, count))
    end = await asyncio.wait_for(done, 60)
    await publish
    await client.disconnect()
    return count / (end - first[0])


async def ceiling_hub_client(port: int, count: int, backend: str) -> float:
    from integrations.mqtt.client import ConnectionSettings, MqttClient

    settings = ConnectionSettings(host="127.0.0.1", port=port, client_id=f"ceil-{backend}-{os.getpid()}", backend=backend)
    client = MqttClient(settings)
    got = [0]
    first = [0.0]
    done = asyncio.get_running_loop().create_future()

    def handler(message) -> None:  # type: ignore[no-untyped-def]
        got[0] += 1
        if got[0] == 1:
            first[0] = time.perf_counter()
        if got[0] == count and not done.done():
            done.set_result(time.perf_counter())

    client.subscribe("bench/#", handler)
    await client.start()
    await client.wait_connected(5)
    await client.wait_subscribed()
    publish = asyncio.create_task(run_publisher(port, 0, 0, 0, 1000, False, count))
    end = await asyncio.wait_for(done, 60)
    await publish
    await client.stop()
    return count / (end - first[0])


def ceiling_paho(port: int, count: int) -> float:
    import paho.mqtt.client as paho

    got = [0]
    first = [0.0]
    finished = threading.Event()

    def on_message(client, userdata, message) -> None:  # type: ignore[no-untyped-def]
        got[0] += 1
        if got[0] == 1:
            first[0] = time.perf_counter()
        if got[0] == count:
            first.append(time.perf_counter())
            finished.set()

    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"paho-{os.getpid()}")
    client.on_message = on_message
    client.connect("127.0.0.1", port)
    client.subscribe("bench/#")
    client.loop_start()
    time.sleep(0.5)
    subprocess.run([sys.executable, __file__, "--publisher", "--port", str(port), "--rate", "0", "--seconds", "0",
                    "--qos", "0", "--topics", "1000", "--count", str(count)], stdout=subprocess.DEVNULL, check=True)
    finished.wait(60)
    client.loop_stop()
    client.disconnect()
    return count / (first[1] - first[0])


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-mqtt-") as tmp:
        broker, port = start_mosquitto(Path(tmp))
        try:
            flags = ", ".join(name for name, on in (("recorder", args.recorder), ("WebSocket subscriber", args.ws),
                                                    ("value_template", args.template)) if on) or "nothing else"
            print(f"mosquitto on port {port}; {os.cpu_count()} CPUs; python {sys.version.split()[0]}; "
                  f"{args.sensors} sensors, {args.seconds:g} s per rate; hub with {flags}", flush=True)
            runs = []
            for repeat in range(1, args.repeat + 1):
                for client in args.client:
                    label = f"{client} #{repeat}"
                    runs.append((label, await run_hub_process(args, port, client, label)))
            print_summary(runs, args.qos)
            if args.ceilings:
                n = args.ceiling_messages
                # A list, not a generator: with `await` inside, a generator expression is asynchronous
                # and str.join cannot iterate it ("can only join an iterable").
                rates = [await publisher_ceiling(port, n, p) for p in (1, 2)]
                print(f"\npublisher ceiling, QoS 0, {n} messages as fast as it can (nobody subscribed): "
                      + "  ".join(f"{rate:>8.0f} msg/s with {p} process(es)" for p, rate in zip((1, 2), rates, strict=True)),
                      flush=True)
                print(f"\nreceive ceiling, QoS 0, {n} messages flooded (two runs each):")
                for name, measure in (
                    ("aiomqtt message iterator", lambda: ceiling_aiomqtt(port, n)),
                    ("paho's own threaded loop", lambda: asyncio.to_thread(ceiling_paho, port, n)),
                    ("gmqtt on_message callback", lambda: ceiling_gmqtt(port, n)),
                    *((f"hub client, {c} backend", lambda c=c: ceiling_hub_client(port, n, c)) for c in args.client),
                ):
                    figures = [await measure() for _ in range(2)]
                    print(f"  {name:<26}: " + "  ".join(f"{f:>8.0f}" for f in figures) + " msg/s", flush=True)
        finally:
            broker.terminate()
            broker.wait(5)


async def hub_run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-mqtt-hub-") as tmp:
        summary = await bench_hub(args, args.port, Path(tmp))
    print("RESULT " + json.dumps(summary), flush=True)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--publisher", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=1000, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--offset", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--publishers", type=int, default=1,
                        help="publisher processes sharing each rate (one reaches about 100,000/s at QoS 0)")
    parser.add_argument("--sensors", "--topics", dest="sensors", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=5.0, help="publishing time per rate")
    parser.add_argument("--rates", type=int, nargs="+", default=[1000, 5000, 10000, 20000])
    parser.add_argument("--qos", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--template", action="store_true", help='payload {"ts": ...} through value_template')
    parser.add_argument("--recorder", action="store_true", help="run with the recorder (SQLite) on")
    parser.add_argument("--ws", action="store_true", help="a WebSocket client in another process subscribed to state_changed")
    parser.add_argument("--client", nargs="+", default=["gmqtt", "paho"],
                        help="client backends to measure, alternating")
    parser.add_argument("--repeat", type=int, default=2, help="runs per backend (the machine is noisy)")
    parser.add_argument("--hub-run", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--gc-experiment", default="", help=argparse.SUPPRESS)  # "off": no heap freezing
    parser.add_argument("--slow-callbacks", action="store_true",
                        help="name the loop callbacks that took over 2 ms of CPU (a little overhead)")
    parser.add_argument("--client-id", default="bench-hub", help=argparse.SUPPRESS)
    parser.add_argument("--ws-subscriber", metavar="URL", help=argparse.SUPPRESS)  # the token: _child_token
    parser.add_argument("--rss-every", type=float, default=0, help="print the hub's RSS every this many seconds")
    parser.add_argument("--as-hub-run", action="store_true",
                        help="the process settings of `hub run` (glibc allocator thresholds), for soaks")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="with --rss-every: print what grew between the first RSS sample and the end (slow)")
    parser.add_argument("--smaps", action="store_true",
                        help="with --rss-every: print which kinds of memory mapping (/proc/self/smaps: glibc heap and "
                             "arenas, Python's arenas, files, other anonymous) changed between samples")
    parser.add_argument("--direct", action="store_true",
                        help="no publisher: readings handed to the hub's MQTT client in-process, as fast as it takes "
                             "them (rate x seconds readings per row); CPU per reading of the hub alone")
    parser.add_argument("--no-ceilings", dest="ceilings", action="store_false")
    parser.add_argument("--ceiling-messages", type=int, default=100_000)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse()
    if arguments.publisher:
        publisher(arguments.port, arguments.rate, arguments.seconds, arguments.qos[0] if isinstance(arguments.qos, list) else arguments.qos,
                  arguments.sensors, arguments.template, arguments.count, arguments.offset)
    elif arguments.ws_subscriber:
        asyncio.run(ws_subscriber(arguments.ws_subscriber, child_token()))
    elif arguments.hub_run:
        arguments.client = arguments.client[0]
        if arguments.tracemalloc:
            import tracemalloc

            tracemalloc.start()
        asyncio.run(hub_run(arguments))
    else:
        asyncio.run(main(arguments))
