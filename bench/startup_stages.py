"""Where a start's seconds go: wall and CPU seconds per stage of `hub run`, cold then warm.

    .venv/bin/python bench/startup_stages.py                  # 5,000 retained discovery configs
    .venv/bin/python bench/startup_stages.py --entities 1000
    .venv/bin/python bench/startup_stages.py --compare /tmp/hub-main   # interleaved: this tree vs another checkout

The same broker, configs and compiled bytecode as bench/startup.py (a default-config Mosquitto, 500 PZEM-style
nodes x 10 sensors, each with a retained reading). The hub runs in a child process whose start
functions are wrapped to print, per stage, the wall seconds it took and the CPU seconds the
process used in it (on a loaded machine trust the CPU column):
interpreter (spawn until the first line runs), imports, storage (migrations and registry load), setup (restored states, every integration's
setup, including the entities recreated from the discovery cache on a warm start), serve (the
web server listening), sources (the broker connected), retained burst (until every sensor shows
its reading), and the RSS then. Then the retained burst's timeline, in seconds and CPU seconds
since the process was spawned: the broker's CONNACK, the first retained config received, the
first entity, the first reading, the last config received, every entity created, all live.
Where wall time runs ahead of CPU time there, the hub waited (on the broker, a timer, a thread).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.startup import compile_tree, fresh_data_dir, hub_dirs, retained_broker  # noqa: E402
from tests.servers import free_port  # noqa: E402

# Runs in the hub's process: wrap the start stages, then run `hub run` as the command line does.
CHILD = r"""
import sys, time, os, asyncio
from bench._rss import cpu_seconds, rss_mb
SPAWNED = float(os.environ["BENCH_SPAWNED"])  # the parent's time.time() just before it spawned this process
def blocked():
    # Wall seconds the main thread spent neither running nor waiting for a CPU (I/O, sleep, the
    # broker, a lock), from the kernel's schedstat: the figure a loaded machine does not inflate.
    running, queued = open("/proc/self/schedstat").read().split()[:2]
    return time.monotonic() - (int(running) + int(queued)) / 1e9
TRACE = int(os.environ.get("BENCH_TRACEMALLOC", "0"))
if TRACE:
    import tracemalloc
    tracemalloc.start()
T0, C0, B0 = time.monotonic(), cpu_seconds(), blocked()
BEFORE = (time.time() - SPAWNED, C0, 0.0)  # interpreter start until this line: wall, CPU, blocked (not known)
marks, events = [], {}
def mark(name):
    marks.append((name, time.monotonic(), cpu_seconds(), blocked()))
def event(name):
    # The first time something happened: seconds, CPU and blocked seconds since this script began.
    if name not in events:
        events[name] = (time.monotonic() - T0, cpu_seconds() - C0, blocked() - B0)
import contextlib
from hub import heap
with getattr(heap, "paused", contextlib.nullcontext)():  # as `hub run` imports, where the tree does (hub/cli.py)
    import hub.cli, hub.bootstrap as b, integrations.mqtt
mark("imports")
def wrap(name):
    inner = getattr(b, name)
    async def timed(*args, **kwargs):
        result = await inner(*args, **kwargs)
        mark(name)
        return result
    setattr(b, name, timed)
for stage in ("open_storage", "setup_core", "serve", "connect_sources"):
    wrap(stage)
ENTITIES = int(os.environ["BENCH_ENTITIES"])
# The retained burst's timeline: the broker's CONNACK, the first and the last retained config
# received, every entity created, the first and the last reading applied.
from integrations.mqtt.client import MqttClient
from integrations.mqtt.discovery import Discovery
set_connected = MqttClient._set_connected
def timed_set_connected(self, connected):
    if connected:
        event("connected")
    return set_connected(self, connected)
MqttClient._set_connected = timed_set_connected
received = Discovery._received
configs = [0]
def timed_received(self, message):
    configs[0] += 1
    event("first config in")
    if configs[0] == ENTITIES:
        event("last config in")
    return received(self, message)
Discovery._received = timed_received
# --breakdown: the loop thread's CPU seconds in each part of a discovered entity's making.
PARTS = {}
if os.environ.get("BENCH_BREAKDOWN"):
    import importlib
    def part(label, owner, name):
        inner = getattr(owner, name, None)
        if inner is None:
            return  # not in the tree compared with
        if asyncio.iscoroutinefunction(inner):
            async def timed(*args, **kwargs):
                # Across its awaits: what ran meanwhile counts too (small here: nothing else is busy).
                began = time.thread_time()
                try:
                    return await inner(*args, **kwargs)
                finally:
                    PARTS[label] = PARTS.get(label, 0.0) + time.thread_time() - began
        else:
            def timed(*args, **kwargs):
                began = time.thread_time()
                try:
                    return inner(*args, **kwargs)
                finally:
                    PARTS[label] = PARTS.get(label, 0.0) + time.thread_time() - began
        setattr(owner, name, timed)
    from hub.core.entities import Entities
    from hub.registry.devices import DeviceRegistry
    from hub.registry.entities import EntityRegistry
    from hub.registry.writer import RegistryWriter
    from integrations.mqtt.cache import DiscoveryStore
    from integrations.mqtt import discovery as discovery_module
    from integrations.mqtt.entity import MqttEntity
    from integrations.mqtt.client import MqttClient
    from hub import heap
    from hub.ops import allocator
    for label, owner, name in (
        ("entity registry load", EntityRegistry, "load"),
        ("device registry load", DeviceRegistry, "load"),
        ("restore states", b, "restore_states"),
        ("discovery cache read", DiscoveryStore, "load_configs"),
        ("discovery: one config, all in", Discovery, "_process"),
        ("  parse + validate", Discovery, "_validate"),
        ("  cached config (warm)", discovery_module, "_cached_config"),
        ("  entity object", MqttEntity, "__init__"),
        ("  hub.entities.add", Entities, "add"),
        ("    device registry", DeviceRegistry, "get_or_create"),
        ("    entity registry", EntityRegistry, "get_or_create"),
        ("    added_to_hub (subscribe)", MqttEntity, "added_to_hub"),
        ("    first state", MqttEntity, "write_state"),
        ("  cache put", DiscoveryStore, "put"),
        ("registry batch commit", RegistryWriter, "flush"),
        ("cache write", DiscoveryStore, "_write_batch"),
        ("mqtt message in (all)", MqttClient, "_handle"),
        ("heap trim (malloc_trim)", allocator, "trim"),
        ("heap freeze (full collection)", heap, "freeze"),
    ):
        part(label, owner, name)
    # The garbage collector's passes, by generation: CPU of the thread that triggered each.
    import gc
    collecting = [0.0]
    def collected(phase, info):
        if phase == "start":
            collecting[0] = time.thread_time()
        else:
            label = f"garbage collection, generation {info['generation']}"
            PARTS[label] = PARTS.get(label, 0.0) + time.thread_time() - collecting[0]
    gc.callbacks.append(collected)
async def watch():
    from hub.core.states import STATE_UNKNOWN, STATE_UNAVAILABLE
    while True:
        await asyncio.sleep(0.01)
        hub = getattr(b, "_bench_hub", None)
        if hub is None:
            continue
        nodes = [s for s in hub.states.all() if s.entity_id.startswith("sensor.node")]
        live = sum(1 for s in nodes if s.state not in (STATE_UNKNOWN, STATE_UNAVAILABLE))
        if nodes:
            event("first entity")
        if len(nodes) >= ENTITIES:
            event("every entity")
        if live:
            event("first reading")
        if live >= ENTITIES:
            mark("retained_burst")
            event("all live")
            rss = rss_mb()
            last_t, last_c, last_b = T0, C0, B0
            print(f"STAGE interpreter {BEFORE[0]:.3f} {BEFORE[1]:.3f} 0", flush=True)
            for name, t, c, off in marks:
                print(f"STAGE {name} {t - last_t:.3f} {c - last_c:.3f} {off - last_b:.3f}", flush=True)
                last_t, last_c, last_b = t, c, off
            for name, (t, c, off) in events.items():
                print(f"EVENT {name.replace(' ', '_')} {t + BEFORE[0]:.3f} {c + BEFORE[1]:.3f} {off:.3f}", flush=True)
            print(f"TOTAL {last_t - T0 + BEFORE[0]:.3f} {last_c - C0 + BEFORE[1]:.3f} {last_b - B0:.3f} {rss:.0f}", flush=True)
            for label, seconds in PARTS.items():
                print(f"TRACE part {seconds:7.3f} CPU s  {label}", flush=True)
            if TRACE:
                import gc
                gc.collect()
                snapshot = tracemalloc.take_snapshot()
                total = sum(stat.size for stat in snapshot.statistics("filename"))
                print(f"TRACE total {total / 2**20:.1f} MB traced (Python allocations only)", flush=True)
                for stat in snapshot.statistics("filename")[:TRACE]:
                    print(f"TRACE file {stat.size / 2**20:6.2f} MB {stat.count:>8} {stat.traceback[0].filename}", flush=True)
                for stat in snapshot.statistics("lineno")[:TRACE]:
                    frame = stat.traceback[0]
                    print(f"TRACE line {stat.size / 2**20:6.2f} MB {stat.count:>8} {frame.filename}:{frame.lineno}", flush=True)
            os.kill(os.getpid(), 15)
            return
real_run_core = b.run_core
async def run_core(hub):
    b._bench_hub = hub
    asyncio.get_running_loop().create_task(watch())
    await real_run_core(hub)
b.run_core = run_core
sys.argv = ["hub", *sys.argv[1:]]
sys.exit(hub.cli.main())
"""

EVENTS = ("connected", "first_config_in", "first_entity", "first_reading", "last_config_in", "every_entity", "all_live")


def run_child(tree: Path, config: Path, data: Path, entities: int, trace: int = 0, breakdown: bool = False,
              label: str = "") -> dict[str, tuple[float, ...]]:
    """Start `hub run` from `tree` with its stages timed; return (wall s, CPU s, blocked s) by stage."""
    command = [sys.executable, "-c", CHILD, "run", "-c", str(config), "--data", str(data), "--port", str(free_port())]
    # The bench's own helpers (bench._rss) from this tree, the hub from `tree`.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), str(ROOT)]), "BENCH_ENTITIES": str(entities),
           "BENCH_SPAWNED": repr(time.time()), "BENCH_TRACEMALLOC": str(trace),
           **({"BENCH_BREAKDOWN": "1"} if breakdown else {})}
    out = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, timeout=300, check=False)
    stages: dict[str, tuple[float, ...]] = {}
    for line in out.stdout.splitlines():
        kind, *fields = line.split()
        if kind in ("STAGE", "EVENT"):
            stages[fields[0]] = tuple(float(f) for f in fields[1:4])
        elif kind == "TRACE":
            print(f"{label}{': ' if label else ''}{line.removeprefix('TRACE ')}")
        elif kind == "TOTAL":
            stages["total"] = tuple(float(f) for f in fields[:3])
            stages["rss MB"] = (float(fields[3]),)
    if "total" not in stages:
        sys.stderr.write(out.stderr[-3000:])
    return stages


async def main(args: argparse.Namespace) -> None:
    names = {"interpreter": "interpreter", "imports": "imports", "open_storage": "storage", "setup_core": "setup", "serve": "serve",
             "connect_sources": "sources", "retained_burst": "retained burst", "total": "total"}
    trees = {"this tree": ROOT, **({"compare": Path(args.compare).resolve()} if args.compare else {})}
    for tree in trees.values():
        compile_tree(tree)  # as installed (bench/startup.py)
    async with retained_broker(args.entities, "bench-stages-mqtt-") as broker:
        print(f"{args.entities:,} retained discovery configs on a default-config Mosquitto; wall / CPU / blocked seconds per stage")
        for run in range(1, args.runs + 1):
            for name, tree in trees.items():
                with hub_dirs(broker, "bench-stages-", args.recorder) as (config, data):
                    await fresh_data_dir(data)
                    cold = await asyncio.to_thread(run_child, tree, config, data, args.entities, args.tracemalloc, args.breakdown,
                                                   f"{name}, cold")
                    warm = await asyncio.to_thread(run_child, tree, config, data, args.entities, 0, args.breakdown,
                                                   f"{name}, warm")
                header = f"{'cold s':>7} {'cpu s':>6} {'blocked':>7} {'warm s':>7} {'cpu s':>6} {'blocked':>7}"
                print(f"run {run} {name}: {'stage':<16} {header}")
                for key, label in names.items():
                    print(f"       {label:<16} {row(cold, key)} {row(warm, key)}")
                rss_cold, rss_warm = cold.get("rss MB", (0,))[0], warm.get("rss MB", (0,))[0]
                print(f"       {'RSS MB':<16} {rss_cold:>7.0f} {'':>14} {rss_warm:>7.0f}")
                print(f"       {'since spawn':<16} {header}")
                for key in EVENTS:
                    print(f"       {key.replace('_', ' '):<16} {row(cold, key)} {row(warm, key)}")
                sys.stdout.flush()


def row(figures: dict[str, tuple[float, ...]], key: str) -> str:
    """Wall, CPU and blocked seconds of one stage or event, nan where not measured."""
    wall, cpu, blocked = (*figures.get(key, ()), float("nan"), float("nan"), float("nan"))[:3]
    return f"{wall:>7.3f} {cpu:>6.3f} {blocked:>7.3f}"

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entities", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--compare", help="another checkout of the hub to start in turn (e.g. main, exported)")
    parser.add_argument("--recorder", action="store_true",
                        help="with the recorder on (SQLite history), as bench/table.py's row starts the hub")
    parser.add_argument("--breakdown", action="store_true",
                        help="each start's loop-thread CPU seconds per part of its making (registries, restored states, "
                             "the discovery cache, each config's parts; the wrappers cost a little)")
    parser.add_argument("--tracemalloc", type=int, default=0, metavar="N",
                        help="trace the cold start's allocations; print the top N files and lines once all live "
                             "(slower: its times and RSS are not the start's)")
    asyncio.run(main(parser.parse_args()))
