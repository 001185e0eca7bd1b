"""The garbage collector's policy for a running hub: long-lived objects are frozen out of its scans.

CPython's full (generation 2) collection walks every container object in the process: the
imported modules, SQLAlchemy, aiohttp, the registries and every entity. In a hub that is
100,000s of objects and 100-200 ms during which the event loop stands still, and under load
(10,000 readings/s) it comes several times a minute, because short-lived states that wait for
the recorder's next commit get promoted to the old generation. That pause was the hub's tail
latency (bench/mqtt_ingest.py --slow-callbacks shows it as GC time).

So once the hub has started, and again once MQTT discovery and the first readings have settled,
everything alive is collected once and then frozen (`gc.freeze()`): later collections scan only
what was created since, and stay short. Frozen objects are still freed by reference counting
when dropped; only a reference cycle among them that becomes garbage later (an entity removed
with a listener pointing back at it) would outlive its use, so every `full_every` seconds the
whole heap is unfrozen and collected once, and frozen again.

The youngest generation is also collected less often (every 10,000 net allocations instead of
700): at 10,000 readings/s the default ran 60 young collections a second, and the readings that
wait for the recorder's commit were promoted and scanned again and again. Measured at 10,000
readings/s: garbage collection CPU 350-430 ms per 5 s before, 100-140 ms with freezing, 20-40 ms
with both; the longest pause 140-150 ms, 7-47 ms, 3-8 ms (CPU time, on a loaded machine).

A process policy, not a Hub's: `hub run` turns it on; tests that build many hubs in one process
leave it off so that what each test froze is not kept for the rest of the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Awaitable, Callable, Iterator

_LOGGER = logging.getLogger(__name__)

SETTLE_AFTER = (5.0, 60.0)  # seconds after start: discovery and restored entities have arrived
REFREEZE_EVERY = 600.0  # newly long-lived objects (entities discovered later) join the frozen set
FULL_EVERY = 6 * 3600.0  # a full collection of everything, frozen or not
YOUNG_THRESHOLD = 10_000  # net allocations between collections of the youngest generation (CPython: 700)


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """No collection while the block runs; the collector is on again after it, as it was before.

    For `hub run`'s imports and start: what they make lives as long as the process and is
    frozen right after (`freeze(collect=False)`). The ~230 young collections of the imports
    alone took 0.07 CPU s (hub.bootstrap and the MQTT integration's imports: 0.74 CPU s before,
    0.63 paused, medians of 12 alternating runs on a loaded machine) to free ~1,800 objects,
    which now stay until the next full freeze; the start's own collections freed ~100.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def freeze(full: bool = False, collect: bool = True) -> float:
    """Collect, then freeze what survived; return the seconds it took.

    Args:
        full: unfreeze first, so that the collection also frees cycles among frozen objects.
        collect: False freezes without collecting first: cycles that are garbage now stay until
            the next full freeze (for a heap known to hold few, where the pass costs more).

    How many objects are frozen is logged at debug level only: `gc.get_freeze_count()` walks
    the whole frozen list (10 ms for the imports' 103,000 objects, 13-16 ms once a start's are frozen too), where
    `gc.freeze()` itself takes microseconds.
    """
    began = time.perf_counter()
    if full:
        gc.unfreeze()
    if collect:
        gc.collect()
    gc.freeze()
    took = time.perf_counter() - began
    if _LOGGER.isEnabledFor(logging.DEBUG):
        _LOGGER.debug("Froze %d objects out of garbage collection in %.3f s%s", gc.get_freeze_count(), took,
                      " (a full collection)" if full else "")
    return took


async def keep_young(
    *,
    settle_after: tuple[float, ...] = SETTLE_AFTER,
    refreeze_every: float = REFREEZE_EVERY,
    full_every: float = FULL_EVERY,
    young_threshold: int = YOUNG_THRESHOLD,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> None:
    """Freeze the heap now, when start-up has settled, and at intervals (run as a task; cancel to stop)."""
    _, *older = gc.get_threshold()
    gc.set_threshold(young_threshold, *older)
    freeze()
    waited = 0.0
    for at in settle_after:
        await sleep(at - waited)
        waited = at
        freeze()
    since_full = 0.0
    while True:
        await sleep(refreeze_every)
        since_full += refreeze_every
        full = since_full >= full_every
        if full:
            since_full = 0.0
        freeze(full=full)
