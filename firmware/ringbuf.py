"""Readings taken while offline, in a fixed-size file on flash that survives a reboot.

Layout: a 16-byte header (magic, record count, acknowledged sequence number) and `capacity`
slots of 36 bytes. Each record carries a sequence number and a CRC, so the newest record is
found by scanning after a reboot and a record torn by a power cut is ignored. The file never
grows: when full, the oldest readings are overwritten (a bounded loss, never a full flash).
"""

import struct

from firmware.crc16 import crc16

_MAGIC = b"PZRB"
_HEADER = "<4sHHI4x"  # magic, version, capacity, acked sequence number
_HEADER_SIZE = 16
# seq, ts, voltage, current, power, energy (kWh), frequency, power factor, crc
_RECORD = "<IIffffffH2x"
_RECORD_SIZE = 36
FIELDS = ("voltage", "current", "power", "energy", "frequency", "power_factor")


class RingBuffer:
    """A bounded, persistent FIFO of timestamped readings.

    Args:
        path: the file on flash.
        capacity: how many readings it holds (36 bytes each).
    """

    def __init__(self, path, capacity=512):
        self.path = path
        self.capacity = capacity
        self.acked = 0  # every record with seq <= acked has been delivered
        self.newest = 0  # sequence number of the newest record (0: none yet)
        self._open()

    def _open(self):
        self.file = None
        try:
            self.file = open(self.path, "r+b")
            header = self.file.read(_HEADER_SIZE)
            magic, _version, capacity, acked = struct.unpack(_HEADER, header)
            if magic != _MAGIC or capacity != self.capacity:
                raise ValueError("foreign or resized buffer")
        except Exception:  # missing, foreign or torn header (struct errors differ per port)
            self._create()
            return
        self.acked = acked
        newest = 0
        for slot in range(self.capacity):
            record = self._read_slot(slot)
            if record is not None and record[0] > newest:
                newest = record[0]
        self.newest = newest
        if self.acked > newest:  # header written, records lost: start after what is known
            self.acked = newest

    def _create(self):
        if getattr(self, "file", None) is not None:
            self.file.close()
        self.file = open(self.path, "w+b")
        self.file.write(struct.pack(_HEADER, _MAGIC, 1, self.capacity, 0))
        blank = bytes(_RECORD_SIZE)
        for _ in range(self.capacity):
            self.file.write(blank)
        self.file.flush()
        self.acked = 0
        self.newest = 0

    def __len__(self):
        return min(self.newest - self.acked, self.capacity)

    def append(self, ts, reading):
        """Store one reading taken at Unix time ts (overwrites the oldest when full)."""
        seq = self.newest + 1
        values = [float(reading.get(name) or 0.0) for name in FIELDS]
        body = struct.pack("<IIffffff", seq, int(ts), *values)
        self.file.seek(_HEADER_SIZE + (seq % self.capacity) * _RECORD_SIZE)
        self.file.write(body + struct.pack("<H2x", crc16(body)))
        self.file.flush()
        self.newest = seq

    def pending(self, limit):
        """Return (last_seq, readings) for up to limit of the oldest undelivered readings."""
        first = max(self.acked + 1, self.newest - self.capacity + 1)
        out = []
        last = self.acked
        seq = first
        while seq <= self.newest and len(out) < limit:
            record = self._read_slot(seq % self.capacity)
            if record is not None and record[0] == seq:
                reading = {"ts": record[1]}
                for index, name in enumerate(FIELDS):
                    reading[name] = round(record[2 + index], 4)
                out.append(reading)
            last = seq
            seq += 1
        return last, out

    def ack(self, seq):
        """Mark every reading up to sequence number seq as delivered."""
        self.acked = seq
        self.file.seek(0)
        self.file.write(struct.pack(_HEADER, _MAGIC, 1, self.capacity, seq))
        self.file.flush()

    def close(self):
        """Close the file."""
        self.file.close()

    def _read_slot(self, slot):
        self.file.seek(_HEADER_SIZE + slot * _RECORD_SIZE)
        raw = self.file.read(_RECORD_SIZE)
        if len(raw) != _RECORD_SIZE:
            return None
        record = struct.unpack(_RECORD, raw)
        if record[0] == 0 or crc16(raw[:32]) != record[8]:
            return None
        return record
