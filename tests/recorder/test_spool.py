"""The on-disk spool: order, survival across restarts, torn writes and the size cap."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from hub.recorder import spool as spool_module
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
