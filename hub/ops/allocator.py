"""The C allocator's settings for a long-running hub process (glibc only; elsewhere nothing).

glibc serves a large block (a 1 MB MQTT payload, a big JSON answer) by mmap and gives it back
on free, but after the first such free it raises its mmap threshold to that size (up to 32 MB),
so every later large block comes from the heap, between small long-lived objects, and the heap
cannot shrink past them: a burst of big payloads leaves tens of MB of RSS behind for good. A
fixed threshold keeps large blocks in mmap (and disables the dynamic adjustment); a fixed trim
threshold lets free() return the top of the heap. Measured with bench/payload_fuzz.py: RSS
after three rounds of 5,000 broken configs and 20,000 payloads +58 MB without, +43 MB with.

After a burst of work that allocated and freed a lot (thousands of discovery configs), the
free memory between the survivors stays in the process: `trim()` hands the free pages inside
the heap back (malloc_trim(3)); the MQTT discovery calls it when a burst is handled. And glibc
gives threads arenas of their own, up to 8 per core, each keeping its own free memory; a hub's
threads (the recorder's writer, SQLite's, the executor's) allocate little, so two arenas serve
them. Measured with the same campaign: RSS +17.5..18.0 MB with neither, +16.3..16.6 MB with the
trim, +15.6..15.9 MB with both; bench/tails.py CPU per reading unchanged by the arena cap.
"""

from __future__ import annotations

import ctypes
import logging
import sys
import time
from functools import cache

_LOGGER = logging.getLogger(__name__)

# mallopt(3) parameters
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
ARENA_MAX = 2  # the main arena and one the threads share (glibc: up to 8 per core)
MMAP_THRESHOLD = 128 * 1024  # glibc's default starting value, kept fixed
TRIM_THRESHOLD = 1024 * 1024


def tune_allocator() -> bool:
    """Fix glibc's mmap and trim thresholds and cap its arenas for this process; return whether they were set.

    Call it before threads start: an arena a thread already has stays.
    """
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is None:
        return False  # not glibc (musl has no mallopt): its allocator does not hold large blocks
    ok = (bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
          and bool(mallopt(M_ARENA_MAX, ARENA_MAX)))
    _LOGGER.debug("glibc allocator thresholds %s", "set" if ok else "refused")
    return ok


@cache
def _libc() -> ctypes.CDLL | None:
    """The C library (Linux), whose glibc-only functions are looked up by the caller.

    The process's own symbols (dlopen(NULL)), the C library's among them: ctypes.util.find_library
    would run `ldconfig -p` in a child process at every start to name the file.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


def trim() -> bool:
    """Return the free memory inside the heap to the system (glibc); return whether any was.

    A few milliseconds on a hub's heap: call it after a burst, not per message.
    """
    malloc_trim = getattr(_libc(), "malloc_trim", None)  # glibc only (musl has none)
    if malloc_trim is None:
        return False
    began = time.perf_counter()
    released = bool(malloc_trim(0))
    _LOGGER.debug("malloc_trim: %s in %.1f ms", "released memory" if released else "nothing to release",
                  (time.perf_counter() - began) * 1000)
    return released
