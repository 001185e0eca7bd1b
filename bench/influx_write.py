"""InfluxDB 1.x write benchmark: one batch in bounded requests (the backend) against one body (as before).

Run: .venv/bin/python bench/influx_write.py [--rounds 7] [--sizes 20000,60000]

A batch of --sizes points (20,000 is the recorder's max_batch, the most one write of a running hub
holds; 60,000 and more is a replay after an outage) of ten meters at 1 Hz goes to a real influxd
(from the Debian package, on a free port, as the tests start it), each round into a time range of
its own. The two ways alternate within each round (A/B, the order flipping every round), so a
machine whose load changes meanwhile weighs on both alike. Printed per size: median seconds and
points/s of each way, the CPU seconds of this process (the hub's side: building the lines, the
requests) per write, the median of the per-round ratios bounded/one-body, the number of requests,
and the load average before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import warnings

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
sys.path.insert(0, os.path.dirname(_HERE))

from hub.recorder.backends.base import Batch, Point  # noqa: E402
from hub.recorder.backends.influx_v1 import InfluxV1Backend  # noqa: E402

ENTITIES = [f"sensor.meter_{i}_power" for i in range(10)]


class Bounded(InfluxV1Backend):
    """The backend as it is, counting its requests."""

    requests = 0

    async def _write_body(self, body: bytes, params: dict[str, str]) -> None:
        self.requests += 1
        await super()._write_body(body, params)


class OneBody(InfluxV1Backend):
    """The write as it was: every line of a batch in one request body."""

    async def _write_lines(self, lines: list[str], rp: str) -> None:
        if lines:
            await self._write_body("\n".join(lines).encode(), {"db": self.database, "precision": "u", "rp": rp})


def batch(points: int, start: float) -> Batch:
    return Batch([Point(ENTITIES[i % 10], start + i // 10, 230.0 + (i % 97) * 0.5, None) for i in range(points)])


async def run(url: str, sizes: list[int], rounds: int) -> None:
    bounded, one = Bounded(url, "bench_write"), OneBody(url, "bench_write")
    await bounded.open()
    await one.open()
    warnings.simplefilter("ignore", ResourceWarning)  # one body over 1 MiB: aiohttp's warning is the point
    start = 1_700_000_000.0
    try:
        for backend in (bounded, one):  # warm-up: the database's first shard, the connection
            await backend.write(batch(1_000, start))
            start += 3600
        for size in sizes:
            load = os.getloadavg()
            times: dict[str, list[float]] = {"bounded": [], "one body": []}
            cpu: dict[str, list[float]] = {"bounded": [], "one body": []}
            ratios = []
            bounded.requests = 0
            for n in range(rounds):
                order: list[tuple[str, InfluxV1Backend]] = [("bounded", bounded), ("one body", one)]
                if n % 2:
                    order.reverse()
                took = {}
                for name, backend in order:
                    work = batch(size, start)
                    start += size // 10 + 3600
                    began, began_cpu = time.perf_counter(), time.process_time()
                    await backend.write(work)
                    took[name] = time.perf_counter() - began
                    times[name].append(took[name])
                    cpu[name].append(time.process_time() - began_cpu)
                ratios.append(took["bounded"] / took["one body"])
            print(f"{size:,} points, {rounds} rounds A/B, load average before {load[0]:.2f} / after {os.getloadavg()[0]:.2f}")
            for name, values in times.items():
                median = statistics.median(values)
                print(f"  {name:<9} median {median * 1000:8.1f} ms  {size / median:>10,.0f} points/s  "
                      f"(min {min(values) * 1000:.1f}, max {max(values) * 1000:.1f} ms); "
                      f"the hub's CPU median {statistics.median(cpu[name]) * 1000:.1f} ms")
            print(f"  bounded / one body: median ratio {statistics.median(ratios):.3f} "
                  f"(per round: {', '.join(f'{r:.2f}' for r in ratios)}); bounded sent {bounded.requests // rounds} requests a batch")
    finally:
        await bounded.close()
        await one.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--sizes", default="20000,60000", help="points per batch, comma-separated")
    args = parser.parse_args()
    from tests import servers

    binary = servers._find_binary("influxd")
    if binary is None:
        sys.exit("influxd not installed: apt-get install influxdb")
    owner = servers._service_user("influxdb")
    influx = servers.InfluxDBServer(binary, servers._make_tempdir("hub-influx-", owner), owner, servers.free_port(), servers.free_port())
    influx.write_config()
    influx.start()
    try:
        asyncio.run(run(influx.url, [int(s) for s in args.sizes.split(",")], args.rounds))
    finally:
        influx.close()


if __name__ == "__main__":
    main()
