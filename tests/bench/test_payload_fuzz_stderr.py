"""bench/payload_fuzz.py counts what escapes to stderr (an exception in a finalizer) as tracebacks."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from payload_fuzz import StderrTally  # noqa: E402 - the bench's directory first


class Finalized:
    def __del__(self) -> None:
        raise RecursionError("maximum recursion depth exceeded")


def test_unraisable_exceptions_and_stray_lines_count_log_lines_do_not(monkeypatch) -> None:
    # As in the bench: the interpreter's own stderr and unraisable hook, not pytest's.
    monkeypatch.setattr(sys, "stderr", sys.__stderr__)
    monkeypatch.setattr(sys, "unraisablehook", sys.__unraisablehook__)
    tally = StderrTally()
    try:
        cycle = Finalized()
        cycle.self = cycle  # type: ignore[attr-defined]
        del cycle
        gc.collect()  # "Exception ignored in: <function Finalized.__del__ ...>" + its traceback: one event
        print("2026-12-04 00:10:00.123 WARNING integrations.mqtt.entity: a log line", file=sys.stderr)
        print("Exception ignored in sys.unraisablehook: <built-in function unraisablehook>", file=sys.stderr)
        print("RecursionError: maximum recursion depth exceeded while calling a Python object", file=sys.stderr)
        print("Exception ignored in sys.unraisablehook: <built-in function unraisablehook>", file=sys.stderr)
        print("RecursionError: maximum recursion depth exceeded while calling a Python object", file=sys.stderr)
        print("WARNING bare level: also a log line", file=sys.stderr)
        print("a C library's complaint", file=sys.stderr)
        assert tally.poll() == 4
    finally:
        tally.close()
    assert not any("log line" in line for line in tally.first_lines)
    assert any("Finalized.__del__" in line for line in tally.first_lines)
