"""Memory over time: the hub's RSS while it ingests 5,000 readings/s for minutes, recorder and a WebSocket subscriber on.

    .venv/bin/python bench/memory_soak.py                  # short form: 2.5 min, RSS every 10 s
    .venv/bin/python bench/memory_soak.py --minutes 30     # long form (issue 23's target)

One hub process (as bench/mqtt_ingest.py runs it: 1,000 discovered sensors, SQLite recorder, a
WebSocket client in another process subscribed to state_changed) on a throwaway Mosquitto; a
publisher process sends QoS 0 readings at the rate. Prints RSS over time, then the verdict:
"flat" when the last RSS is within 10 % of the RSS a quarter into the run (caches such as the
history cache and the attribute dedup fill during the first minutes), and the slope over the
second half in MB per minute.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import mqtt_ingest  # noqa: E402


def soak_args(rate: int, seconds: float, every: float, ws: bool = True, *, tracemalloc: bool = False,
              slow_callbacks: bool = False) -> argparse.Namespace:
    """Return the hub-run arguments of one long row at rate for seconds."""
    return argparse.Namespace(sensors=1000, seconds=seconds, rates=[rate], qos=[0], recorder=True, ws=ws,
                              template=False, slow_callbacks=slow_callbacks, rss_every=every, tracemalloc=tracemalloc,
                              as_hub_run=True)


def verdict(summary: dict, seconds: float) -> str:
    """Return the flatness verdict of a run's RSS samples."""
    samples = summary.get("rss_samples") or []
    if len(samples) < 4:
        return "too few RSS samples for a verdict"
    quarter = min(samples, key=lambda s: abs(s[0] - seconds / 4))
    last = samples[-1]
    half = [s for s in samples if s[0] >= seconds / 2]
    slope = (half[-1][1] - half[0][1]) / max((half[-1][0] - half[0][0]) / 60, 1e-9) if len(half) > 1 else 0.0
    growth = last[1] / quarter[1] - 1
    row = summary["rows"][0] if summary.get("rows") else {}
    return (f"RSS {summary['rss_start_mb']:.0f} MB after discovery, {quarter[1]:.0f} MB at {quarter[0]:.0f} s, "
            f"{last[1]:.0f} MB at {last[0]:.0f} s after {last[2]:,} readings: {growth:+.1%} "
            f"({'flat within 10 %' if abs(growth) <= 0.10 else 'NOT flat'}); second half {slope:+.2f} MB/min; "
            f"loss {row.get('loss', 0):.2%}")


async def main(args: argparse.Namespace) -> None:
    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
        broker, port = mqtt_ingest.start_mosquitto(Path(tmp))
        try:
            print(f"{args.rate:,} readings/s for {args.minutes:g} min, RSS every {args.every:g} s "
                  "(recorder on, one WebSocket subscriber); load average "
                  + ", ".join(f"{x:.1f}" for x in os.getloadavg()), flush=True)
            summary = await mqtt_ingest.run_hub_process(
                soak_args(args.rate, seconds, args.every, tracemalloc=args.tracemalloc, slow_callbacks=args.slow_callbacks),
                port, "gmqtt", "soak")
            print(verdict(summary, seconds), flush=True)
            print("load average at the end (1, 5, 15 min): " + ", ".join(f"{x:.1f}" for x in os.getloadavg()), flush=True)
        finally:
            broker.terminate()
            broker.wait(5)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=2.5)
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--every", type=float, default=10.0, help="seconds between RSS samples")
    parser.add_argument("--tracemalloc", action="store_true", help="print what grew between the first and last sample")
    parser.add_argument("--slow-callbacks", action="store_true", help="print the loop's slowest callbacks")
    asyncio.run(main(parser.parse_args()))
