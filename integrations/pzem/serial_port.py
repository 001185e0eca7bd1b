"""A pyserial port dressed as the MicroPython UART that firmware/pzem.py talks to.

The node firmware and the hub share one Modbus-RTU driver for the PZEM-004T: the firmware's
`PZEM` class only needs write(bytes), read(n) and any(). Every call here blocks, so the hub
runs them in its executor.
"""

from __future__ import annotations

import serial


class SerialUart:
    """A serial port at 9600 8N1 (the PZEM-004T v3 default) with the UART methods the driver uses.

    Args:
        port: a device path (/dev/ttyUSB0) or a pyserial URL (rfc2217://host:port).
        baudrate: the line speed.
    """

    def __init__(self, port: str, baudrate: int = 9600) -> None:
        # timeout=0: reads return what has arrived; the driver keeps its own deadline.
        self._serial = serial.serial_for_url(
            port, baudrate=baudrate, bytesize=serial.EIGHTBITS, parity=serial.PARITY_NONE,
            stopbits=serial.STOPBITS_ONE, timeout=0, write_timeout=1,
        )

    def write(self, data: bytes) -> int | None:
        """Send bytes."""
        return self._serial.write(data)

    def read(self, size: int | None = None) -> bytes | None:
        """Return up to size bytes that arrived (all of them without size), or None."""
        data = self._serial.read(size if size is not None else max(1, self._serial.in_waiting))
        return data or None

    def any(self) -> int:
        """Return how many bytes wait to be read."""
        return int(self._serial.in_waiting)

    def close(self) -> None:
        """Close the port."""
        self._serial.close()
