"""Synthetic one-minute power readings of a household circuit, as a PZEM-004T would report them.

A home has a standby load with a daily swing, a fridge whose compressor cycles (longer runs in
the warm afternoon), a kettle and a microwave used around meals (more at weekends), and maybe
a washing machine and evening lights/TV. Faults are injected on top:

- `stuck_relay`: the circuit draws one constant load (a relay welded shut on a heater),
- `fridge_stuck_on`: the compressor never cycles off,
- `baseline_jump`: the standby load jumps and stays up (a failing appliance, a heater left on).

Only numpy is needed; the same seed gives the same readings. Used by scripts/train_models.py,
the tests and the benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

STEP = 60  # seconds per reading
PER_DAY = 86400 // STEP
# 2024-01-01 00:00 UTC, a Monday: day-of-week features line up with the calendar.
EPOCH = 1704067200
FAULTS = ("stuck_relay", "fridge_stuck_on", "baseline_jump")


@dataclass
class Home:
    """One simulated circuit: its readings and, per reading, the fault active (0 = none)."""

    seed: int
    start: int
    watts: np.ndarray
    fault: np.ndarray
    episodes: list[tuple[int, int, str]] = field(default_factory=list)

    @property
    def times(self) -> np.ndarray:
        """Return the start timestamp of each reading."""
        return self.start + STEP * np.arange(len(self.watts))


def _events(rng: np.random.Generator, minutes: np.ndarray, rate_per_hour: np.ndarray) -> np.ndarray:
    """Return the minutes at which a Poisson process with a time-varying rate fires."""
    fired = rng.random(len(minutes)) < rate_per_hour / 60.0
    return np.flatnonzero(fired)


def _bursts(n: int, starts: np.ndarray, lengths: np.ndarray, watts: float) -> np.ndarray:
    load = np.zeros(n)
    for start, length in zip(starts, lengths, strict=True):
        load[start : start + length] = watts
    return load


def _fridge(rng: np.random.Generator, n: int, hour: np.ndarray, watts: float) -> np.ndarray:
    on_s, off_s = rng.uniform(10, 17), rng.uniform(20, 30)  # minutes
    load = np.zeros(n)
    position = int(rng.integers(0, 40))
    while position < n:
        warm = 1 + 0.25 * np.sin(2 * np.pi * (hour[min(position, n - 1)] - 9) / 24)  # peaks at 15:00
        on = max(3, round(rng.normal(on_s * warm, on_s * 0.1)))
        off = max(5, round(rng.normal(off_s / warm, off_s * 0.1)))
        load[position : position + on] = watts
        position += on + off
    return load


def household(seed: int, days: int, faults: list[tuple[int, int, str]] | None = None, start: int = EPOCH) -> Home:
    """Return `days` days of readings of the home drawn from `seed`, with faults (begin, length, kind).

    The same seed gives the same home with or without faults, so the two can be compared.
    """
    rng = np.random.default_rng(seed)
    n = days * PER_DAY
    t = start + STEP * np.arange(n)
    hour = (t % 86400) / 3600
    weekend = ((t // 86400 + 3) % 7) >= 5  # 1970-01-01 was a Thursday
    scale = rng.uniform(0.8, 1.25)
    standby = 35 * scale * (1 + 0.3 * np.sin(2 * np.pi * (hour / 24 - 0.5)))
    fridge_watts = rng.uniform(90, 140) * scale
    fridge = _fridge(rng, n, hour, fridge_watts)
    # Meals: mornings and evenings, later mornings at the weekend.
    meal = np.exp(-(((hour - np.where(weekend, 9, 7.5)) / 1.2) ** 2)) + np.exp(-(((hour - 18.5) / 1.5) ** 2))
    meal += 0.4 * np.exp(-(((hour - 12.5) / 1.0) ** 2)) * np.where(weekend, 2.0, 0.6)
    kettle_at = _events(rng, hour, 0.5 * meal * np.where(weekend, 1.4, 1.0))
    other = _bursts(n, kettle_at, rng.integers(2, 5, len(kettle_at)), rng.uniform(1800, 2200) * scale)
    micro_at = _events(rng, hour, 0.25 * meal)
    other += _bursts(n, micro_at, rng.integers(1, 6, len(micro_at)), rng.uniform(800, 1100))
    if rng.random() < 0.6:  # a washing machine: mostly at weekends, daytime
        daytime = ((hour > 8) & (hour < 20)).astype(float)
        for begin in _events(rng, hour, daytime * np.where(weekend, 0.12, 0.04)):
            other[begin : begin + 15] += 2000  # heating the water
            other[begin + 15 : begin + int(rng.integers(60, 100))] += rng.uniform(150, 400)
    if rng.random() < 0.7:  # evening lights and TV, on from dusk until bedtime
        day = (t - start) // 86400
        on_at = 17 + rng.normal(1, 0.7, days + 1)
        off_at = 22.5 + rng.normal(0.5, 0.6, days + 1)
        other += ((hour >= on_at[day]) & (hour < off_at[day])) * rng.uniform(60, 180) * scale
    fault = np.zeros(n, dtype=np.int8)
    episodes = []
    override = np.full(n, np.nan)
    for index, (begin, length, kind) in enumerate(faults or []):
        span = slice(begin, min(begin + length, n))
        fault_rng = np.random.default_rng(seed * 1000 + index)
        if kind == "stuck_relay":
            override[span] = fault_rng.uniform(150, 2000)
        elif kind == "fridge_stuck_on":
            fridge[span] = fridge_watts
        elif kind == "baseline_jump":
            standby[span] += fault_rng.uniform(80, 300)
        else:
            message = f"unknown fault {kind!r}: expected one of {', '.join(FAULTS)}"
            raise ValueError(message)
        fault[span] = FAULTS.index(kind) + 1
        episodes.append((begin, min(begin + length, n), kind))
    watts = standby + fridge + other
    watts = np.where(np.isnan(override), watts, override)
    noise = rng.normal(0, 1, (2, n))
    watts = np.maximum(0.0, watts * (1 + 0.004 * noise[0]) + 0.3 * noise[1])
    return Home(seed, start, watts, fault, episodes)


def faulty_household(seed: int, days: int, faults_per_day: float = 0.5, start: int = EPOCH) -> Home:
    """Return a home with faults of every kind in turn, 2 to 12 hours long, at random moments."""
    rng = np.random.default_rng(seed + 10_000)
    count = max(1, round(days * faults_per_day))
    slot = days * PER_DAY // count
    faults = []
    for index in range(count):
        length = int(rng.integers(2 * 60, 12 * 60))
        begin = index * slot + int(rng.integers(6 * 60, max(6 * 60 + 1, slot - length)))
        faults.append((begin, length, FAULTS[(seed + index) % len(FAULTS)]))
    return household(seed, days, faults, start)
