"""`hub run`'s garbage-collection policy: what lived through start-up is frozen out of the collector's scans."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from hub import heap


class Node:
    """A container object the collector tracks."""

    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()  # what a test froze must not be kept for the rest of the session
    gc.set_threshold(*thresholds)


def test_freeze_takes_long_lived_objects_out_of_collections() -> None:
    kept = [Node() for _ in range(1000)]
    frozen, _ = heap.freeze()
    assert frozen >= 1000
    # A young collection now only walks what was made since: far fewer objects than were frozen.
    young = [Node() for _ in range(10)]
    assert len(gc.get_objects(generation=2)) < frozen
    assert kept and young


def test_a_full_freeze_frees_cycles_among_frozen_objects() -> None:
    a, b = Node(), Node()
    a.other, b.other = b, a  # a reference cycle: only the collector frees it
    gone = weakref.ref(a)
    heap.freeze()
    del a, b
    heap.freeze()  # frozen objects are not scanned: the cycle stays
    assert gone() is not None
    heap.freeze(full=True)
    assert gone() is None


async def test_keep_young_freezes_at_start_when_settled_and_at_intervals() -> None:
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
