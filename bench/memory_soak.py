"""Memory over time: the hub's RSS while it ingests 5,000 readings/s for minutes, recorder and a WebSocket subscriber on.

    .venv/bin/python bench/memory_soak.py                  # short form: 2.5 min, RSS every 10 s
    .venv/bin/python bench/memory_soak.py --minutes 30     # long form (issue 23's target)

One hub process (as bench/mqtt_ingest.py runs it: 1,000 discovered sensors, SQLite recorder, a
WebSocket client in another process subscribed to state_changed) on a throwaway Mosquitto; a
publisher process sends QoS 0 readings at the rate. Prints RSS over time, then the verdict:
"flat" when the last RSS is within 10 % of the RSS a quarter into the run (caches such as the
history cache and the attribute dedup fill during the first minutes), and the slope over the
second half in MB per minute. A run counts only when it was one at the rate: the publisher sent
at least 95 % of it, the hub was never more than a second of readings behind it at an RSS
sample (readings piling up in the broker leave the hub's RSS flat for the wrong reason), lost under
1 %, drained within 0.5 s and kept its WebSocket subscriber; otherwise the verdict says why
and calls nothing flat (a loaded machine: run it again when quieter, or at a lower --rate).
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
              slow_callbacks: bool = False, smaps: bool = False) -> argparse.Namespace:
    """Return the hub-run arguments of one long row at rate for seconds."""
    return argparse.Namespace(sensors=1000, seconds=seconds, rates=[rate], qos=[0], recorder=True, ws=ws,
                              template=False, slow_callbacks=slow_callbacks, rss_every=every, tracemalloc=tracemalloc,
                              smaps=smaps, as_hub_run=True)


HELD = 0.95  # the publisher must send this share of the rate for the run to count
BEHIND = 1.0  # seconds of the rate the hub may be behind the publisher at an RSS sample


def kept_up(summary: dict, rate: float) -> list[str]:
    """Return why a run does not measure the hub at the rate (empty: it does).

    On a loaded machine the publisher may not send the rate, or the hub may fall behind it (its
    readings pile up in the broker and the socket, not in the hub's memory, so RSS looks flat
    while the hub holds less than the rate's worth). At no RSS sample may the hub be more than
    BEHIND seconds of readings behind the publisher, and the run must end drained and whole.
    """
    row = summary["rows"][0] if summary.get("rows") else {}
    if not row:
        return ["the run gave no result"]
    problems = []
    achieved = row.get("achieved_pub", 0.0)
    if achieved < HELD * rate:
        problems.append(f"the publisher sent {achieved:,.0f}/s of {rate:,.0f}/s")
    if row.get("loss", 1.0) >= 0.01:
        problems.append(f"{row.get('loss', 1.0):.1%} of the readings were lost")
    if row.get("drain_s", 0.0) >= 0.5:
        problems.append(f"the hub needed {row['drain_s']:.1f} s after the publisher stopped (a backlog)")
    if row.get("ws_connected") is False:
        problems.append("the hub cut the WebSocket subscriber off")
    lag, at = backlog(summary.get("rss_samples") or [], min(rate, achieved or rate))
    if lag > BEHIND * rate:
        problems.append(f"the hub fell {lag:,.0f} readings ({lag / rate:.1f} s of the rate) behind the publisher "
                        f"at {at:.0f} s")
    return problems


def backlog(samples: list, rate: float) -> tuple[float, float]:
    """Return the most readings the hub was behind a publisher sending rate/s, and when (from the second sample).

    The first interval is left out: the publisher starts within it. What the hub had not taken
    yet waits in the broker and the sockets, outside the hub's RSS.
    """
    worst, when = 0.0, 0.0
    for t, _mb, readings in samples[2:]:
        behind = rate * (t - samples[1][0]) - (readings - samples[1][2])
        if behind > worst:
            worst, when = behind, t
    return worst, when


def verdict(summary: dict, seconds: float, rate: float) -> str:
    """Return the flatness verdict of a run's RSS samples; none when the hub or the publisher fell behind."""
    samples = summary.get("rss_samples") or []
    if len(samples) < 4:
        return "too few RSS samples for a verdict"
    quarter = min(samples, key=lambda s: abs(s[0] - seconds / 4))
    last = samples[-1]
    half = [s for s in samples if s[0] >= seconds / 2]
    slope = (half[-1][1] - half[0][1]) / max((half[-1][0] - half[0][0]) / 60, 1e-9) if len(half) > 1 else 0.0
    growth = last[1] / quarter[1] - 1
    row = summary["rows"][0] if summary.get("rows") else {}
    rates = [(b[2] - a[2]) / (b[0] - a[0]) for a, b in zip(samples[1:], samples[2:], strict=False) if b[0] > a[0]]
    taken = f"{min(rates):,.0f}-{max(rates):,.0f}/s" if rates else "n/a"
    problems = kept_up(summary, rate)
    if problems:
        flat = "NO VERDICT (not a run at the rate: " + "; ".join(problems) + ")"
    else:
        flat = "flat within 10 %" if abs(growth) <= 0.10 else "NOT flat"
    return (f"RSS {summary['rss_start_mb']:.0f} MB after discovery, {quarter[1]:.0f} MB at {quarter[0]:.0f} s, "
            f"{last[1]:.0f} MB at {last[0]:.0f} s after {last[2]:,} readings: {growth:+.1%}; second half "
            f"{slope:+.2f} MB/min; published {row.get('achieved_pub', 0):,.0f}/s of {rate:,}/s, hub took {taken} "
            f"per interval, loss {row.get('loss', 0):.2%}, drained in {row.get('drain_s', 0):.1f} s: {flat}")


async def main(args: argparse.Namespace) -> None:
    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
        broker, port = mqtt_ingest.start_mosquitto(Path(tmp))
        try:
            print(f"{args.rate:,} readings/s for {args.minutes:g} min, RSS every {args.every:g} s "
                  "(recorder on, one WebSocket subscriber); load average "
                  + ", ".join(f"{x:.1f}" for x in os.getloadavg()), flush=True)
            summary = await mqtt_ingest.run_hub_process(
                soak_args(args.rate, seconds, args.every, tracemalloc=args.tracemalloc, slow_callbacks=args.slow_callbacks,
                          smaps=args.smaps),
                port, "gmqtt", "soak")
            print(verdict(summary, seconds, args.rate), flush=True)
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
    parser.add_argument("--smaps", action="store_true",
                        help="print which kinds of mapping (glibc heap and arenas, Python's arenas, files, other "
                             "anonymous) changed by 1 MB or more between samples, and when the downsampler last ran")
    parser.add_argument("--slow-callbacks", action="store_true", help="print the loop's slowest callbacks")
    asyncio.run(main(parser.parse_args()))
