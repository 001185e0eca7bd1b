"""A PZEM-004T v3 on the other end of a simulated UART: Modbus-RTU frames in, replies out.

It integrates energy from the load profile, adds noise, and can be told to misbehave (stay
silent, garble replies, report an anomaly, lose its energy counter).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable

from firmware.crc16 import append_crc, check_crc
from firmware.sim.profiles import Load


class MeterEmulator:
    """Answers Modbus requests like a PZEM-004T v3.

    Args:
        loads: the profile's loads; the first relay switches all of them.
        seed: random seed for the noise.
        address: the meter's Modbus address.
        clock: returns Unix seconds (the simulation's time).
        energy_wh: the counter's starting value.
    """

    def __init__(self, loads: list[Load], seed: int = 0, address: int = 1, clock: Callable[[], float] = time.time, energy_wh: float = 0.0) -> None:
        self.loads = loads
        self.rng = random.Random(seed)
        # Gaussian noise from a table: drawing four normal variates per reading was half the cost.
        self._noise = [self.rng.gauss(0, 1) for _ in range(1021)]
        self._n = 0
        self.address = address
        self.clock = clock
        self.energy_wh = energy_wh
        self.alarm_threshold = 2300
        self.load_on: Callable[[int], bool] = lambda index: True
        self._last = clock()
        self._power = 0.0
        self.silent = False  # fault: no replies (a loose wire)
        self.garble = 0  # fault: number of replies to corrupt
        self.anomaly = 1.0  # fault: factor on the load (a failing appliance)
        self.requests = 0

    # -- physics -------------------------------------------------------------------------------
    def sample(self) -> dict[str, float]:
        """Return the present voltage, current, power, pf and frequency, and update energy."""
        now = self.clock()
        watts = 0.0
        weighted_pf = 0.0
        if self.load_on(0):
            for load in self.loads:
                w = load.watts(now)
                watts += w
                weighted_pf += w * load.pf
        pf = weighted_pf / watts if watts > 0.5 else 0.0
        watts *= self.anomaly
        noise, n = self._noise, self._n
        self._n = (n + 4) % 1017
        if watts > 0:
            watts = max(0.0, watts * (1 + 0.01 * noise[n]) + 0.3 * noise[n + 1])
        voltage = 230 + 3 * math.sin(now / 2900) + 0.3 * noise[n + 2]
        current = watts / (voltage * pf) if pf > 0 else 0.0
        voltage -= 0.25 * current  # the wiring's resistance
        # Trapezoid rule between polls; the real meter integrates continuously.
        dt = max(0.0, now - self._last)
        self.energy_wh += (self._power + watts) / 2 * dt / 3600
        self._last, self._power = now, watts
        return {"voltage": voltage, "current": current, "power": watts, "pf": pf, "frequency": 50 + 0.03 * math.sin(now / 700) + 0.01 * noise[n + 3]}

    def replay(self, since: float, until: float, step: float) -> list[tuple[float, list[int]]]:
        """Run the meter over [since, until] as if polled every `step` seconds; return (time, registers).

        The counter advances as it would have, and live sampling carries on from `until`:
        what a node reads from its meter while it has no network, replayed at once.
        """
        clock = self.clock
        out = []
        try:
            at = since
            self.clock = lambda: at
            self._last = since
            self._power = 0.0
            self.sample()
            while at < until:
                at = min(at + step, until)
                out.append((at, self._registers()))
        finally:
            self.clock = clock
        self._last = until
        return out

    def reset_counter(self) -> None:
        """The energy counter drops to zero (meter reset or replaced)."""
        self.energy_wh = 0.0

    # -- Modbus --------------------------------------------------------------------------------
    def handle(self, frame: bytes) -> bytes | None:
        """Return the reply to a request frame, or None when the meter stays silent."""
        self.requests += 1
        if self.silent or not check_crc(frame) or frame[0] not in (self.address, 0xF8):
            return None
        reply = self._answer(frame[0], frame[1], frame[2:-2])
        if reply is not None and self.garble > 0:
            self.garble -= 1
            reply = reply[:3] + bytes([reply[3] ^ 0x5A]) + reply[4:]
        return reply

    def _answer(self, address: int, function: int, body: bytes) -> bytes | None:
        if function == 0x04 and len(body) == 4:
            start, count = int.from_bytes(body[:2], "big"), int.from_bytes(body[2:], "big")
            if start + count > 10 or count == 0:
                return append_crc(bytes((address, 0x84, 0x02)))
            regs = self._registers()[start:start + count]
            data = b"".join(r.to_bytes(2, "big") for r in regs)
            return append_crc(bytes((address, 0x04, len(data))) + data)
        if function == 0x42 and not body:
            self.reset_counter()
            return append_crc(bytes((address, 0x42)))
        if function == 0x03 and len(body) == 4:
            start, count = int.from_bytes(body[:2], "big"), int.from_bytes(body[2:], "big")
            holding = {1: self.alarm_threshold, 2: self.address}
            if count == 0 or any(r not in holding for r in range(start, start + count)):
                return append_crc(bytes((address, 0x83, 0x02)))
            data = b"".join(holding[r].to_bytes(2, "big") for r in range(start, start + count))
            return append_crc(bytes((address, 0x03, len(data))) + data)
        if function == 0x06 and len(body) == 4:
            register, value = int.from_bytes(body[:2], "big"), int.from_bytes(body[2:], "big")
            if register == 2 and 1 <= value <= 247:
                self.address = value
            elif register == 1:
                self.alarm_threshold = value
            else:
                return append_crc(bytes((address, 0x86, 0x03)))
            return append_crc(bytes((address, 0x06)) + body)
        return append_crc(bytes((address, function | 0x80, 0x01)))

    def _registers(self) -> list[int]:
        s = self.sample()
        current = round(s["current"] * 1000)
        power = round(s["power"] * 10)
        energy = round(self.energy_wh)
        return [
            round(s["voltage"] * 10),
            current & 0xFFFF, current >> 16,
            power & 0xFFFF, power >> 16,
            energy & 0xFFFF, energy >> 16,
            round(s["frequency"] * 10),
            round(s["pf"] * 100),
            0xFFFF if s["power"] > self.alarm_threshold else 0,
        ]
