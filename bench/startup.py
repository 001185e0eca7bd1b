"""Startup benchmark: 5,000 entities from retained MQTT discovery, cold and warm.

    .venv/bin/python bench/startup.py                       # 5,000 entities, cold then warm
    .venv/bin/python bench/startup.py --entities 1000 --runs 3
    .venv/bin/python bench/startup.py --compare /tmp/hub-main   # interleaved: this tree vs another checkout
    .venv/bin/python bench/startup.py --profile /tmp/start.prof # cProfile of the hub process (cold, and warm in .warm)

A Mosquitto with its default settings (a listener and nothing else: 1,000 queued messages, 20 in
flight) holds 5,000 retained discovery configs, 500 PZEM-style nodes x 10 sensors, each with a
retained reading. `hub run` is started as a user would start it:
- cold: an empty data dir (only the user the benchmark logs in with): every entity comes from
  the broker's retained configs, the registries are written on the way;
- warm: the same data dir again (registries, last states and the discovery cache are there).
Each prints the seconds from spawning the process until get_states (WebSocket) returns every
entity with its reading, the CPU seconds the hub process had used by then (the figure to trust
on a loaded machine: wall time there mostly measures the other processes), the RSS of the hub
once settled (2 s after that answer), and the poll's uncertainty: the previous answer, that
many seconds earlier, still had fewer live (bench/startup_stages.py times it inside the hub).
The hub's modules are compiled to bytecode first, as an installed hub has them (pip compiles
at install, the Docker image at build); without it (PYTHONDONTWRITEBYTECODE=1 on a checkout)
every start compiles ~150 modules from source, ~0.5 CPU s.
With --compare, each run starts the hub from this tree and from the other checkout in turn
(same broker, same Python), so a shared, noisy machine still gives a fair ratio.
Anchor, Home Assistant 2024.1.6 on this kind of machine: 12.6 s and 299 MB (cold).
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._rss import cpu_seconds, rss_mb  # noqa: E402 - after the path: the bench runs from a checkout
from hub.auth.store import AuthStore  # noqa: E402
from hub.storage.engine import create_engine, default_sqlite_url, migrate, session_factory  # noqa: E402
from tests.servers import MosquittoServer, free_port, launch_mosquitto  # noqa: E402

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
PREFIX = "homeassistant"


def stock_mosquitto(prefix: str) -> MosquittoServer:
    """Start a Mosquitto with nothing but a listener: its default queue and in-flight limits."""
    return launch_mosquitto(prefix, lines=["allow_anonymous true", "log_dest stderr", "log_type error"])


def discovery_messages(entities: int) -> list[tuple[str, str]]:
    """The retained discovery configs and readings of `entities` sensors (10 per node)."""
    messages = []
    for n in range(entities // 10):
        node = f"node{n:04d}"
        for k, (cls, unit, state_class) in enumerate(KINDS):
            object_id = f"{node}_{cls}_{k}"
            config = {"name": f"{cls} {k}", "uniq_id": object_id, "obj_id": object_id, "stat_t": f"devices/{node}/{cls}_{k}",
                      "dev_cla": cls, "stat_cla": state_class,
                      "dev": {"ids": [node], "name": f"Node {n}", "mf": "powerhub", "mdl": "PZEM-004T node", "sw": "1.4.2"}}
            if unit:
                config["unit_of_meas"] = unit
            messages.append((f"{PREFIX}/sensor/{node}/{cls}_{k}/config", json.dumps(config)))
            messages.append((f"devices/{node}/{cls}_{k}", str(230 + k)))
    return messages


async def retain(broker: MosquittoServer, messages: list[tuple[str, str]]) -> None:
    import aiomqtt

    async with aiomqtt.Client(broker.host, broker.port, max_queued_outgoing_messages=0) as client:
        for topic, payload in messages:
            await client.publish(topic, payload, qos=0, retain=True)
        await client.publish("bench/done", b"", qos=1)  # every earlier publish is in once this one is acked


def compile_tree(tree: Path) -> None:
    """Write the bytecode of the hub's packages in `tree` (an installed hub has it)."""
    for package in ("hub", "integrations", "automations"):
        compileall.compile_dir(tree / package, quiet=1)


@contextlib.asynccontextmanager
async def retained_broker(entities: int, prefix: str) -> AsyncIterator[MosquittoServer]:
    """A default-config Mosquitto holding `entities` retained discovery configs and readings."""
    broker = stock_mosquitto(prefix)
    try:
        await retain(broker, discovery_messages(entities))
        yield broker
    finally:
        broker.close()


@contextlib.contextmanager
def hub_dirs(broker: MosquittoServer, prefix: str, recorder: bool = False) -> Iterator[tuple[Path, Path]]:
    """A throwaway config dir (MQTT on `broker`, the recorder if asked) and an empty data dir beside it."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        config, data = Path(tmp) / "config", Path(tmp) / "data"
        config.mkdir()
        (config / "configuration.yaml").write_text(f"homeassistant:\n  name: Bench\nmqtt:\n  broker: {broker.url}\n"
                                                   + ("recorder:\n" if recorder else ""))
        yield config, data


async def fresh_data_dir(data_dir: Path) -> str:
    """An empty hub data dir with one user; return that user's token."""
    engine = create_engine(default_sqlite_url(data_dir))
    await migrate(engine, [])
    auth = AuthStore(session_factory(engine), bcrypt_rounds=4)
    user = await auth.add_user("bench", "bench-password", "owner")
    token = await auth.create_long_lived_token(user.id, "bench")
    await engine.dispose()
    return token


async def wait_live(session: aiohttp.ClientSession, base: str, token: str, entities: int) -> tuple[int, float]:
    """On one WebSocket connection, ask get_states until `entities` sensors are live.

    Returns how many are live and when the last answer that had fewer was received (0 if none
    had): the hub was all live between then and the return, the poll's uncertainty.

    Every 0.1 s, or four times the last answer's round trip if longer: each poll makes the hub
    serialize every state, and at a fixed 0.1 s on a loaded machine (long answers, a long
    start) that work grew with the load and inflated the CPU figure the benchmark is there to
    give. On a quiet machine an answer takes well under 25 ms: the same 0.1 s as before.
    (Following state_changed instead was tried: on a loaded machine the 10,000 events queued
    for the client added ~20 MB to the RSS measured.)
    """
    async with session.ws_connect(f"{base}/api/websocket", max_msg_size=0) as ws:
        await ws.receive_json(timeout=5)
        await ws.send_json({"type": "auth", "access_token": token})
        if (await ws.receive_json(timeout=5)).get("type") != "auth_ok":
            raise RuntimeError("the benchmark's token was refused")
        count, request, deadline, short = 0, 0, time.monotonic() + 120, 0.0
        while time.monotonic() < deadline:
            request += 1
            asked = time.monotonic()
            await ws.send_json({"id": request, "type": "get_states"})
            count = live((await ws.receive_json(timeout=60)).get("result"))
            if count >= entities:
                return count, short
            short = time.monotonic()
            await asyncio.sleep(max(0.1, 4 * (time.monotonic() - asked)))
    return count, short


def live(states: list[dict] | None) -> int:
    """How many benchmark sensors show their retained reading."""
    return sum(1 for s in states or () if s["entity_id"].startswith("sensor.node") and s["state"] not in ("unknown", "unavailable"))


async def start_once(tree: Path, config: Path, data: Path, token: str, entities: int, profile: str | None) -> tuple[float, float, float, int, float]:
    """Start `hub run` from `tree`, wait for every entity.

    Returns (seconds, CPU seconds, settled RSS MB, entities live, seconds of the poll's
    uncertainty: all live at most this much earlier than the seconds given).
    """
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, *(["-m", "cProfile", "-o", profile] if profile else []), "-m", "hub", "run",
               "-c", str(config), "--data", str(data), "--port", str(port)]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    began = time.monotonic()
    process = subprocess.Popen(command, cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    count, short = 0, 0.0
    try:
        async with aiohttp.ClientSession() as session:
            while time.monotonic() - began < 120:
                try:
                    count, short = await wait_live(session, base, token, entities)
                    break
                except (TimeoutError, aiohttp.ClientError):
                    await asyncio.sleep(0.05)  # not listening yet
        now = time.monotonic()
        elapsed, uncertain = now - began, now - max(short, began)
        cpu = cpu_seconds(process.pid)
        await asyncio.sleep(2)
        rss = rss_mb(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            _, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
        if process.returncode not in (0, -signal.SIGTERM) or count < entities:
            sys.stderr.write(stderr.decode(errors="replace")[-3000:])
    return elapsed, cpu, rss, count, uncertain


async def main(args: argparse.Namespace) -> None:
    trees = {"this tree": ROOT, **({"compare": Path(args.compare).resolve()} if args.compare else {})}
    for tree in trees.values():
        compile_tree(tree)
    async with retained_broker(args.entities, "bench-startup-mqtt-") as broker:
        print(f"{args.entities:,} retained discovery configs (+ a retained reading each) on a default-config Mosquitto")
        print(f"{'run':>3} {'tree':<10} {'cold s':>7} {'cpu s':>6} {'MB':>5} {'warm s':>7} {'cpu s':>6} {'MB':>5}  live (cold/warm)"
              "  poll: all live at most this much earlier (cold/warm)")
        for run in range(1, args.runs + 1):
            for name, tree in trees.items():
                with hub_dirs(broker, "bench-startup-", args.recorder) as (config, data):
                    token = await fresh_data_dir(data)
                    profile = args.profile if args.profile and run == 1 and name == "this tree" else None
                    cold = await start_once(tree, config, data, token, args.entities, profile)
                    warm = await start_once(tree, config, data, token, args.entities, profile and f"{profile}.warm")
                print(f"{run:>3} {name:<10} {cold[0]:>7.2f} {cold[1]:>6.2f} {cold[2]:>5.0f} {warm[0]:>7.2f} {warm[1]:>6.2f} {warm[2]:>5.0f}"
                      f"  {cold[3]}/{warm[3]}  {cold[4]:.2f}/{warm[4]:.2f} s", flush=True)
        print("goals: cold < 3 s and < 120 MB, warm < 1.5 s (Home Assistant 2024.1.6 cold: 12.6 s, 299 MB)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entities", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--compare", help="another checkout of the hub to start in turn (e.g. main, exported)")
    parser.add_argument("--profile", help="write a cProfile of the first cold start of this tree to this file, "
                                          "and of its warm start to this file + .warm")
    parser.add_argument("--recorder", action="store_true",
                        help="with the recorder on (SQLite history), as bench/table.py's row starts the hub")
    asyncio.run(main(parser.parse_args()))
