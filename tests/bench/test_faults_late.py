"""bench/faults.py tells late from lost: a reading that reaches history after the settle wait is late.

A loaded machine (load average 20 on 2 cores) makes the hub slow, not lossy: readings the broker
acknowledged can reach history after the settle wait. The bench then waits up to `Plan.late` more,
counts what arrives as late, and only what never arrives as missing. Checked here on a history
that fills in on a schedule (the real processes run in tests/e2e/test_faults.py).
"""

from __future__ import annotations

import collections
import importlib.util
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _load_bench() -> Any:
    spec = importlib.util.spec_from_file_location("bench_faults", ROOT / "bench" / "faults.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


faults = _load_bench()


class SlowHistory:
    """History that holds `present` now and each of `arriving` once its delay (s) has passed."""

    def __init__(self, present: set[int], arriving: dict[int, float]) -> None:
        self.began = time.monotonic()
        self.present, self.arriving = present, arriving

    def counts(self, data_dir: Path) -> collections.Counter[int]:
        elapsed = time.monotonic() - self.began
        return collections.Counter(self.present | {n for n, delay in self.arriving.items() if delay <= elapsed})


class ReadyHub:
    data_dir = Path("/nonexistent")

    def readyz(self) -> tuple[int, dict[str, Any]]:
        return 200, {}


def test_readings_arriving_after_the_settle_wait_are_late_and_make_the_hub_whole() -> None:
    acked = set(range(1, 101))
    history = SlowHistory(set(range(1, 90)), {n: 0.6 for n in range(90, 101)})
    result = faults.Result("broker_kill")
    healed_at = time.monotonic() - 50
    faults.wait_late(ReadyHub(), history, acked, set(range(1, 95)), healed_at, 10.0, result)
    assert result.late == 11
    assert result.whole_s is not None and 50 < result.whole_s < 55
    assert any("late: 11 readings" in note for note in result.notes)
    assert acked <= set(history.counts(ReadyHub.data_dir))  # nothing left for run_fault to call missing


def test_a_reading_that_never_arrives_is_not_late_and_the_wait_is_bounded() -> None:
    acked = set(range(1, 101))
    history = SlowHistory(set(range(1, 90)), {n: 0.3 for n in range(90, 100)})  # 100 never comes
    result = faults.Result("broker_kill")
    began = time.monotonic()
    faults.wait_late(ReadyHub(), history, acked, acked, began, 1.5, result)
    assert 1.4 < time.monotonic() - began < 5
    assert result.late == 10
    assert result.whole_s is None  # reading 100 was acknowledged before the heal and never arrived
    assert acked - set(history.counts(ReadyHub.data_dir)) == {100}


def test_nothing_absent_returns_at_once_and_records_whole() -> None:
    acked = set(range(1, 11))
    result = faults.Result("hub_kill")
    began = time.monotonic()
    faults.wait_late(ReadyHub(), SlowHistory(acked, {}), acked, acked, began - 2, 30.0, result)
    assert time.monotonic() - began < 1
    assert result.late == 0 and result.notes == []
    assert result.whole_s is not None and result.whole_s >= 2
