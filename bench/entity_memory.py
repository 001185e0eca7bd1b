"""What one discovered MQTT entity costs in memory, per kind, and where it goes.

    .venv/bin/python bench/entity_memory.py                          # 1,000 of each kind
    .venv/bin/python bench/entity_memory.py --kinds pzem --entities 5000 --top 25
    .venv/bin/python bench/entity_memory.py --kinds switch,light --frames 4

A hub (in this process, SQLite data dir, its MQTT client on a real Mosquitto) discovers, per kind,
`--entities` entities from retained configs, each with a reading (after 50 of each kind, not
measured, so that imports and first-use caches are no kind's cost):
- sensor: a power sensor with unit, device and state class, one device per entity;
- switch: a relay with availability, a value template, JSON attributes and their template, an
  icon and QoS 1, ten per device (what most of the fuzz campaign's entities look like);
- binary_sensor: a motion sensor with availability, ten per device;
- light: a dimmable light (basic schema: state and brightness topics, availability), ten per device;
- pzem: a PZEM-style node's ten sensors (power, energy, voltage ...) sharing one device block.
tracemalloc compares the heap before a kind's first config and after its last reading is a
state, and prints the bytes per entity in all, by source line (where the memory was allocated)
and by file, and the RSS growth per entity. Each kind uses its own topics in the same hub, one
after the other.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import tempfile
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._rss import rss_mb  # noqa: E402 - after the path
from bench.startup import KINDS as PZEM_KINDS  # noqa: E402 - after the path
from bench.startup import retain, stock_mosquitto  # noqa: E402 - after the path
from tests.servers import MosquittoServer  # noqa: E402

PREFIX = "homeassistant"
DEVICE = {"mf": "powerhub", "mdl": "PZEM-004T node", "sw": "1.4.2"}


def _device(kind: str, node: int) -> dict[str, Any]:
    return {"ids": [f"{kind}_node{node:04d}"], "name": f"{kind} node {node}", **DEVICE}


def configs(kind: str, count: int, first: int = 0) -> tuple[str, list[tuple[str, str]], set[str]]:
    """Return a kind's domain, its retained configs and readings (and availability), and its readings' states."""
    states: set[str] = set()
    messages: list[tuple[str, str]] = []
    base = f"bench/{kind}"
    for i in range(first, first + count):
        node, k = divmod(i, 10)
        uid = f"bench_{kind}_{i}"
        topic = f"{base}/n{node}/e{k}"
        if kind == "sensor":
            domain, reading, state = "sensor", "230.5", "230.5"
            config: dict[str, Any] = {"name": f"power {i}", "uniq_id": uid, "stat_t": topic, "unit_of_meas": "W", "dev_cla": "power",
                                      "stat_cla": "measurement", "dev": _device(kind, i)}
        elif kind == "pzem":
            cls, unit, state_class = PZEM_KINDS[k]
            domain, reading, state = "sensor", str(230 + k), str(230 + k)
            config = {"name": f"{cls} {k}", "uniq_id": uid, "stat_t": topic, "dev_cla": cls, "stat_cla": state_class,
                      "dev": _device(kind, node)}
            if unit:
                config["unit_of_meas"] = unit
        elif kind == "switch":
            domain, reading, state = "switch", '{"v": "ON"}', "on"
            config = {"name": f"relay {k}", "uniq_id": uid, "stat_t": topic, "cmd_t": f"{topic}/set", "json_attr_t": f"{topic}/attr",
                      "avty_t": f"{base}/n{node}/status", "val_tpl": "{{ value_json.v }}",
                      "json_attr_tpl": "{{ value_json.attrs | tojson }}", "icon": "mdi:flash", "qos": 1, "dev": _device(kind, node)}
        elif kind == "binary_sensor":
            domain, reading, state = "binary_sensor", "ON", "on"
            config = {"name": f"motion {k}", "uniq_id": uid, "stat_t": topic, "dev_cla": "motion",
                      "avty_t": f"{base}/n{node}/status", "dev": _device(kind, node)}
        elif kind == "light":
            domain, reading, state = "light", "ON", "on"
            config = {"name": f"lamp {k}", "uniq_id": uid, "stat_t": topic, "cmd_t": f"{topic}/set", "bri_stat_t": f"{topic}/bri",
                      "bri_cmd_t": f"{topic}/bri/set", "avty_t": f"{base}/n{node}/status", "dev": _device(kind, node)}
        else:
            message = f"unknown kind {kind!r}: expected one of {', '.join(ALL_KINDS)}"
            raise SystemExit(message)
        if k == 0 and "avty_t" in config:
            messages.append((f"{base}/n{node}/status", "online"))
        messages.append((f"{PREFIX}/{domain}/{kind}_n{node}/e{k}/config", json.dumps(config)))
        messages.append((topic, reading))
        states.add(state)
    return domain, messages, states


ALL_KINDS = ("sensor", "switch", "binary_sensor", "light", "pzem")
WARM_UP = 50  # entities of each kind discovered before any is measured


def short(filename: str) -> str:
    for marker in ("site-packages/", "/lib/python3", str(ROOT) + "/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


async def _live(runtime: Any, broker: MosquittoServer, kind: str, count: int, first: int) -> None:
    """Publish `count` entities of a kind (from number `first` on) and wait until each has its reading."""
    domain, messages, states = configs(kind, count, first)
    prefix = f"{domain}.{kind}_node"
    await retain(broker, messages)
    while sum(1 for s in runtime.hub.states.all(domain) if s.entity_id.startswith(prefix) and s.state in states) < first + count:
        await asyncio.sleep(0.1)


async def measure(runtime: Any, broker: MosquittoServer, kind: str, args: argparse.Namespace) -> float:
    n = args.entities
    gc.collect()
    tracemalloc.start(args.frames)
    before, rss_before = tracemalloc.take_snapshot(), rss_mb()
    await _live(runtime, broker, kind, n, WARM_UP)
    await asyncio.sleep(2)  # registry and discovery cache writes settle
    gc.collect()
    after, rss_after = tracemalloc.take_snapshot(), rss_mb()
    tracemalloc.stop()
    diff = after.compare_to(before, "lineno")
    total = sum(stat.size_diff for stat in diff)
    print(f"\n== {kind}: {n:,} discovered, {total / n:,.0f} bytes of Python objects each (tracemalloc), "
          f"RSS +{(rss_after - rss_before) * 1024 * 1024 / n:,.0f} bytes each ({rss_before:.0f} -> {rss_after:.0f} MB)", flush=True)
    if args.top:
        print(f"{'bytes/entity':>12} {'blocks/entity':>13}  where (source line)")
        for stat in diff[: args.top]:
            frame = stat.traceback[0]
            print(f"{stat.size_diff / n:>12,.0f} {stat.count_diff / n:>13.1f}  {short(frame.filename)}:{frame.lineno}")
        by_file: Counter[str] = Counter()
        for stat in diff:
            by_file[short(stat.traceback[0].filename)] += stat.size_diff
        print(f"\n{'bytes/entity':>12}  where (file)")
        for name, size in by_file.most_common(args.top):
            print(f"{size / n:>12,.0f}  {name}")
    return total / n


async def run(args: argparse.Namespace, broker: MosquittoServer) -> None:
    from hub import bootstrap

    with tempfile.TemporaryDirectory(prefix="bench-entity-memory-") as work:
        config = Path(work) / "config"
        config.mkdir()
        (config / "configuration.yaml").write_text(f"mqtt:\n  broker: {broker.url}\n")
        runtime = await bootstrap.start(config, Path(work) / "data", port=0)
        try:
            for kind in args.kinds:  # imports, first-use caches, the tables' first growth: not an entity's cost
                await _live(runtime, broker, kind, WARM_UP, 0)
            await asyncio.sleep(1)
            results = {kind: await measure(runtime, broker, kind, args) for kind in args.kinds}
        finally:
            await bootstrap.stop(runtime)
    print(f"\n{'kind':<14} {'bytes/entity':>12}")
    for kind, size in results.items():
        print(f"{kind:<14} {size:>12,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entities", type=int, default=1000, help="entities of each kind (a multiple of 10)")
    parser.add_argument("--kinds", type=lambda text: text.split(","), default=list(ALL_KINDS),
                        help=f"comma-separated, of {', '.join(ALL_KINDS)}")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--frames", type=int, default=1)
    args = parser.parse_args()
    broker = stock_mosquitto("bench-entity-memory-")
    try:
        asyncio.run(run(args, broker))
    finally:
        broker.close()


if __name__ == "__main__":
    main()
