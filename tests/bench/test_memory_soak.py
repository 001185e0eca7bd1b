"""bench/memory_soak.py calls a run flat only when it was one at the rate: the publisher held it and the hub kept up."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _load_bench() -> Any:
    sys.path.insert(0, str(ROOT / "bench"))  # the soak imports its sibling mqtt_ingest
    try:
        spec = importlib.util.spec_from_file_location("bench_memory_soak", ROOT / "bench" / "memory_soak.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(ROOT / "bench"))
    return module


soak = _load_bench()


def _run(hub_rates: list[float], published: float = 5000.0, loss: float = 0.0, drain: float = 0.1) -> dict[str, Any]:
    """A 5,000/s run's summary: RSS samples every 10 s, 100 MB flat, the hub taking hub_rates per interval."""
    samples, readings = [], 0
    for i, taken in enumerate(hub_rates):
        readings += int(taken * 10)
        samples.append((10.0 * (i + 1), 100.0 + (i % 2), readings))
    row = {"achieved_pub": published, "loss": loss, "drain_s": drain, "ws_connected": True}
    return {"rows": [row], "rss_samples": samples, "rss_start_mb": 90.0}


def test_a_run_at_the_rate_is_judged() -> None:
    text = soak.verdict(_run([5000.0] * 12), 120, 5000)
    assert text.endswith("flat within 10 %") and "published 5,000/s of 5,000/s" in text


def test_a_hub_that_fell_behind_is_not_called_flat() -> None:
    text = soak.verdict(_run([5000.0] * 6 + [3000.0] * 6), 120, 5000)
    assert "NO VERDICT" in text and "fell 120,000 readings (24.0 s of the rate) behind the publisher at 120 s" in text
    # A dip the hub caught up within a second of readings is not falling behind.
    assert soak.verdict(_run([5000.0] * 6 + [4700.0, 5300.0] + [5000.0] * 4), 120, 5000).endswith("flat within 10 %")


def test_a_publisher_that_did_not_hold_the_rate_gives_no_verdict() -> None:
    text = soak.verdict(_run([3500.0] * 12, published=3500.0), 120, 5000)
    assert "NO VERDICT" in text and "the publisher sent 3,500/s of 5,000/s" in text
    assert "NO VERDICT" in soak.verdict(_run([5000.0] * 12, loss=0.05), 120, 5000)
    assert "a backlog" in soak.verdict(_run([5000.0] * 12, drain=4.0), 120, 5000)
