"""Parsing a node's offline telemetry batch (integrations/telemetry_backfill/batch.py).

    .venv/bin/python bench/telemetry_batch.py
    git show main:integrations/telemetry_backfill/batch.py > /tmp/batch_main.py
    .venv/bin/python bench/telemetry_batch.py --compare /tmp/batch_main.py   # interleaved, as a ratio

A 240-reading batch of the six meter fields (what a node sends after 40 minutes offline at one
reading per 10 s), parsed 200 times per round, best of 5 rounds; with --compare, rounds of the
two parsers alternate so both see the same machine, and the ratio is printed.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from integrations.telemetry_backfill import batch as current  # noqa: E402

NOW = 1_800_000_000.0
FIELDS = {"power": 100.5, "energy": 1.25, "voltage": 230.1, "current": 0.44, "frequency": 50.0, "power_factor": 0.98}


def _load(path: str) -> Any:
    spec = importlib.util.spec_from_file_location("batch_compared", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["batch_compared"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _round(module: Any, payload: bytes, count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        module.parse("n1", payload, now=NOW)
    return (time.perf_counter() - start) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compare", help="another batch.py to time against this one")
    parser.add_argument("--readings", type=int, default=240)
    args = parser.parse_args()
    payload = orjson.dumps({"node_id": "n1", "readings": [
        {"ts": NOW - 10 * (args.readings - i), **{k: v + i for k, v in FIELDS.items()}} for i in range(args.readings)]})
    other = _load(args.compare) if args.compare else None
    mine, theirs = [], []
    for _ in range(5):
        mine.append(_round(current, payload, 200))
        if other is not None:
            theirs.append(_round(other, payload, 200))
    print(f"{args.readings}-reading batch: {min(mine):.0f} us ({min(mine) / args.readings:.2f} us per reading)")
    if other is not None:
        print(f"compared ({args.compare}): {min(theirs):.0f} us; this one takes {min(mine) / min(theirs):.2f}x its time")


if __name__ == "__main__":
    main()
