"""bench/tails.py runs and prints its figures (not a test of the figures: a smoke run at a small rate)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_tails_bench_prints_cpu_per_reading_loop_steps_and_collections() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "tails.py"), "--rates", "2000", "--seconds", "0.3"],
                          capture_output=True, text=True, timeout=120, check=True)
    row = next(line for line in done.stdout.splitlines() if line.strip().startswith("2000/s"))
    assert re.search(r"[\d.]+ µs/reading on the loop, [\d.]+ µs all threads", row), row
    assert re.search(r"loop callbacks max [\d.]+ ms", row), row
    assert re.search(r"GC \d+ runs", row), row
    assert re.search(r"ticker late, less that wait: p99 [\d.]+ ms", row), row
