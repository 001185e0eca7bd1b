"""What a node keeps on flash: the offline ring buffer and the relay states."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from firmware.relays import Relay, RelayBank
from firmware.ringbuf import RingBuffer


@pytest.fixture
def ring(tmp_path: Path) -> Iterator[Callable[..., RingBuffer]]:
    """Open ring buffers in tmp_path and close them at the end."""
    opened: list[RingBuffer] = []

    def make(capacity: int, name: str = "r.bin") -> RingBuffer:
        opened.append(RingBuffer(str(tmp_path / name), capacity=capacity))
        return opened[-1]

    yield make
    for buf in opened:
        if not buf.file.closed:
            buf.close()


def reading(power: float) -> dict[str, float]:
    return {"voltage": 230.0, "current": power / 230, "power": power, "energy": 1.5, "frequency": 50.0, "power_factor": 0.9}


def test_buffer_returns_readings_in_order_with_their_times(tmp_path: Path, ring: Callable[..., RingBuffer]) -> None:
    buf = ring(8)
    for i in range(3):
        buf.append(1_700_000_000 + i * 10, reading(100 + i))
    last, readings = buf.pending(10)
    assert [r["ts"] for r in readings] == [1_700_000_000, 1_700_000_010, 1_700_000_020]
    assert [r["power"] for r in readings] == [100, 101, 102]
    buf.ack(last)
    assert len(buf) == 0 and buf.pending(10)[1] == []


def test_buffer_wraps_around_keeping_the_newest(tmp_path: Path, ring: Callable[..., RingBuffer]) -> None:
    buf = ring(5)
    for i in range(12):
        buf.append(1_700_000_000 + i, reading(i))
    assert len(buf) == 5
    _, readings = buf.pending(100)
    assert [r["power"] for r in readings] == [7, 8, 9, 10, 11]
    assert (tmp_path / "r.bin").stat().st_size == 16 + 5 * 36  # the file never grows


def test_buffer_survives_a_reboot_and_a_torn_record(tmp_path: Path, ring: Callable[..., RingBuffer]) -> None:
    path = tmp_path / "r.bin"
    buf = ring(6)
    for i in range(4):
        buf.append(1_700_000_000 + i, reading(i))
    last, first_two = buf.pending(2)
    buf.ack(last)
    buf.close()
    # A power cut while the last record was written: its CRC no longer matches.
    data = bytearray(path.read_bytes())
    data[16 + (4 % 6) * 36 + 10] ^= 0xFF
    path.write_bytes(bytes(data))

    again = ring(6)
    _, rest = again.pending(10)
    assert [r["power"] for r in first_two] == [0, 1]
    assert [r["power"] for r in rest] == [2]  # acknowledged ones are not sent twice, the torn one is dropped


def test_buffer_with_a_foreign_file_starts_empty(tmp_path: Path, ring: Callable[..., RingBuffer]) -> None:
    path = tmp_path / "r.bin"
    path.write_bytes(b"garbage")
    assert len(ring(4)) == 0


class FakePin:
    def __init__(self) -> None:
        self.level = 0

    def value(self, v: int | None = None) -> int:
        if v is not None:
            self.level = v
        return self.level


def test_relays_restore_their_last_state_after_reboot(tmp_path: Path) -> None:
    path = str(tmp_path / "relays.json")
    pins = [FakePin(), FakePin()]
    bank = RelayBank([Relay("heater", pins[0]), Relay("lamp", pins[1], inverted=True)], path)
    bank.restore()
    assert bank.state("heater") == "OFF" and pins[1].level == 1  # active-low: off is high
    assert bank.command("heater", "ON") == "ON"
    assert bank.command("lamp", "toggle") == "ON" and pins[1].level == 0

    rebooted = [FakePin(), FakePin()]
    bank2 = RelayBank([Relay("heater", rebooted[0]), Relay("lamp", rebooted[1], inverted=True)], path)
    bank2.restore()
    assert (bank2.state("heater"), bank2.state("lamp")) == ("ON", "ON")


def test_relay_initial_state_and_bad_commands(tmp_path: Path) -> None:
    bank = RelayBank([Relay("r", FakePin(), initial=True)], str(tmp_path / "relays.json"))
    bank.restore()
    assert bank.state("r") == "ON"
    for bad in ("DIM", ""):
        try:
            bank.command("r", bad)
        except ValueError as err:
            assert "ON, OFF or TOGGLE" in str(err)
        else:
            raise AssertionError("accepted " + bad)
