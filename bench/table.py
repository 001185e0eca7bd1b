"""Every row of issue 23's performance table in one command, for the hub and (with --ha) Home Assistant.

    .venv/bin/python bench/table.py                  # the hub alone, every row (about 8 minutes)
    .venv/bin/python bench/table.py --quick          # a smoke run at a small scale (well under a minute)
    bench/compare_ha.sh                              # the hub and Home Assistant, interleaved (about 30 minutes)
    .venv/bin/python bench/table.py --ha VENV --only ingest startup

Both systems go through the same black-box scenarios (bench/blackbox.py: MQTT discovery in,
REST/WebSocket out, each run on its own fresh Mosquitto with set_tcp_nodelay and a fresh system
process), interleaved scenario by scenario (hub, HA, hub, HA with --repeat 2), so they see the
same machine. The rows:
- sustained ingest, QoS 0, `--seconds` at each rate, 1,000 discovered sensors, recorder and one
  WebSocket subscriber; p50/p99 publish -> state_changed at that subscriber; the system's CPU
  seconds per 1,000 readings. A system that fails a rate clearly (>= 5 % lost or its client cut
  off) is not sent the higher ones (--keep-going sends them);
- cold start with 5,000 retained discovery configs (and a retained reading each), on a stock
  Mosquitto as the issue's target has it: all live, CPU, RSS;
- RSS after 400,000 readings at the highest rate the system sustained (at most --soak-rate);
- 1-day, 1 Hz, 10-entity history (history/history_during_period), cold and warm, on a fresh process.

The last column is Home Assistant's figure divided by the hub's (medians of the runs): above 1
means Home Assistant takes more (time, CPU, memory); for the sustained rate, below 1 means it
takes less. Every figure is from this run; the machine's load is printed as it goes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import blackbox  # noqa: E402
from blackbox import NAMES, guarded, log  # noqa: E402

RATES = [1000, 2000, 5000, 10000, 15000, 20000, 30000]
P99_RATES = [2000, 5000, 10000, 15000]
SCENARIOS = ["startup", "ingest", "soak", "history"]
ROWS = {  # the table, in its order; the smoke test checks every label is printed
    "sustained": "sustained ingest QoS 0 at each rate",
    "lat_1k": "p50 / p99 publish -> state_changed at 1k/s",
    "p99": "p99 at 2k / 5k / 10k / 15k per s",
    "cpu": "CPU s per 1,000 readings at 1k/s",
    "start": "cold start, 5,000 retained discovery configs: all live / RSS",
    "rss": "RSS after 400,000 readings",
    "history": "1-day, 1 Hz, 10-entity history, cold",
}
# Rough seconds per scenario and system, for the estimate printed up front.
START_S = {"hub": 10.0, "ha": 35.0}


def estimate(args: argparse.Namespace, kinds: list[str]) -> float:
    total = 0.0
    for kind in kinds:
        starts = START_S[kind]
        if "startup" in args.only:
            total += args.repeat * (starts + args.entities / (400 if kind == "hub" else 200) + 5)
        if "ingest" in args.only:
            rates = args.rates if kind == "hub" else [r for r in args.rates if r <= 2000]
            total += args.repeat * (starts + sum(args.seconds + 5 for _ in rates))
        if "soak" in args.only:
            total += starts + args.readings / (args.soak_rate if kind == "hub" else 1000) + 10
        if "history" in args.only:
            total += args.history_seconds / 3600 * 0.5 + args.repeat * (starts + 10)
    return total


def bound(args: argparse.Namespace, kinds: list[str]) -> float:
    """The scenarios' time limits summed: the longest the run can take."""
    per = {"startup": 600.0, "ingest": 300.0 + len(args.rates) * (args.seconds * 3 + 40),
           "soak": 400.0 + args.readings / 500, "history": 900.0}
    return sum(per[s] * (1 if s == "soak" else args.repeat) for s in args.only) * len(kinds)


async def measure(args: argparse.Namespace, kinds: list[str]) -> dict[str, dict[str, list[dict]]]:
    venv = Path(args.ha) if args.ha else None
    found: dict[str, dict[str, list[dict]]] = {s: {k: [] for k in kinds} for s in SCENARIOS}
    limits = {"startup": 600.0, "ingest": 300.0 + len(args.rates) * (args.seconds * 3 + 40)}
    for scenario in ("startup", "ingest"):
        if scenario not in args.only:
            continue
        for repeat in range(1, args.repeat + 1):
            for kind in kinds:
                log(f"== {scenario}, {NAMES[kind]}, run {repeat}/{args.repeat}")
                work = (blackbox.cold_start(kind, venv, args.entities) if scenario == "startup" else
                        blackbox.ingest(kind, venv, args.rates, args.seconds, args.sensors, args.keep_going))
                found[scenario][kind].append(await guarded(scenario, kind, work, limits[scenario]))
    if "soak" in args.only:
        for kind in kinds:
            sustained = [r["rate"] for run in found["ingest"][kind] for r in run.get("rows", []) if r["sustained"]]
            rate = min(max(sustained, default=1000), args.soak_rate)
            log(f"== RSS after {args.readings:,} readings, {NAMES[kind]} at {rate:,}/s")
            work = blackbox.soak(kind, venv, rate, args.readings, args.sensors)
            found["soak"][kind].append(await guarded("soak", kind, work, 400 + args.readings / 500))
    if "history" in args.only:
        with tempfile.TemporaryDirectory(prefix="bench-table-history-") as tmp:
            now = time.time()
            seeded: dict[str, tuple[Path, int] | dict] = {}
            for kind in kinds:
                log(f"== history: writing {args.history_seconds / 3600:g} h at 1 Hz for 10 entities into {NAMES[kind]}'s database")
                try:
                    seeded[kind] = await blackbox.seed(kind, venv, Path(tmp), now, args.history_seconds)
                except Exception as err:  # noqa: BLE001 - reported in the table
                    seeded[kind] = {"error": f"seeding failed: {err}"[:300]}
            for repeat in range(1, args.repeat + 1):
                for kind in kinds:
                    log(f"== history, {NAMES[kind]}, run {repeat}/{args.repeat}")
                    seed = seeded[kind]
                    if isinstance(seed, dict):
                        found["history"][kind].append(seed)
                        continue
                    work = blackbox.history(kind, venv, seed[0], now, args.history_seconds, seed[1])
                    found["history"][kind].append(await guarded("history", kind, work, 900))
    return found


# ---------------------------------------------------------------- the table


def ok(runs: list[dict]) -> list[dict]:
    return [r for r in runs if "error" not in r]


def errors(runs: list[dict]) -> str:
    return "; ".join(sorted({r["error"] for r in runs if "error" in r}))


def num(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def spread(values: list[float], unit: str = "") -> str:
    """One value, or the range of the runs' values."""
    if not values:
        return "-"
    low, high = min(values), max(values)
    text = num(low) if num(low) == num(high) else f"{num(low)}-{num(high)}"
    return text + unit


def median(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return statistics.median(kept) if kept else None


def ratio(ha: float | None, hub: float | None) -> str:
    if ha is None or hub is None or hub == 0:
        return ""
    return f"{ha / hub:.2f}" if ha / hub < 10 else f"{ha / hub:.0f}"


def rate_row(run: dict, rate: int) -> dict | None:
    return next((r for r in run.get("rows", []) if r["rate"] == rate), None)


def failure(row: dict) -> str:
    if row["cut_off"]:
        return f"client cut off, {row['loss']:.0%} lost"
    if row["publisher_limited"]:
        return f"publisher reached only {row['published']:,.0f}/s"
    if row["loss"] >= 0.01 and row.get("backlog"):
        return f"{row['loss']:.0%} not delivered {row['drain_s'] or 0:.0f} s after publishing ended"
    if row["loss"] >= 0.01:
        return f"{row['loss']:.0%} lost"
    return f"backlog drained {row['drain_s'] or 0:.1f} s after publishing ended"


def sustained_cell(run: dict) -> tuple[str, float | None]:
    if "error" in run and not run.get("rows"):
        return f"error: {run['error']}", None
    rows = run.get("rows", [])
    good = [r["rate"] for r in rows if r["sustained"]]
    best = max(good) if good else None
    text = f"{best:,}/s" if best else "none"
    failed = next((r for r in rows if not r["sustained"] and r["rate"] > (best or 0)), None)
    if failed is not None:
        text += f" ({failed['rate']:,}: {failure(failed)})"
    return text, float(best) if best else None


def cells(kind: str, found: dict[str, dict[str, list[dict]]]) -> dict[str, tuple[str, Any]]:
    """Each row's text for one system, and the figure its ratio is taken of."""
    out: dict[str, tuple[str, Any]] = {}
    ingest = found["ingest"].get(kind, [])
    if ingest:
        texts, bests = zip(*(sustained_cell(run) for run in ingest), strict=True)
        out["sustained"] = (" · ".join(dict.fromkeys(texts)), median(list(bests)))
        at_1k = [r for run in ingest if (r := rate_row(run, 1000)) and r["p50_ms"] is not None]
        if at_1k:
            p50s, p99s = [r["p50_ms"] for r in at_1k], [r["p99_ms"] for r in at_1k]
            out["lat_1k"] = (f"{spread(p50s)} / {spread(p99s)} ms", (median(p50s), median(p99s)))
            cpus = [r["cpu_per_1000"] for r in at_1k]
            out["cpu"] = (spread(cpus), median(cpus))
        else:
            out["lat_1k"] = out["cpu"] = (errors(ingest) or "no events at 1k/s", None)
        parts, figures = [], {}
        for rate in P99_RATES:
            rows = [r for run in ingest if (r := rate_row(run, rate))]
            if not rows:
                parts.append("not run")
            elif all(r["sustained"] for r in rows):
                parts.append(spread([r["p99_ms"] for r in rows], " ms"))
                figures[rate] = median([r["p99_ms"] for r in rows])  # a ratio only of rates sustained in every run
            else:
                worst = max((r for r in rows if not r["sustained"]), key=lambda r: (r["loss"], r["drain_s"] or 0))
                failed = sum(1 for r in rows if not r["sustained"])
                measured = [r["p99_ms"] for r in rows if r["p99_ms"] is not None]
                runs = "" if failed == len(rows) else f" in {failed} of {len(rows)} runs"
                parts.append(f"{spread(measured, ' ms') + ', ' if measured and worst['loss'] < 0.01 else ''}"
                             f"fails{runs} ({failure(worst)})")
        out["p99"] = (" / ".join(parts), figures)
    starts = found["startup"].get(kind, [])
    if starts:
        good = ok(starts)
        if good:
            text = (f"{spread([r['start_s'] for r in good], ' s')} ({spread([r['cpu_s'] for r in good])} CPU s) / "
                    f"{spread([r['rss_mb'] for r in good], ' MB')}")
            out["start"] = (text + (f"; {errors(starts)}" if len(good) < len(starts) else ""),
                            (median([r["start_s"] for r in good]), median([r["cpu_s"] for r in good]), median([r["rss_mb"] for r in good])))
        else:
            out["start"] = (f"error: {errors(starts)}", None)
    soaks = found["soak"].get(kind, [])
    if soaks:
        run = soaks[0]
        if "error" in run:
            out["rss"] = (f"error: {run['error']}", None)
        else:
            lost = f", {run['loss']:.1%} lost" if run["loss"] >= 0.001 else ""
            cut = ", client cut off" if run["cut_off"] else ""
            out["rss"] = (f"{run['rss_start_mb']:.0f} -> {run['rss_mb']:.0f} MB ({run['readings']:,} at {run['rate']:,}/s{lost}{cut})",
                          run["rss_mb"])
    histories = found["history"].get(kind, [])
    if histories:
        good = ok(histories)
        if good:
            cold = [r["cold_ms"] for r in good]
            out["history"] = (f"{spread(cold, ' ms')} (warm {spread([r['warm_ms'] for r in good], ' ms')}; "
                              f"{good[0]['points']:,} states)" + (f"; {errors(histories)}" if len(good) < len(histories) else ""),
                              median(cold))
        else:
            out["history"] = (f"error: {errors(histories)}", None)
    return out


def ratios(hub: dict[str, tuple[str, Any]], ha: dict[str, tuple[str, Any]]) -> dict[str, str]:
    def fig(cells_: dict[str, tuple[str, Any]], key: str) -> Any:
        return cells_.get(key, ("", None))[1]

    out: dict[str, str] = {}
    simple: dict[str, Callable[[Any], float | None]] = {"sustained": lambda v: v, "cpu": lambda v: v,
                                                        "rss": lambda v: v, "history": lambda v: v}
    for key, pick in simple.items():
        a, b = fig(ha, key), fig(hub, key)
        out[key] = ratio(pick(a) if a is not None else None, pick(b) if b is not None else None)
    a, b = fig(ha, "lat_1k"), fig(hub, "lat_1k")
    if a and b:
        out["lat_1k"] = f"{ratio(a[0], b[0])} / {ratio(a[1], b[1])}"
    a, b = fig(ha, "p99") or {}, fig(hub, "p99") or {}
    out["p99"] = " / ".join(ratio(a.get(rate), b.get(rate)) or "-" for rate in P99_RATES)
    a, b = fig(ha, "start"), fig(hub, "start")
    if a and b:
        out["start"] = f"{ratio(a[0], b[0])} ({ratio(a[1], b[1])} CPU) / {ratio(a[2], b[2])}"
    return out


def table(found: dict[str, dict[str, list[dict]]], kinds: list[str]) -> list[str]:
    by_kind = {kind: cells(kind, found) for kind in kinds}
    both = len(kinds) == 2
    extra = ratios(by_kind["hub"], by_kind["ha"]) if both else {}
    width = max(len(label) for label in ROWS.values())
    head = f"| {'':<{width}} | " + " | ".join(NAMES[k] for k in kinds) + (" | HA ÷ hub |" if both else " |")
    lines = [head, "|" + "-" * (width + 2) + "|---" * len(kinds) + ("|---|" if both else "|")]
    for key, label in ROWS.items():
        row = [by_kind[k].get(key, ("not run", None))[0] for k in kinds]
        if both:
            row.append(extra.get(key, ""))
        lines.append(f"| {label:<{width}} | " + " | ".join(row) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ha", metavar="VENV", help="also measure Home Assistant installed in this venv (bench/compare_ha.sh makes one)")
    parser.add_argument("--quick", action="store_true", help="a smoke run at a small scale: the harness, not figures")
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, default=SCENARIOS, help="run only these scenarios")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each interleaved scenario per system")
    parser.add_argument("--seconds", type=float, default=8.0, help="publishing time per rate")
    parser.add_argument("--rates", type=int, nargs="+", default=RATES)
    parser.add_argument("--keep-going", action="store_true", help="send every rate even after one a system clearly failed")
    parser.add_argument("--sensors", type=int, default=1000, help="discovered sensors the readings go to")
    parser.add_argument("--entities", type=int, default=5000, help="retained discovery configs for the cold start")
    parser.add_argument("--readings", type=int, default=400_000, help="readings before the RSS row")
    parser.add_argument("--soak-rate", type=int, default=5000, help="the RSS row's rate at most")
    parser.add_argument("--history-seconds", type=float, default=86400.0, help="the span of the 1 Hz history")
    parser.add_argument("--save", type=Path, help="also write every result as JSON to this file")
    parser.add_argument("--from", dest="source", type=Path, help="print the table of results saved with --save; measure nothing")
    args = parser.parse_args()
    if args.source:
        saved = json.loads(args.source.read_text())
        print("\n".join(table(saved["found"], saved["kinds"])))
        return
    if args.quick:
        args.repeat, args.seconds, args.rates, args.sensors = 1, 1.5, [1000, 2000], 100
        args.entities, args.readings, args.soak_rate, args.history_seconds = 200, 3000, 1000, 3600.0
        blackbox.SETTLE = 0.3
    kinds = ["hub", "ha"] if args.ha else ["hub"]
    minutes, limit = estimate(args, kinds) / 60, bound(args, kinds) / 60
    print(f"{' and '.join(NAMES[k] for k in kinds)}: {', '.join(args.only)}; {args.repeat} run(s) each, interleaved; "
          f"rates {', '.join(f'{r:,}' for r in args.rates)} for {args.seconds:g} s to {args.sensors:,} sensors; {args.entities:,} entities at cold start; "
          f"RSS after {args.readings:,} readings; {args.history_seconds / 3600:g} h of 1 Hz history.", flush=True)
    print(f"expected run time about {minutes:.0f} min on a quiet machine (every scenario is bounded: at most {limit:.0f} min); "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}", flush=True)
    if args.quick:
        print("QUICK: a smoke run of the harness at a small scale; its figures are not the issue's rows", flush=True)
    began = time.monotonic()
    found = asyncio.run(measure(args, kinds))
    if args.save:
        args.save.write_text(json.dumps({"kinds": kinds, "found": found}, indent=1))
    print(f"\nmeasured in {(time.monotonic() - began) / 60:.1f} min, load at the end {os.getloadavg()[0]:.1f} "
          f"(latency at the WebSocket client; CPU of the system's process)\n")
    print("\n".join(table(found, kinds)), flush=True)


if __name__ == "__main__":
    main()
