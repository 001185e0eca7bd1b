"""`machine` for the simulator: UART wired to the board's PZEM emulator, Pin, reset."""

from __future__ import annotations

from typing import Any

from firmware.sim import board as _board


class Pin:
    """A GPIO; writes to a stuck pin are ignored (a welded relay contact)."""

    IN = 0
    OUT = 1

    def __init__(self, number: int, mode: int = -1, *args: Any, **kwargs: Any) -> None:
        self.board = _board.current()
        self.number = number
        self.board.pins.setdefault(number, 0)

    def value(self, value: int | None = None) -> int:
        """Read the pin, or drive it when value is given."""
        if value is None:
            return self.board.pins[self.number]
        if self.number not in self.board.stuck:
            self.board.pins[self.number] = 1 if value else 0
        return self.board.pins[self.number]

    def on(self) -> None:
        self.value(1)

    def off(self) -> None:
        self.value(0)


class UART:
    """A UART whose other end is the board's PZEM emulator (answers arrive at once)."""

    def __init__(self, uart_id: int, baudrate: int = 9600, **kwargs: Any) -> None:
        self.meter = _board.current().meter
        self.rx = bytearray()

    def write(self, data: bytes) -> int:
        reply = self.meter.handle(bytes(data))
        if reply:
            self.rx += reply
        return len(data)

    def any(self) -> int:
        return len(self.rx)

    def read(self, n: int | None = None) -> bytes | None:
        if not self.rx:
            return None
        n = len(self.rx) if n is None else n
        out = bytes(self.rx[:n])
        del self.rx[:n]
        return out


def reset() -> None:
    """Reboot: the simulator rebuilds the node from its flash files."""
    raise _board.Reboot


def unique_id() -> bytes:
    return _board.current().node_id.encode()
