"""An fsynced, append-only on-disk queue of batches: what the backend has not stored yet.

Every batch is appended here before it is written to the backend and removed after the
backend stored it, so a backend outage, a slow backend or a crash of the hub loses nothing
that reached the spool. Records are `<u32 length><u32 crc32><u32 points><payload>`; files
(segments) are numbered and deleted once every record in them was written.

A full disk is not only an append that fails: the spool deletes its own segments as the backend
stores them, so on a disk another process filled, the next few appends fit in the room the spool
itself just gave back, and a hub judging by failed appends alone says all is well until a burst
finds no room. After each append the spool therefore also checks the free space of its file
system (`short_of_space`): less than `room_floor` bytes free is a full disk too.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

_LOGGER = logging.getLogger(__name__)
_HEADER = struct.Struct("<III")
SEGMENT_BYTES = 4 * 1024 * 1024
ROOM_SHARE = 16  # less than 1/16 of the spool's file system free (at most SEGMENT_BYTES) is a full disk


@dataclass(slots=True)
class _Segment:
    path: Path
    records: int = 0
    points: int = 0
    size: int = 0


class Spool:
    """Batches waiting for the backend, oldest first. Blocking: call it from a thread."""

    def __init__(self, folder: Path, max_bytes: int = 512 * 1024 * 1024) -> None:
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.dropped_points = 0
        self._segments: list[_Segment] = []
        self._offset = 0  # read position in the head segment
        self._head_consumed_points = 0
        self._head_consumed_records = 0
        self.short_of_space: str | None = None  # why the disk counts as full though the last append fit
        self.folder.mkdir(parents=True, exist_ok=True)
        self._load()

    def _load(self) -> None:
        for path in sorted(self.folder.glob("*.spool")):
            segment = _Segment(path)
            valid = self._scan(segment)
            if valid < path.stat().st_size:
                # A crash in the middle of an append leaves a torn last record: cut it off.
                _LOGGER.warning("Recorder spool %s: dropping a torn record at byte %d", path, valid)
                os.truncate(path, valid)
            segment.size = valid
            if segment.records:
                self._segments.append(segment)
            else:
                path.unlink()

    @staticmethod
    def _scan(segment: _Segment) -> int:
        with segment.path.open("rb") as file:
            data = file.read()
        pos = 0
        while pos + _HEADER.size <= len(data):
            length, crc, points = _HEADER.unpack_from(data, pos)
            payload = data[pos + _HEADER.size : pos + _HEADER.size + length]
            if len(payload) < length or zlib.crc32(payload) != crc:
                break
            segment.records += 1
            segment.points += points
            pos += _HEADER.size + length
        return pos

    @property
    def records(self) -> int:
        """Return how many batches wait."""
        return sum(s.records for s in self._segments) - self._head_consumed_records

    @property
    def points(self) -> int:
        """Return how many points wait."""
        return sum(s.points for s in self._segments) - self._head_consumed_points

    @property
    def size(self) -> int:
        """Return the bytes on disk."""
        return sum(s.size for s in self._segments)

    def __bool__(self) -> bool:
        return self.records > 0

    def append(self, payload: bytes, points: int) -> tuple[str, int]:
        """Append one batch and fsync it; past the size cap, drop the oldest segment loudly.

        Returns:
            The record's key (segment, offset), as peek() reports it.
        """
        record = _HEADER.pack(len(payload), zlib.crc32(payload), points) + payload
        tail = self._segments[-1] if self._segments else None
        if tail is None or tail.size >= SEGMENT_BYTES or (tail is self._segments[0] and self._exhausted()):
            tail = self._new_segment()
        key = (tail.path.stem, tail.size)
        fd = os.open(tail.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            view = memoryview(record)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except OSError:
            # A full disk may take part of the record: cut it off, so that the next append
            # starts where the records end (truncating needs no free space).
            os.ftruncate(fd, tail.size)
            raise
        finally:
            os.close(fd)
        tail.records += 1
        tail.points += points
        tail.size += len(record)
        while self.size > self.max_bytes and len(self._segments) > 1:
            self._drop_oldest()
        self.short_of_space = self._check_room()
        return key

    def _check_room(self) -> str | None:
        """Return why the spool's disk counts as full (less free than room_floor), or None."""
        try:
            stat = os.statvfs(self.folder)
        except OSError:
            return None  # no figures: the appends themselves tell
        free = stat.f_bavail * stat.f_frsize
        floor = min(SEGMENT_BYTES, stat.f_blocks * stat.f_frsize // ROOM_SHARE)
        if free >= floor:
            return None
        return f"No space left on device: {free // 1024} KB free, less than the {floor // 1024} KB kept for a burst"

    def _exhausted(self) -> bool:
        head = self._segments[0]
        return self._head_consumed_records >= head.records

    def _new_segment(self) -> _Segment:
        if self._segments and self._exhausted():
            self._remove_head()
        number = int(self._segments[-1].path.stem) + 1 if self._segments else self._next_number()
        segment = _Segment(self.folder / f"{number:012d}.spool")
        segment.path.touch()
        self._segments.append(segment)
        self._fsync_dir()
        return segment

    def _next_number(self) -> int:
        names = [int(p.stem) for p in self.folder.glob("*.spool") if p.stem.isdigit()]
        return max(names, default=0) + 1

    def _fsync_dir(self) -> None:
        fd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _drop_oldest(self) -> None:
        head = self._segments[0]
        lost = head.points - self._head_consumed_points
        self.dropped_points += lost
        _LOGGER.error(
            "Recorder spool is over its cap of %d MB: dropped %d points of the oldest backlog "
            "(%s). The history backend has been unreachable too long; raise recorder: spool_max_mb "
            "or fix the backend.",
            self.max_bytes // (1024 * 1024),
            lost,
            head.path.name,
        )
        self._remove_head()

    def _remove_head(self) -> None:
        head = self._segments.pop(0)
        head.path.unlink(missing_ok=True)
        self._offset = 0
        self._head_consumed_points = 0
        self._head_consumed_records = 0

    def peek(self) -> tuple[bytes, int, tuple[str, int]] | None:
        """Return the oldest waiting batch, its point count and its key, or None."""
        found = self.peek_many(1)
        return found[0] if found else None

    def peek_many(self, max_points: int) -> list[tuple[bytes, int, tuple[str, int]]]:
        """Return the oldest waiting batches of the head segment, at least one, up to max_points in all.

        The writer stores them in one backend write: small group commits do not each cost one.
        """
        while self._segments and self._exhausted():
            if len(self._segments) == 1:
                return []
            self._remove_head()
        if not self._segments:
            return []
        head = self._segments[0]
        found: list[tuple[bytes, int, tuple[str, int]]] = []
        total = 0
        offset = self._offset
        remaining = head.records - self._head_consumed_records
        with head.path.open("rb") as file:
            file.seek(offset)
            while remaining and (not found or total < max_points):
                header = file.read(_HEADER.size)
                length, _crc, points = _HEADER.unpack(header)
                if found and total + points > max_points:
                    break
                found.append((file.read(length), points, (head.path.stem, offset)))
                total += points
                offset += _HEADER.size + length
                remaining -= 1
        return found

    def pop(self, count: int = 1) -> None:
        """Mark the oldest `count` waiting batches as stored by the backend."""
        head = self._segments[0]
        with head.path.open("rb") as file:
            file.seek(self._offset)
            for _ in range(count):
                length, _crc, points = _HEADER.unpack(file.read(_HEADER.size))
                file.seek(length, os.SEEK_CUR)
                self._offset += _HEADER.size + length
                self._head_consumed_records += 1
                self._head_consumed_points += points
        if self._exhausted():
            self._remove_head()
