"""Where a start's seconds go: wall and CPU seconds per stage of `hub run`, cold then warm.

    .venv/bin/python bench/startup_stages.py                  # 5,000 retained discovery configs
    .venv/bin/python bench/startup_stages.py --entities 1000
    .venv/bin/python bench/startup_stages.py --compare /tmp/hub-main   # interleaved: this tree vs another checkout

The same broker, configs and compiled bytecode as bench/startup.py (a default-config Mosquitto, 500 PZEM-style
nodes x 10 sensors, each with a retained reading). The hub runs in a child process whose start
functions are wrapped to print, per stage, the wall seconds it took and the CPU seconds the
process used in it (on a loaded machine trust the CPU column):
imports, storage (migrations and registry load), setup (restored states, every integration's
setup, including the entities recreated from the discovery cache on a warm start), serve (the
web server listening), sources (the broker connected), retained burst (until every sensor shows
its reading), and the RSS then.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.startup import compile_tree, fresh_data_dir, hub_dirs, retained_broker  # noqa: E402
from tests.servers import free_port  # noqa: E402

# Runs in the hub's process: wrap the start stages, then run `hub run` as the command line does.
CHILD = r"""
import sys, time, os, asyncio
from bench._rss import cpu_seconds, rss_mb
T0, C0 = time.monotonic(), cpu_seconds()
marks = []
def mark(name):
    marks.append((name, time.monotonic(), cpu_seconds()))
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
async def watch():
    from hub.core.states import STATE_UNKNOWN, STATE_UNAVAILABLE
    while True:
        await asyncio.sleep(0.01)
        hub = getattr(b, "_bench_hub", None)
        if hub is None:
            continue
        live = sum(1 for s in hub.states.all() if s.entity_id.startswith("sensor.node") and s.state not in (STATE_UNKNOWN, STATE_UNAVAILABLE))
        if live >= ENTITIES:
            mark("retained_burst")
            rss = rss_mb()
            last_t, last_c = T0, C0
            for name, t, c in marks:
                print(f"STAGE {name} {t - last_t:.3f} {c - last_c:.3f}", flush=True)
                last_t, last_c = t, c
            print(f"TOTAL {last_t - T0:.3f} {last_c - C0:.3f} {rss:.0f}", flush=True)
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


def run_child(tree: Path, config: Path, data: Path, entities: int) -> dict[str, tuple[float, float]]:
    """Start `hub run` from `tree` with its stages timed; return (wall s, CPU s) by stage."""
    command = [sys.executable, "-c", CHILD, "run", "-c", str(config), "--data", str(data), "--port", str(free_port())]
    # The bench's own helpers (bench._rss) from this tree, the hub from `tree`.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), str(ROOT)]), "BENCH_ENTITIES": str(entities)}
    out = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, timeout=300, check=False)
    stages: dict[str, tuple[float, float]] = {}
    for line in out.stdout.splitlines():
        kind, *fields = line.split()
        if kind == "STAGE":
            stages[fields[0]] = (float(fields[1]), float(fields[2]))
        elif kind == "TOTAL":
            stages["total"] = (float(fields[0]), float(fields[1]))
            stages["rss MB"] = (float(fields[2]), float("nan"))
    if "total" not in stages:
        sys.stderr.write(out.stderr[-3000:])
    return stages


async def main(args: argparse.Namespace) -> None:
    names = {"imports": "imports", "open_storage": "storage", "setup_core": "setup", "serve": "serve",
             "connect_sources": "sources", "retained_burst": "retained burst", "total": "total"}
    trees = {"this tree": ROOT, **({"compare": Path(args.compare).resolve()} if args.compare else {})}
    for tree in trees.values():
        compile_tree(tree)  # as installed (bench/startup.py)
    async with retained_broker(args.entities, "bench-stages-mqtt-") as broker:
        print(f"{args.entities:,} retained discovery configs on a default-config Mosquitto; wall / CPU seconds per stage")
        for run in range(1, args.runs + 1):
            for name, tree in trees.items():
                with hub_dirs(broker, "bench-stages-") as (config, data):
                    await fresh_data_dir(data)
                    cold = await asyncio.to_thread(run_child, tree, config, data, args.entities)
                    warm = await asyncio.to_thread(run_child, tree, config, data, args.entities)
                print(f"run {run} {name}: {'stage':<16} {'cold s':>7} {'cpu s':>6} {'warm s':>7} {'cpu s':>6}")
                for key, label in names.items():
                    c, w = cold.get(key, (float("nan"),) * 2), warm.get(key, (float("nan"),) * 2)
                    print(f"       {label:<16} {c[0]:>7.3f} {c[1]:>6.3f} {w[0]:>7.3f} {w[1]:>6.3f}")
                rss_cold, rss_warm = cold.get("rss MB", (0,))[0], warm.get("rss MB", (0,))[0]
                print(f"       {'RSS MB':<16} {rss_cold:>7.0f} {'':>6} {rss_warm:>7.0f}", flush=True)

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entities", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--compare", help="another checkout of the hub to start in turn (e.g. main, exported)")
    asyncio.run(main(parser.parse_args()))
