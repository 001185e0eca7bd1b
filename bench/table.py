"""Every row of issue 23's performance table, measured in one command.

    .venv/bin/python bench/table.py                 # the whole table (about 6 minutes)
    .venv/bin/python bench/table.py --quick         # 3 s per rate, fewer rates (about 3 minutes)
    .venv/bin/python bench/table.py --skip-startup --skip-history

Rows and where they come from:
- sustained ingest, QoS 0, 8 s at each rate, recorder + one WebSocket subscriber; p50/p99
  publish -> state_changed per rate (in the hub, and at the WebSocket client); CPU s per 1,000
  readings: bench/mqtt_ingest.py's hub process (1,000 discovered sensors, Mosquitto with
  set_tcp_nodelay, a publisher process);
- 30,000 readings/s with and without the WebSocket client (is the bench's own client the limit?);
- cold start with 5,000 retained discovery configs and its RSS: bench/startup.py --with-mqtt;
- RSS after 400,000 readings: 80 s at 5,000/s (bench/memory_soak.py has the long form);
- 1-day, 1 Hz, 10-entity history, cold: bench/history_query.py, when this tree has it.

The machine is shared: every row says the load average it was measured under. Home Assistant's
column is the one issue 23 measured (2024.1.6 on this machine) unless bench/compare_ha.sh ran.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import memory_soak  # noqa: E402
import mqtt_ingest  # noqa: E402

RATES = [1000, 2000, 5000, 10000, 15000, 20000, 30000]
HA_2024_1_6 = {  # issue 23, measured with the same black-box scenario on this machine
    "sustained": "1,000/s (2,000 fails)",
    "lat_1k": "0.6 / 223 ms",
    "p99": "fails",
    "cpu": "0.60",
    "start": "12.6 s / 299 MB",
    "rss_400k": "",
    "history": "",
}


def load() -> str:
    return "load %.1f" % os.getloadavg()[0]


def ingest_args(rates: list[int], seconds: float, ws: bool) -> argparse.Namespace:
    return argparse.Namespace(sensors=1000, seconds=seconds, rates=rates, qos=[0], recorder=True, ws=ws,
                              template=False, slow_callbacks=False, rss_every=0)


def run_script(script: str, *args: str, timeout: float = 600) -> list[str]:
    """Run another bench script with this Python; return its output lines (echoed)."""
    path = BENCH / script
    if not path.exists():
        return [f"({script} is not in this tree)"]
    try:
        done = subprocess.run([sys.executable, str(path), *args], capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return [f"({script} did not finish within {timeout:.0f} s)"]
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    for line in lines:
        print(f"  [{script}] {line}", flush=True)
    if done.returncode:
        lines.append(f"({script} failed: exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]})")
    return lines


def fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


async def measure(args: argparse.Namespace) -> dict:
    found: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench-table-") as tmp:
        broker, port = mqtt_ingest.start_mosquitto(Path(tmp))
        try:
            print(f"== ingest, {args.seconds:g} s per rate, recorder + WebSocket subscriber ({load()})", flush=True)
            found["ingest"] = await mqtt_ingest.run_hub_process(ingest_args(args.rates, args.seconds, True), port, "gmqtt", "ingest")
            found["ingest_load"] = load()
            top = max(args.rates)
            print(f"== {top:,}/s without the WebSocket client ({load()})", flush=True)
            found["no_ws"] = await mqtt_ingest.run_hub_process(ingest_args([top], args.seconds, False), port, "gmqtt", "no ws")
            found["no_ws_load"] = load()
            if not args.skip_rss:
                seconds = args.readings / 5000
                print(f"== RSS after {args.readings:,} readings: {seconds:g} s at 5,000/s ({load()})", flush=True)
                found["rss"] = await mqtt_ingest.run_hub_process(memory_soak.soak_args(5000, seconds, seconds / 4), port, "gmqtt", "rss")
                found["rss_load"] = load()
        finally:
            broker.terminate()
            broker.wait(5)
    if not args.skip_startup:
        print(f"== cold start, 5,000 entities from retained discovery ({load()})", flush=True)
        found["startup"] = run_script("startup.py", "--with-mqtt", "--entities", "5000")
        found["startup_load"] = load()
    if not args.skip_history:
        print(f"== 1-day, 1 Hz, 10-entity history, cold ({load()})", flush=True)
        found["history"] = run_script("history_query.py")
        found["history_load"] = load()
    return found


def print_table(found: dict) -> None:
    rows: list[tuple[str, str, str]] = []
    ingest = found["ingest"]["rows"]
    ok = [r for r in ingest if r["sustained"] and r.get("ws_connected", True)]
    failed = [r for r in ingest if r not in ok]
    first_fail = min(failed, key=lambda r: r["rate"]) if failed else None
    text = f"{max(r['rate'] for r in ok):,}/s" if ok else "none"
    if first_fail is not None:
        why = "WebSocket client cut off" if not first_fail.get("ws_connected", True) else \
            f"{first_fail['loss']:.1%} lost, drain {first_fail['drain_s']:.1f} s, published {first_fail['achieved_pub']:,.0f}/s"
        text += f" ({first_fail['rate']:,}: {why})"
    rows.append(("sustained ingest QoS 0 at each rate", text, "sustained"))
    by_rate = {r["rate"]: r for r in ingest}
    at_1k = by_rate.get(1000)
    if at_1k:
        rows.append(("p50 / p99 publish -> state_changed at 1k/s",
                     f"{fmt_ms(at_1k.get('p50_ms'))} / {fmt_ms(at_1k.get('p99_ms'))} ms "
                     f"(WS client {fmt_ms(at_1k.get('ws_p50_ms'))} / {fmt_ms(at_1k.get('ws_p99_ms'))})", "lat_1k"))
    rows.append(("p99 at " + " / ".join(f"{r // 1000}k" for r in sorted(by_rate) if r > 1000) + " per s",
                 " / ".join(fmt_ms(by_rate[r].get("p99_ms")) for r in sorted(by_rate) if r > 1000) + " ms (p50 "
                 + " / ".join(fmt_ms(by_rate[r].get("p50_ms")) for r in sorted(by_rate) if r > 1000) + ")", "p99"))
    if at_1k:
        rows.append(("CPU s per 1,000 readings at 1k/s", f"{at_1k['cpu_per_1000']:.3f} (all rates: "
                     + " / ".join(f"{by_rate[r]['cpu_per_1000']:.3f}" for r in sorted(by_rate)) + ")", "cpu"))
    for label, key in (("with", "ingest"), ("without", "no_ws")):
        row = max(found[key]["rows"], key=lambda r: r["rate"])
        us = row["cpu_per_1000"] * 1000
        rows.append((f"{row['rate']:,}/s {label} the WebSocket client",
                     f"{row['received']:,}/{row['sent']:,}, loss {row['loss']:.2%}, drain {row['drain_s']:.2f} s, "
                     f"{us:.0f} µs CPU per reading{'' if row.get('ws_connected', True) else ', WS client cut off'}", ""))
    if "startup" in found:
        lines = [line for line in found["startup"] if "->" in line or "RSS" in line or "(" in line[:1]]
        rows.append(("cold start, 5,000 retained discovery configs / RSS", "; ".join(lines) or "-", "start"))
    if "rss" in found:
        rss = found["rss"]
        rows.append((f"RSS after {rss['readings']:,} readings", f"{rss['rss_start_mb']:.0f} -> {rss['rss_mb']:.0f} MB", "rss_400k"))
    if "history" in found:
        rows.append(("1-day, 1 Hz, 10-entity history, cold", "; ".join(found["history"][-3:]) or "-", "history"))
    width = max(len(r[0]) for r in rows)
    print(f"\n| {'':<{width}} | hub (this tree) | Home Assistant 2024.1.6 (issue 23) |")
    print(f"|{'-' * (width + 2)}|---|---|")
    for name, value, ha in rows:
        print(f"| {name:<{width}} | {value} | {HA_2024_1_6.get(ha, '')} |")
    print("\nmeasured under: " + ", ".join(f"{k[:-5]} {v}" for k, v in found.items() if k.endswith("_load")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0, help="publishing time per rate")
    parser.add_argument("--rates", type=int, nargs="+", default=RATES)
    parser.add_argument("--readings", type=int, default=400_000, help="readings before the RSS row")
    parser.add_argument("--quick", action="store_true", help="3 s per rate, 100,000 readings for the RSS row")
    parser.add_argument("--skip-startup", action="store_true")
    parser.add_argument("--skip-history", action="store_true")
    parser.add_argument("--skip-rss", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.readings = 3.0, 100_000
    print_table(asyncio.run(measure(args)))


if __name__ == "__main__":
    main()
