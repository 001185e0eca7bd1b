"""The PZEM-004T v3 driver against frames from the datasheet's examples."""

from __future__ import annotations

import pytest

from firmware.crc16 import append_crc, check_crc, crc16
from firmware.pzem import PZEM, PzemCrcError, PzemError, PzemTimeout, read_request, reset_request, write_request

# Datasheet: "read 10 input registers from 0x0000 of slave 0x01"
READ_REQUEST = bytes.fromhex("01 04 00 00 00 0A 70 0D")
# Datasheet: "reset energy of slave 0x01"
RESET_REQUEST = bytes.fromhex("01 42 80 11")
# Datasheet reply: 220.0 V, 1.000 A, 220.0 W, 0 Wh, 50.0 Hz, PF 1.00, no alarm (+ its CRC)
READ_REPLY = append_crc(bytes.fromhex("01 04 14 0898 03E8 0000 0898 0000 0000 0000 01F4 0064 0000"))


class ScriptedUart:
    """A UART that answers each request with the next scripted reply (None: silence)."""

    def __init__(self, *replies: bytes | None) -> None:
        self.replies = list(replies)
        self.written: list[bytes] = []
        self.rx = b""

    def write(self, data: bytes) -> int:
        self.written.append(bytes(data))
        reply = self.replies.pop(0) if self.replies else None
        if reply:
            self.rx += reply
        return len(data)

    def any(self) -> int:
        return len(self.rx)

    def read(self, n: int | None = None) -> bytes | None:
        n = len(self.rx) if n is None else n
        out, self.rx = self.rx[:n], self.rx[n:]
        return out or None


def test_crc_matches_datasheet_frames() -> None:
    assert read_request(0x01) == READ_REQUEST
    assert reset_request(0x01) == RESET_REQUEST
    assert check_crc(READ_REQUEST) and check_crc(RESET_REQUEST)
    assert crc16(b"123456789") == 0x4B37  # the CRC-16/MODBUS check value


def test_read_decodes_the_register_map() -> None:
    uart = ScriptedUart(READ_REPLY)
    reading = PZEM(uart, address=1).read()
    assert uart.written == [READ_REQUEST]
    assert reading == {
        "voltage": 220.0,
        "current": 1.0,
        "power": 220.0,
        "energy": 0.0,
        "frequency": 50.0,
        "power_factor": 1.0,
        "alarm": False,
    }


def test_32_bit_values_are_low_word_first() -> None:
    # current 0x0001_86A0 mA = 100.000 A, power 0x0003_0D40 (200000 = 20000.0 W), energy 0x0001_0000 Wh
    reply = append_crc(bytes.fromhex("01 04 14 0910 86A0 0001 0D40 0003 0000 0001 01F3 0050 FFFF"))
    reading = PZEM(ScriptedUart(reply), address=1).read()
    assert reading["current"] == 100.0
    assert reading["power"] == 20000.0
    assert reading["energy"] == 65.536  # kWh
    assert reading["voltage"] == 232.0 and reading["frequency"] == 49.9 and reading["power_factor"] == 0.8
    assert reading["alarm"] is True


def test_reply_in_pieces_is_reassembled() -> None:
    class Trickle(ScriptedUart):
        def read(self, n: int | None = None) -> bytes | None:
            return super().read(min(n or 3, 3))  # three bytes at a time, like a slow line

    assert PZEM(Trickle(READ_REPLY), address=1).read()["voltage"] == 220.0


def test_crc_failure_is_retried_then_succeeds() -> None:
    garbled = READ_REPLY[:5] + bytes([READ_REPLY[5] ^ 0xFF]) + READ_REPLY[6:]
    meter = PZEM(ScriptedUart(garbled, READ_REPLY), address=1)
    assert meter.read()["power"] == 220.0
    assert meter.errors == 1


def test_persistent_crc_failure_raises() -> None:
    garbled = READ_REPLY[:-1] + bytes([READ_REPLY[-1] ^ 0x01])
    meter = PZEM(ScriptedUart(garbled, garbled, garbled), address=1, retries=2)
    with pytest.raises(PzemCrcError):
        meter.read()
    assert meter.errors == 3


def test_silence_times_out() -> None:
    uart = ScriptedUart(None, None)
    meter = PZEM(uart, address=1, timeout_ms=20, retries=1)
    with pytest.raises(PzemTimeout, match="no reply"):
        meter.read()
    assert len(uart.written) == 2  # the first try plus one retry


def test_stale_bytes_are_flushed_before_a_request() -> None:
    uart = ScriptedUart(READ_REPLY)
    uart.rx = b"\x55\x01"  # the tail of an earlier reply
    assert PZEM(uart, address=1).read()["voltage"] == 220.0


def test_reset_energy_and_error_reply() -> None:
    uart = ScriptedUart(RESET_REQUEST, append_crc(bytes.fromhex("01 C2 04")))
    meter = PZEM(uart, address=1)
    meter.reset_energy()
    assert uart.written == [RESET_REQUEST]
    with pytest.raises(PzemError, match="slave error"):
        meter.reset_energy()


def test_set_address_writes_holding_register_2() -> None:
    request = write_request(0xF8, 0x0002, 0x05)
    assert request[:6] == bytes.fromhex("F8 06 00 02 00 05")
    meter = PZEM(ScriptedUart(request), address=0xF8)  # the meter echoes a write
    meter.set_address(5)
    assert meter.address == 5
    with pytest.raises(ValueError):
        meter.set_address(0)
