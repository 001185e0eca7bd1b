"""The fuzz campaign's long form: 5,000 broken discovery configs and their state payloads.

    .venv/bin/python bench/payload_fuzz.py                 # 5,000 configs, 4 state payloads each, 3 rounds
    .venv/bin/python bench/payload_fuzz.py --configs 1000 --rounds 5 --seed 7
    .venv/bin/python bench/payload_fuzz.py --configs 1000 --rounds 1 --trace 25   # where the heap grew

A hub (in this process, its MQTT client on a real Mosquitto) receives the seeded campaign of
tests/integrations/mqtt/fuzz.py: configs with inf/NaN/1e999, wrong types, 300-character and
5,000-character names, templates; state payloads nested 10,000 deep, 1 MB, not UTF-8. Each round
sends the same campaign again (the same topics: entities are replaced, caches must not grow).
Prints per round: entities, warnings, log bytes, tracebacks, and RSS against the RSS before the
first message (the hub started and idle). Tracebacks are those in the log and whatever the
process writes to its stderr that is not a log line ("Exception ignored in ...": an exception
in a finalizer or a garbage collection, which no log handler sees), one per event; the bench
redirects file descriptor 2 to count them and prints the first lines at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import re
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._rss import peak_rss_mb, reset_peak_rss, rss_mb  # noqa: E402 - after the path
from tests.integrations.mqtt.fuzz import campaign  # noqa: E402 - after the path: the bench runs from a checkout
from tests.servers import MosquittoServer, launch_mosquitto  # noqa: E402


class Tally(logging.Handler):
    """Counts what the hub logs (lines, bytes, tracebacks) without keeping the text.

    Keeping the log in a StringIO put megabytes of the benchmark's own into the RSS it measures.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.warnings = self.bytes = self.tracebacks = 0
        self.first_tracebacks: list[str] = []  # the first few, printed at the end (a traceback is a bug)

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        self.bytes += len(text) + 1
        found = text.count("Traceback (most recent call last)")
        self.tracebacks += found
        if found and len(self.first_tracebacks) < 3:
            self.first_tracebacks.append(text[-4000:])
        self.warnings += record.levelno == logging.WARNING


# A line a logging handler wrote (none writes to stderr here, but a hub run with one must not count it).
_LOG_LINE = re.compile(r"^(\S+ \S+ )?(DEBUG|INFO|WARNING|ERROR|CRITICAL)\b")
_EVENT_STARTS = ("Exception ignored", "Traceback (most recent call last)")
_CHAINS = ("During handling of the above exception", "The above exception was the direct cause", "Exception ignored")


class StderrTally:
    """Counts what the process writes to file descriptor 2 that is not a log line, as tracebacks.

    The interpreter reports an exception raised in a finalizer, a weakref callback or a garbage
    collection callback through `sys.unraisablehook`, straight to stderr: no log handler sees it.
    File descriptor 2 goes to a temporary file (C libraries write there too), read after each
    round; every event ("Exception ignored ...", a traceback, any other line) counts once.
    """

    def __init__(self) -> None:
        sys.stderr.flush()
        self._file = tempfile.TemporaryFile()
        self._saved = os.dup(2)
        os.dup2(self._file.fileno(), 2)
        self._read = 0
        self._in_event = self._chained = False
        self.events = 0
        self.first_lines: list[str] = []

    def poll(self) -> int:
        """Read what was written since the last poll; return the events counted so far."""
        sys.stderr.flush()
        self._file.seek(self._read)
        text = self._file.read()
        self._read += len(text)
        for line in text.decode("utf-8", "replace").splitlines():
            if not line.strip():
                continue
            if _LOG_LINE.match(line):
                self._in_event = False
                continue
            if len(self.first_lines) < 40:
                self.first_lines.append(line[:300])
            if not self._in_event or (line.startswith(_EVENT_STARTS) and not self._chained):
                self.events += 1
            self._in_event = True
            self._chained = line.startswith(_CHAINS)
        return self.events

    def close(self) -> None:
        self.poll()
        sys.stderr.flush()
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._file.close()


async def run(args: argparse.Namespace, broker: MosquittoServer) -> int:
    from hub.ops.allocator import tune_allocator

    tune_allocator()  # as `hub run` does at start

    log = Tally()
    stderr = StderrTally()
    try:
        return await _campaign(args, broker, log, stderr)
    finally:
        stderr.close()
        for line in stderr.first_lines:
            print(f"stderr: {line}", file=sys.stderr, flush=True)


async def _campaign(args: argparse.Namespace, broker: MosquittoServer, log: Tally, stderr: StderrTally) -> int:
    import aiomqtt

    from hub import bootstrap
    from integrations.mqtt import runtime_of

    logging.getLogger().addHandler(log)
    logging.getLogger().setLevel(logging.WARNING)
    prefix = "fuzzbench"
    with tempfile.TemporaryDirectory(prefix="bench-fuzz-") as work:
        config = Path(work) / "config"
        config.mkdir()
        (config / "configuration.yaml").write_text(f"mqtt:\n  broker: {broker.url}\n  discovery_prefix: {prefix}\n")
        runtime = await bootstrap.start(config, Path(work) / "data", port=0)
        try:
            discovery = runtime_of(runtime.hub).discovery
            plan = campaign(args.seed, args.configs, base="fzb")
            gc.collect()
            start = rss_mb()
            print(f"{args.configs} configs, {len(plan.states)} state payloads per round; RSS at start {start:.1f} MB", flush=True)
            print(f"{'round':>5} {'entities':>9} {'warnings':>9} {'log bytes':>10} {'tracebacks':>10} {'stderr':>6} {'RSS MB':>8} {'vs start':>9} {'configs':>8}"
                  f" {'peak':>7} {'queued':>7} {'seconds':>8}")
            worst = 0
            deepest = [0]

            async def watch_queue() -> None:  # the most discovery messages waiting at once
                while True:
                    deepest[0] = max(deepest[0], len(discovery._queue))
                    await asyncio.sleep(0.01)

            watcher = asyncio.create_task(watch_queue())
            if args.trace:
                tracemalloc.start()
                traced = tracemalloc.take_snapshot()
            for round_no in range(1, args.rounds + 1):
                began = time.monotonic()
                deepest[0] = 0
                reset_peak_rss()
                async with aiomqtt.Client(broker.host, broker.port, max_queued_outgoing_messages=0) as client:
                    for topic, payload in plan.configs:
                        await client.publish(topic.format(prefix=prefix), payload, qos=0)
                    marker = f'{{"name": "Marker", "state_topic": "mk/{round_no}", "unique_id": "mk"}}'
                    await client.publish(f"{prefix}/sensor/marker/config", marker, qos=1)
                    while runtime.hub.states.get("sensor.marker") is None:
                        await asyncio.sleep(0.05)
                    await discovery.wait_idle()
                    gc.collect()
                    after_configs = rss_mb()
                    for topic, payload in plan.states:
                        await client.publish(topic, payload, qos=0)
                    await client.publish(f"mk/{round_no}", "done", qos=1)
                    while (state := runtime.hub.states.get("sensor.marker")) is None or state.state != "done":
                        await asyncio.sleep(0.05)
                await asyncio.sleep(0.5)
                gc.collect()
                now = rss_mb()
                escaped = stderr.poll()
                worst = max(worst, log.tracebacks + escaped)
                print(f"{round_no:>5} {len(discovery.entities):>9} {log.warnings:>9} {log.bytes:>10} {log.tracebacks + escaped:>10} {escaped:>6} {now:>8.1f} "
                      f"{now - start:>+9.1f} {after_configs - start:>+8.1f} {peak_rss_mb() - start:>+7.1f} {deepest[0]:>7} "
                      f"{time.monotonic() - began:>8.1f}", flush=True)
            watcher.cancel()
            if args.trace:
                gc.collect()
                grown = tracemalloc.take_snapshot().compare_to(traced, "lineno")
                tracemalloc.stop()
                entities = max(1, len(discovery.entities))
                print(f"\nheap growth (tracemalloc) by source line, {sum(s.size_diff for s in grown) / 1e6:.1f} MB in all, "
                      f"per entity of {entities}:\n{'bytes':>8} {'blocks':>7}  where")
                for stat in grown[: args.trace]:
                    frame = stat.traceback[0]
                    print(f"{stat.size_diff / entities:>8,.0f} {stat.count_diff / entities:>7.1f}  {frame.filename}:{frame.lineno}")
        finally:
            await bootstrap.stop(runtime)
    for text in log.first_tracebacks:
        print(f"\n---- a traceback in the log:\n{text}", flush=True)
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--trace", type=int, default=0, help="print the top N source lines of heap growth (tracemalloc: slow)")
    args = parser.parse_args()
    broker = launch_mosquitto("bench-fuzz-mqtt-")
    try:
        tracebacks = asyncio.run(run(args, broker))
    finally:
        broker.close()
    sys.exit(1 if tracebacks else 0)


if __name__ == "__main__":
    main()
