"""hub.ops.allocator.trim: memory a burst freed between survivors goes back to the system."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# In a process of its own: a burst of 1 KB blocks (glibc's heap, not Python's small-object
# arenas, as the parsed configs and payloads of a discovery storm), a survivor kept every 50th
# block so that the heap cannot shrink from its top, the rest freed.
CHILD = textwrap.dedent(
    """
    import gc, json, sys
    sys.path.insert(0, sys.argv[1])
    from bench._rss import rss_mb
    from hub.ops.allocator import trim, tune_allocator
    tune_allocator()
    burst = [bytearray(1024) for _ in range(100_000)]
    survivors = burst[::50]
    del burst
    gc.collect()
    before = rss_mb()
    released = trim()
    print(json.dumps({"before": before, "after": rss_mb(), "released": released, "kept": len(survivors)}))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_trim_returns_what_a_burst_freed() -> None:
    done = subprocess.run([sys.executable, "-c", CHILD, str(ROOT)], capture_output=True, text=True, timeout=60, check=True)
    figures = __import__("json").loads(done.stdout)
    # ~100 MB of blocks, 2 % kept: most of the freed ~98 MB was still resident before the trim.
    assert figures["released"]
    assert figures["before"] - figures["after"] > 40, figures
