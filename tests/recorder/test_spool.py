"""The on-disk spool: order, survival across restarts, torn writes and the size cap."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.recorder import spool as spool_module
from hub.recorder.backends.base import Batch, Point
from hub.recorder.commit import Committer
from hub.recorder.spool import Spool


def drain(spool: Spool) -> list[bytes]:
    out = []
    while (item := spool.peek()) is not None:
        out.append(item[0])
        spool.pop()
    return out


def test_batches_come_back_in_order_and_survive_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for i in range(5):
        spool.append(f"batch {i}".encode(), points=10)
    first = spool.peek()
    assert first is not None and first[:2] == (b"batch 0", 10)
    spool.pop()
    assert spool.points == 40
    again = Spool(tmp_path)  # e.g. after a crash: the popped record may come back (writes are idempotent)
    assert drain(again)[-4:] == [f"batch {i}".encode() for i in range(1, 5)]
    assert again.records == 0 and not list(tmp_path.glob("*.spool"))


def test_a_torn_last_record_is_cut_off(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append(b"complete", points=1)
    segment = next(tmp_path.glob("*.spool"))
    with segment.open("ab") as file:
        file.write(b"\x10\x00\x00\x00garbage")  # a crash in the middle of an append
    assert drain(Spool(tmp_path)) == [b"complete"]


def test_over_the_cap_the_oldest_backlog_goes_loudly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(spool_module, "SEGMENT_BYTES", 100)
    spool = Spool(tmp_path, max_bytes=300)
    with caplog.at_level(logging.ERROR):
        for i in range(10):
            spool.append(bytes(90) + bytes([i]), points=3)
    assert spool.size <= 300 + 102
    assert spool.dropped_points > 0
    assert "over its cap" in caplog.text
    remaining = drain(spool)
    assert remaining[-1][-1] == 9  # the newest data is kept


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs of its own (mounting needs root, as tests/e2e/test_faults.py's disk_full does)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    folder = tmp_path / "disk"
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "spooltest", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def fill(folder: Path) -> Path:
    """Fill the file system under folder to its last byte, as another process would."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass  # ENOSPC: full
    finally:
        os.close(fd)
    return filler


async def test_a_full_disk_is_reported_though_appends_fit_in_room_the_spool_gave_back(small_disk: Path) -> None:
    """The CI flake of disk_full: a backlog stored after the disk filled frees its pages, so small
    appends fit again, and readiness said all was well while the disk stayed full."""
    spool = Spool(small_disk / "spool")
    statuses: list[str | None] = []

    async def append(batch: Batch) -> tuple[str, int]:
        return spool.append(batch.to_bytes(), len(batch.points))

    async def build(changes: list[Any]) -> Batch:
        return Batch([Point(entity_id, ts, float(state), None) for entity_id, ts, state in changes])

    commits = Committer(append, build, commit_interval=1.0, sync_interval=0.01, max_batch=10_000,
                        memory_max_points=100_000, on_appended=lambda key, batch: None,
                        on_status=lambda: statuses.append(commits.error), short_of_space=lambda: spool.short_of_space)
    runner = asyncio.create_task(commits.run())
    try:
        await _fill_drain_and_free(commits, spool, statuses, small_disk)
    finally:
        runner.cancel()
        await commits.stop()


async def _fill_drain_and_free(commits: Committer, spool: Spool, statuses: list[str | None], small_disk: Path) -> None:
    # A backlog the backend has not stored yet (it is slow), then the disk fills up.
    for second in range(2):
        commits.pending.extend((f"sensor.s{k}", second + k / 1000, f"{second}.{k}") for k in range(500))
        await commits.commit()
    assert commits.error is None
    filler = fill(small_disk)
    # The backend catches up: the spool deletes the backlog's segments and has that room again.
    while spool.peek() is not None:
        spool.pop()
    commits.pending.append(("sensor.s0", 10.0, "10"))
    await commits.commit()
    assert commits.idle and spool.points == 1  # written: it fit in the room the backlog gave back
    assert commits.error is not None and "No space left on device" in commits.error, commits.error
    assert statuses == [commits.error]  # reported once
    commits.pending.append(("sensor.s0", 11.0, "11"))
    await commits.commit()
    assert statuses == [commits.error]  # still full: not reported again
    # Room again: the next append clears it.
    filler.unlink()
    commits.pending.append(("sensor.s0", 12.0, "12"))
    await commits.commit()
    assert commits.error is None and statuses[-1] is None
    assert [value for _, _, value, _ in Batch.from_bytes(spool.peek_many(10)[-1][0]).points] == [12.0]
