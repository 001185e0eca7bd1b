"""EasySmart-style messages to states: the adapter's cost per message, in one process.

    .venv/bin/python bench/easysmart_ingest.py            # 20,000 messages of each kind, best of 5
    .venv/bin/python bench/easysmart_ingest.py --count 100000 --repeat 3

The adapter's handlers are called as the MQTT client calls them (inline in the loop) with the
messages a device sends: a bare value on `{entity}/state`, a value with its own time
(`{"value", "ts"}`, taken within the skew), and a six-field reading on `telemetry`. A state
listener counts the state_changed events, so every message is checked to have reached the state
machine. No broker: the broker's and the client's share is in bench/mqtt_ingest.py. Prints
microseconds per message and messages per second for each kind.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson  # noqa: E402

from hub.core.bus import callback  # noqa: E402
from hub.core.hub import Hub  # noqa: E402
from hub.reading_time import Skew  # noqa: E402
from integrations.easysmart.adapter import Adapter  # noqa: E402
from integrations.easysmart.protocol import Topics  # noqa: E402
from integrations.mqtt.subscriptions import Message  # noqa: E402

FIELDS = ("power", "energy", "voltage", "current", "frequency", "power_factor")


class NoBroker:
    """Stands in for the MQTT runtime API: the bench calls the handlers itself."""

    def subscribe(self, topic: str, handler: Any, qos: int = 0) -> Any:
        return lambda: None

    async def publish(self, topic: str, payload: Any, qos: int = 0, retain: bool = False) -> None:
        return None


async def run(count: int, repeat: int) -> None:
    hub = Hub()
    adapter = Adapter(hub, NoBroker(), Topics(""), Skew())  # type: ignore[arg-type]
    discovery = {"device": {"id": "d1", "name": "Bench"},
                 "entities": [{"id": f, "type": "sensor", "unit": "W"} for f in FIELDS]}
    adapter.on_discovery(Message("devices/d1/discovery", orjson.dumps(discovery), 0, True, 0.0))
    await hub.block_till_done()
    changed = 0

    def count_change(event: Any) -> None:
        nonlocal changed
        changed += 1

    hub.bus.listen("state_changed", callback(count_change))
    # Each reading's own time is later than the one before (an older one would go to history only).
    kinds = {
        "bare value": lambda i: Message("devices/d1/power/state", str(100 + i % 1000).encode(), 1, False, 0.0),
        "value with ts": lambda i: Message("devices/d1/power/state",
                                           orjson.dumps({"value": 100 + i % 1000, "ts": time.time() + i * 1e-6}), 1, False, 0.0),
        "telemetry 6 fields": lambda i: Message("devices/d1/telemetry", orjson.dumps(
            {"ts": time.time() + i * 1e-6, **{f: 100 + i % 1000 + n for n, f in enumerate(FIELDS)}}), 1, False, 0.0),
    }
    handlers = {"bare value": adapter.on_state, "value with ts": adapter.on_state, "telemetry 6 fields": adapter.on_telemetry}
    for kind, make in kinds.items():
        best = float("inf")
        for _ in range(repeat):
            messages = [make(i) for i in range(count)]
            changed = 0
            handle = handlers[kind]
            start = time.perf_counter()
            for message in messages:
                handle(message)
            elapsed = time.perf_counter() - start
            await hub.block_till_done()
            assert changed >= count * 0.99, (kind, changed)  # consecutive equal values may not change
            best = min(best, elapsed)
        per = best / count * 1e6
        print(f"{kind:20s} {per:7.1f} us/message  {count / best:10,.0f} messages/s")
    await hub.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(run(args.count, args.repeat))


if __name__ == "__main__":
    main()
