"""Automation benchmark: trigger -> action latency, cost per state change, template renders/s.

Run: .venv/bin/python bench/automation_latency.py [--automations 1000] [--rate 1000] [--seconds 5]

Figures printed:
- latency from a state write to the automation's service handler running (p50/p99/max), with N
  automations loaded (state triggers on distinct entities), writes paced at --rate per second
- cost per state change (µs) of an entity nobody watches, and of a watched one, for 10, 100,
  1,000 and 10,000 automations loaded: it must not grow with automations that don't watch it
- template renders/s for a simple state template and a heavier one
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from typing import Any

# This script is named like the package it measures: keep bench/ off the import path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

from automations import integration  # noqa: E402
from hub.core.hub import Hub  # noqa: E402
from hub.core.services import ServiceCall  # noqa: E402
from hub.templating import Template  # noqa: E402


def _automations(count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"a{i}",
            "alias": f"Relay {i}",
            "triggers": [{"trigger": "numeric_state", "entity_id": f"sensor.power_{i}", "above": 2000}],
            "actions": [{"action": "switch.turn_on", "target": {"entity_id": f"switch.relay_{i}"}}],
        }
        for i in range(count)
    ]


async def _hub(count: int) -> tuple[Hub, list[float]]:
    hub = Hub()
    done: list[float] = []

    async def turn_on(call: ServiceCall) -> None:
        done.append(time.perf_counter())

    hub.services.register("switch", "turn_on", turn_on)
    for i in range(count):
        hub.states.set(f"sensor.power_{i}", "0")
    await integration.setup_integration(hub, _automations(count))
    return hub, done


async def latency(count: int, rate: float, seconds: float) -> dict[str, float]:
    """Pace state writes crossing the threshold; measure write -> service handler."""
    hub, done = await _hub(count)
    samples: list[float] = []
    # Each sample is two state changes (drop below, cross above): pace them at `rate` changes/s.
    interval = 2.0 / rate
    total = int(rate * seconds / 2)
    start = time.perf_counter()
    for n in range(total):
        target = start + n * interval
        while (now := time.perf_counter()) < target:
            await asyncio.sleep(max(0.0, target - now - 0.0005) if target - now > 0.001 else 0)
        entity = n % count
        # Drop below then cross above: only the crossing fires the automation.
        hub.states.set(f"sensor.power_{entity}", "0")
        before = len(done)
        began = time.perf_counter()
        hub.states.set(f"sensor.power_{entity}", "2500")
        while len(done) == before:
            await asyncio.sleep(0)
        samples.append((done[-1] - began) * 1000)
    elapsed = time.perf_counter() - start
    await hub.stop()
    samples.sort()
    return {
        "p50_ms": statistics.median(samples),
        "p99_ms": samples[int(len(samples) * 0.99) - 1],
        "max_ms": samples[-1],
        "changes_per_s": 2 * total / elapsed,
    }


async def cost_per_change(count: int, writes: int = 20_000) -> tuple[float, float]:
    """µs per state write of an unwatched entity and of a watched one (no crossing)."""
    hub, _done = await _hub(count)
    hub.states.set("sensor.unwatched", "0")
    results = []
    for entity_id in ("sensor.unwatched", "sensor.power_0"):
        began = time.perf_counter()
        for n in range(writes):
            hub.states.set(entity_id, str(n % 1000))  # below the threshold: no run
        results.append((time.perf_counter() - began) / writes * 1e6)
    await hub.stop()
    return results[0], results[1]


def renders_per_second(source: str, hub: Hub, seconds: float = 1.0) -> float:
    """Renders/s of one template (compiled once)."""
    template = Template(source, hub)
    count = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(100):
            template.render()
        count += 100
    return count / seconds


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--automations", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()

    result = await latency(args.automations, args.rate, args.seconds)
    print(
        f"trigger->action latency, {args.automations} automations, {result['changes_per_s']:.0f} state changes/s: "
        f"p50 {result['p50_ms']:.3f} ms  p99 {result['p99_ms']:.3f} ms  max {result['max_ms']:.3f} ms"
    )
    print("cost per state change (µs) vs automations loaded:")
    for count in (10, 100, 1000, 10000):
        unwatched, watched = await cost_per_change(count)
        print(f"  {count:>6} automations: unwatched entity {unwatched:6.2f} µs  watched entity {watched:6.2f} µs")
    hub = Hub()
    hub.states.set("sensor.power", "1234.5", {"unit_of_measurement": "W"})
    for i in range(50):
        hub.states.set(f"sensor.s{i}", str(i))
    for label, source in (
        ("simple", "{{ states('sensor.power') | float(0) > 2000 }}"),
        ("heavier", "{{ states.sensor | selectattr('state', 'is_number') | map(attribute='state') | map('float') | sum | round(1) }}"),
    ):
        print(f"template renders/s ({label}): {renders_per_second(source, hub):,.0f}")
    await hub.stop()


if __name__ == "__main__":
    asyncio.run(main())
