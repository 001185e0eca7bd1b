"""`hub run`'s garbage-collection policy: what lived through start-up is frozen out of the collector's scans.

Each check runs in a fresh interpreter: its collections there walk a hub-sized heap. In the test
session's own process they walked everything a thousand tests before had left, and took 50 and
25 s in the full suite for 3.5 and 2.5 s alone.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import subprocess
import sys
import weakref
from pathlib import Path

import pytest

from hub import heap

ROOT = Path(__file__).resolve().parents[1]


class Node:
    """A container object the collector tracks."""

    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.mark.parametrize("check", ["freeze_takes_long_lived_objects_out_of_collections",
                                   "a_full_freeze_frees_cycles_among_frozen_objects",
                                   "a_freeze_without_collecting_keeps_garbage_until_a_full_freeze",
                                   "paused_collects_nothing_and_restores_the_collector",
                                   "keep_young_freezes_at_start_when_settled_and_at_intervals"])
def test_in_a_fresh_interpreter(check: str) -> None:
    done = subprocess.run([sys.executable, "-c", f"import tests.test_heap as t; t.run('check_{check}')"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr


def run(name: str) -> None:
    """Run one check (in the child process test_in_a_fresh_interpreter starts)."""
    result = globals()[name]()
    if inspect.iscoroutine(result):
        asyncio.run(result)


def check_freeze_takes_long_lived_objects_out_of_collections() -> None:
    kept = [Node() for _ in range(1000)]
    heap.freeze()
    frozen = gc.get_freeze_count()
    assert frozen >= 1000
    # A young collection now only walks what was made since: far fewer objects than were frozen.
    young = [Node() for _ in range(10)]
    assert len(gc.get_objects(generation=2)) < frozen
    assert kept and young


def check_a_full_freeze_frees_cycles_among_frozen_objects() -> None:
    a, b = Node(), Node()
    a.other, b.other = b, a  # a reference cycle: only the collector frees it
    gone = weakref.ref(a)
    heap.freeze()
    del a, b
    heap.freeze()  # frozen objects are not scanned: the cycle stays
    assert gone() is not None
    heap.freeze(full=True)
    assert gone() is None


def check_paused_collects_nothing_and_restores_the_collector() -> None:
    gc.set_threshold(10)  # a young collection every 10 net allocations, if any ran
    with heap.paused():
        before = gc.get_stats()[0]["collections"]
        made = [Node() for _ in range(1000)]
        assert gc.get_stats()[0]["collections"] == before
    assert gc.isenabled()  # on again: a hub that stayed paused would never free a cycle
    gc.disable()
    with heap.paused():
        pass
    assert not gc.isenabled()  # as it was before: off
    assert made


def check_a_freeze_without_collecting_keeps_garbage_until_a_full_freeze() -> None:
    a, b = Node(), Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    del a, b  # garbage now, a cycle only a collection frees
    heap.freeze(collect=False)  # what `hub run` does after its imports: no pass over them
    heap.freeze()
    assert gone() is not None  # frozen as it was: not freed by a later collection either
    heap.freeze(full=True)
    assert gone() is None


async def check_keep_young_freezes_at_start_when_settled_and_at_intervals() -> None:
    waits: list[float] = []
    counts: list[int] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        counts.append(gc.get_freeze_count())
        if len(waits) == 5:
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await heap.keep_young(settle_after=(5.0, 60.0), refreeze_every=600.0, full_every=1200.0, sleep=sleep)
    assert waits == [5.0, 55.0, 600.0, 600.0, 600.0]
    assert counts[0] > 0  # frozen at once, before the first wait
    assert gc.get_threshold()[0] == heap.YOUNG_THRESHOLD
