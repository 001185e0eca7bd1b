"""What the benchmarks read about a process from /proc: resident memory and CPU time.

    from _rss import cpu_seconds, rss_mb
    rss_mb()            # this process, MB
    rss_mb(pid)         # another one (nan once it is gone)
    peak_rss_mb()       # the most this process was resident since it started or since reset_peak_rss()
    cpu_seconds(pid)    # user + system CPU so far: robust to a loaded machine, unlike wall time
    tree_cpu_seconds(pid)  # the same for a process and its children (a database server)
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def rss_mb(pid: int | None = None) -> float:
    """Return the resident set size of a process (this one by default) in MB; nan if it is gone."""
    return _status_mb("VmRSS:", pid)


def peak_rss_mb(pid: int | None = None) -> float:
    """Return the peak resident set size of a process (this one by default) in MB; nan if it is gone."""
    return _status_mb("VmHWM:", pid)


def reset_peak_rss() -> None:
    """Start peak_rss_mb() of this process again from its current RSS (Linux: /proc/self/clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _status_mb(field: str, pid: int | None) -> float:
    try:
        status = Path(f"/proc/{pid or 'self'}/status").read_text()
    except OSError:
        return float("nan")
    for line in status.splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int | None = None) -> float:
    """Return the user + system CPU seconds a process (this one by default) has used so far.

    This process's is read at the clock's full resolution (time.process_time()); another's from
    /proc, in clock ticks (10 ms).
    """
    if pid is None:
        return time.process_time()
    fields = Path(f"/proc/{pid or 'self'}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """Return the CPU seconds a process and its children (a PostgreSQL server's backends) have used so far."""
    total, parents = 0.0, {pid}
    for stat in sorted(Path("/proc").glob("[0-9]*/stat"), key=lambda p: int(p.parent.name)):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # gone meanwhile
        if int(stat.parent.name) in parents or int(fields[1]) in parents:
            parents.add(int(stat.parent.name))
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total
