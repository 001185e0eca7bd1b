"""What one discovered MQTT sensor costs in memory, and where it goes.

    .venv/bin/python bench/entity_memory.py                  # 2,000 sensors
    .venv/bin/python bench/entity_memory.py --entities 5000 --top 25

A hub (in this process, SQLite data dir, its MQTT client on a real Mosquitto) discovers the
benchmark's PZEM-style sensors (10 per device, each with a reading) from retained configs.
tracemalloc compares the heap before the first config and after every sensor is live, and
prints the bytes per sensor by source line (where the memory was allocated) and by file, and
the RSS growth per sensor.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tempfile
import tracemalloc
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._rss import rss_mb  # noqa: E402 - after the path
from bench.startup import discovery_messages, retain, stock_mosquitto  # noqa: E402 - after the path
from tests.servers import MosquittoServer  # noqa: E402


def short(filename: str) -> str:
    for marker in ("site-packages/", "/lib/python3", str(ROOT) + "/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


async def run(args: argparse.Namespace, broker: MosquittoServer) -> None:
    from hub import bootstrap

    with tempfile.TemporaryDirectory(prefix="bench-entity-memory-") as work:
        config = Path(work) / "config"
        config.mkdir()
        (config / "configuration.yaml").write_text(f"mqtt:\n  broker: {broker.url}\n")
        runtime = await bootstrap.start(config, Path(work) / "data", port=0)
        try:
            await asyncio.sleep(1)
            gc.collect()
            tracemalloc.start(args.frames)
            before, rss_before = tracemalloc.take_snapshot(), rss_mb()
            await retain(broker, discovery_messages(args.entities))
            while sum(1 for s in runtime.hub.states.all("sensor") if s.entity_id.startswith("sensor.node")
                      and s.state != "unknown") < args.entities:
                await asyncio.sleep(0.1)
            await asyncio.sleep(2)  # registry and discovery cache writes settle
            gc.collect()
            after, rss_after = tracemalloc.take_snapshot(), rss_mb()
            tracemalloc.stop()
        finally:
            await bootstrap.stop(runtime)
    n = args.entities
    diff = after.compare_to(before, "lineno")
    total = sum(stat.size_diff for stat in diff)
    print(f"{n:,} discovered sensors: {total / n:,.0f} bytes of Python objects each (tracemalloc), "
          f"RSS +{(rss_after - rss_before) * 1024 * 1024 / n:,.0f} bytes each ({rss_before:.0f} -> {rss_after:.0f} MB)")
    print(f"\n{'bytes/sensor':>12} {'blocks/sensor':>13}  where (source line)")
    for stat in diff[: args.top]:
        frame = stat.traceback[0]
        print(f"{stat.size_diff / n:>12,.0f} {stat.count_diff / n:>13.1f}  {short(frame.filename)}:{frame.lineno}")
    by_file: Counter[str] = Counter()
    for stat in diff:
        by_file[short(stat.traceback[0].filename)] += stat.size_diff
    print(f"\n{'bytes/sensor':>12}  where (file)")
    for name, size in by_file.most_common(args.top):
        print(f"{size / n:>12,.0f}  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entities", type=int, default=2000)
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
