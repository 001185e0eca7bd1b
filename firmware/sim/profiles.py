"""Household load profiles: a daily base load plus appliances that switch on and off.

Every appliance is a deterministic function of time (seeded per node), so two runs of the
simulator produce the same curves, and noise is added on top by the meter emulator.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

DAY = 86400.0


@dataclass(frozen=True)
class Load:
    """One consumer: watts and power factor at a given time."""

    name: str
    watts: Callable[[float], float]
    pf: float


def base(watts: float, swing: float) -> Callable[[float], float]:
    """Return a standby load that peaks in the evening (swing: fraction of watts)."""
    return lambda t: watts * (1 + swing * math.sin(2 * math.pi * ((t % DAY) / DAY - 0.5)))


def cycling(watts: float, on_s: float, off_s: float, phase: float) -> Callable[[float], float]:
    """Return a thermostat-driven load (fridge compressor, heater): on for on_s every on_s+off_s."""
    period = on_s + off_s

    def power(t: float) -> float:
        position = (t + phase) % period
        if position >= on_s:
            return 0.0
        return watts * (1.6 if position < 3 else 1.0)  # a compressor's inrush for a few seconds

    return power


def bursts(watts: float, duration_s: float, per_day: int, seed: int) -> Callable[[float], float]:
    """Return a load used per_day times a day for duration_s at random moments (kettle, microwave)."""
    slot = DAY / per_day
    cache = [-1, 0.0]  # slot index, start offset: seeding a generator per call would be slow

    def power(t: float) -> float:
        index = int(t // slot)
        if cache[0] != index:
            cache[0], cache[1] = index, random.Random(seed * 1_000_003 + index).uniform(0, slot - duration_s)
        start = cache[1]
        return watts if start <= t - index * slot < start + duration_s else 0.0

    return power


def hours(watts: float, start: float, end: float) -> Callable[[float], float]:
    """Return a load on between two hours of the (UTC) day (office PC, evening lights)."""
    return lambda t: watts if start <= (t % DAY) / 3600 < end else 0.0


def build(kind: str, seed: int) -> list[Load]:
    """Return the loads of a profile: kitchen, office, heater, laundry or living."""
    rng = random.Random(seed)
    scale = rng.uniform(0.8, 1.25)
    if kind == "kitchen":
        return [
            Load("standby", base(35 * scale, 0.3), 0.6),
            Load("fridge", cycling(110 * scale, rng.uniform(600, 1000), rng.uniform(1200, 1800), rng.uniform(0, 3000)), 0.8),
            Load("kettle", bursts(2000 * scale, 150, 6, seed), 1.0),
            Load("microwave", bursts(900 * scale, 120, 3, seed + 7), 0.9),
        ]
    if kind == "office":
        return [
            Load("standby", base(12 * scale, 0.2), 0.6),
            Load("computer", hours(140 * scale, 7, 17), 0.95),
            Load("printer", bursts(450, 40, 10, seed), 0.7),
        ]
    if kind == "heater":
        return [Load("heater", cycling(1500 * scale, rng.uniform(400, 900), rng.uniform(600, 1500), rng.uniform(0, 2000)), 1.0)]
    if kind == "laundry":
        return [
            Load("standby", base(3, 0.0), 0.5),
            Load("washer heating", bursts(2100 * scale, 900, 1, seed), 1.0),
            Load("washer motor", bursts(350 * scale, 5400, 1, seed), 0.75),
        ]
    return [
        Load("standby", base(25 * scale, 0.5), 0.6),
        Load("tv", hours(90 * scale, 17, 22), 0.9),
        Load("lights", hours(60 * scale, 16, 23), 0.95),
    ]


KINDS = ("kitchen", "office", "heater", "laundry", "living")
