"""A PZEM-004T v3 bus on a pseudo-terminal: the hub opens the slave end, meters answer on the master.

Replies follow the datasheet's register layout (input registers 0x0000-0x0009, 32-bit values
low word first, CRC-16/Modbus low byte first); faults can be injected per meter.
"""

from __future__ import annotations

import os
import select
import threading
import tty
from dataclasses import dataclass

from firmware.crc16 import append_crc, check_crc


@dataclass
class EmulatedMeter:
    """Raw register values of one meter, in the datasheet's units."""

    address: int
    voltage_dv: int = 2301  # 0.1 V
    current_ma: int = 70_000  # 0.001 A, 32 bit: needs the high word
    power_dw: int = 161_005  # 0.1 W, 32 bit
    energy_wh: int = 123_456  # 1 Wh, 32 bit
    frequency_dhz: int = 500  # 0.1 Hz
    pf_centi: int = 99  # 0.01
    alarm: bool = True
    silent: bool = False  # a loose wire: no reply at all
    garble: int = 0  # corrupt the CRC of this many replies
    resets: int = 0

    def registers(self) -> list[int]:
        return [
            self.voltage_dv,
            self.current_ma & 0xFFFF, self.current_ma >> 16,
            self.power_dw & 0xFFFF, self.power_dw >> 16,
            self.energy_wh & 0xFFFF, self.energy_wh >> 16,
            self.frequency_dhz,
            self.pf_centi,
            0xFFFF if self.alarm else 0x0000,
        ]


REQUEST_LENGTHS = {0x03: 8, 0x04: 8, 0x06: 8, 0x42: 4}


class PtyBus:
    """Meters answering Modbus-RTU requests on a pty, from a thread."""

    def __init__(self, *meters: EmulatedMeter) -> None:
        self.meters = {m.address: m for m in meters}
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.port = os.ttyname(self.slave)
        self.requests: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="pzem-pty", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        os.close(self.master)
        os.close(self.slave)

    def _serve(self) -> None:
        buffer = b""
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                buffer = b""  # a gap on the line ends a frame (Modbus-RTU's 3.5 character rule)
                continue
            try:
                buffer += os.read(self.master, 256)
            except OSError:
                return
            while len(buffer) >= 2:
                length = REQUEST_LENGTHS.get(buffer[1])
                if length is None:
                    buffer = b""
                    break
                if len(buffer) < length:
                    break
                frame, buffer = buffer[:length], buffer[length:]
                self.requests.append(frame)
                reply = self._answer(frame)
                if reply:
                    os.write(self.master, reply)

    def _answer(self, frame: bytes) -> bytes | None:
        if not check_crc(frame):
            return None
        address, function = frame[0], frame[1]
        if address == 0xF8 and len(self.meters) == 1:
            meter = next(iter(self.meters.values()))
        else:
            meter = self.meters.get(address)
        if meter is None or meter.silent:
            return None
        if function == 0x04:
            start, count = int.from_bytes(frame[2:4], "big"), int.from_bytes(frame[4:6], "big")
            if count == 0 or start + count > 10:
                reply = append_crc(bytes((address, 0x84, 0x02)))
            else:
                data = b"".join(r.to_bytes(2, "big") for r in meter.registers()[start:start + count])
                reply = append_crc(bytes((address, 0x04, len(data))) + data)
        elif function == 0x42:
            meter.energy_wh = 0
            meter.resets += 1
            reply = append_crc(bytes((address, 0x42)))
        else:
            reply = append_crc(bytes((address, function | 0x80, 0x01)))
        if meter.garble > 0:
            meter.garble -= 1
            reply = reply[:-1] + bytes([reply[-1] ^ 0xFF])
        return reply
