"""What holds the event loop on the hot path, in CPU time: a paced in-process feed of state writes.

    .venv/bin/python bench/tails.py                      # 10,000/s and 30,000/s for 5 s each
    .venv/bin/python bench/tails.py --rates 10000 --seconds 10 --repeat 3

One hub in this process, 1,000 sensors with Home Assistant's usual attributes, the recorder on
SQLite (spool fsyncs, its I/O thread, the backend's writer thread, the history cache as stored
listener) and one state_changed subscriber encoded and framed as the WebSocket API does for a
client (the socket write is left out: bench/mqtt_ingest.py --ws measures it with a real client).
Readings are written in 5 ms ticks at the rate asked. No broker, no publisher, no socket: only
the hub's own work, so the figures hold on a loaded machine, where the wall-clock latency of
bench/mqtt_ingest.py mostly measures waiting for a core.

Prints per rate: CPU µs per reading of the loop thread and of every thread together; the
loop's callbacks by CPU time (the longest, the 99.9th percentile, and the share of the loop's
CPU in callbacks over 2 ms); garbage collections (runs, total, the longest pause); and the
callbacks that took over 2 ms, by name. All in CPU time of the thread (time.thread_time), so
another process taking the core does not count; the run-queue wait is printed beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
sys.path.insert(0, os.path.dirname(_HERE))

from hub import heap  # noqa: E402
from hub.api import ws_messages as messages  # noqa: E402
from hub.core.bus import callback  # noqa: E402
from hub.core.hub import Hub, HubConfig  # noqa: E402
from hub.core.states import ReadOnlyDict  # noqa: E402
from hub.recorder.backends.sqlite import SQLiteBackend  # noqa: E402
from hub.recorder.recorder import Recorder  # noqa: E402
from hub.recorder.spool import Spool  # noqa: E402

SENSORS = 1000
TICK = 0.005
ATTRIBUTES = {"state_class": "measurement", "unit_of_measurement": "W", "device_class": "power"}


def schedstat() -> dict[int, tuple[float, float]]:
    """CPU seconds and run-queue seconds of each thread of this process, by native id."""
    out = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            ran, waited, _ = (int(x) for x in (task / "schedstat").read_text().split())
        except (OSError, ValueError):
            continue
        out[int(task.name)] = (ran / 1e9, waited / 1e9)
    return out


class LoopSteps:
    """CPU time of every loop callback, and the names of the long ones."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.skip: object = None  # a task whose steps are not counted
        self.slow: dict[str, list[float]] = {}
        from asyncio import events

        self._events = events
        self._original = events.Handle._run

    def __enter__(self) -> LoopSteps:
        original, times, slow = self._original, self.times, self.slow

        def run(handle: asyncio.Handle) -> None:
            callback_ = handle._callback  # type: ignore[attr-defined]
            began = time.thread_time()
            original(handle)
            spent = time.thread_time() - began
            task = getattr(callback_, "__self__", None)
            if task is not None and task is self.skip:
                return  # the feed: its own steps are the readings' work, measured per reading
            times.append(spent)
            if spent > 0.002:
                name = repr(task.get_coro()) if isinstance(task, asyncio.Task) else repr(callback_)
                slow.setdefault(name.split(" at 0x")[0][:90], []).append(spent)

        self._events.Handle._run = run  # type: ignore[method-assign,assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        self._events.Handle._run = self._original  # type: ignore[method-assign]


class Collections:
    """Garbage collections and their pauses, in CPU time."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        if phase == "start":
            self._began = time.thread_time()
        else:
            self.pauses.append((info["generation"], time.thread_time() - self._began))


class Ticker:
    """How late a 1 ms sleep wakes, less the time the loop's thread waited for a core meanwhile:
    what a reading arriving at that moment waits for inside the process (other callbacks, the
    interpreter lock held by the recorder's threads, collections)."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._path = f"/proc/self/task/{threading.get_native_id()}/schedstat"

    def _waited(self) -> float:
        with open(self._path) as file:
            return int(file.read().split()[1]) / 1e9

    async def run(self) -> None:
        while True:
            waited, began = self._waited(), time.perf_counter()
            await asyncio.sleep(0.001)
            late = time.perf_counter() - began - 0.001 - (self._waited() - waited)
            self.lags.append(max(0.0, late))


async def run(rate: int, seconds: float, folder: Path) -> dict[str, float | str]:
    hub = Hub(HubConfig(data_dir=folder))
    backend = SQLiteBackend(folder / "history.db")
    await backend.open()
    recorder = Recorder(hub, backend, Spool(folder / "spool"))
    await recorder.start(backlog_sensor=False)
    sent: deque[bytes] = deque()
    cache = messages.EncodedEventCache()

    @callback
    def forward(event: object) -> None:  # one WebSocket client's subscribe_events, without its socket
        sent.append(cache.frame(event, "event", 2, messages.encode_event))
        if len(sent) > 4096:
            sent.clear()

    hub.bus.listen("state_changed", forward)
    names = [f"sensor.bench_{i}_power" for i in range(SENSORS)]
    # Read-only dicts kept between writes, as MQTT entities keep theirs (a plain dict is copied
    # into a new ReadOnlyDict at every write).
    attributes = [ReadOnlyDict({**ATTRIBUTES, "friendly_name": f"Bench {i} power"}) for i in range(SENSORS)]
    for name, attrs in zip(names, attributes, strict=True):
        hub.states.set(name, "0", attrs)
    await recorder.flush()
    heap.freeze()  # as `hub run` does once start-up settled
    gc.set_threshold(heap.YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    await asyncio.sleep(0.05)

    collections = Collections()
    gc.callbacks.append(collections)
    main = threading.get_native_id()
    before = schedstat()
    wall = time.perf_counter()
    total = int(rate * seconds)
    per_tick = max(1, int(rate * TICK))
    written = 0
    states = hub.states
    async def feed() -> float:
        nonlocal written
        began = time.perf_counter()
        while written < total:
            # At most one tick's readings per step, as a socket read slice brings them.
            due = min(total, int((time.perf_counter() - began) * rate) + per_tick, written + per_tick)
            while written < due:
                i = written % SENSORS
                states.set(names[i], str(written), attributes[i])
                written += 1
            await asyncio.sleep(TICK if written >= int((time.perf_counter() - began) * rate) else 0)
        return time.perf_counter() - began - seconds

    ticker = Ticker()
    with LoopSteps() as steps:
        task = asyncio.get_running_loop().create_task(feed())
        steps.skip = task
        ticking = asyncio.get_running_loop().create_task(ticker.run())
        lagged = await task
        ticking.cancel()
        await recorder.flush(timeout=120)
    wall = time.perf_counter() - wall
    after = schedstat()
    gc.callbacks.remove(collections)
    await recorder.stop()
    await hub.stop()

    cpu_main = after[main][0] - before.get(main, (0.0, 0.0))[0]
    wait_main = after[main][1] - before.get(main, (0.0, 0.0))[1]
    cpu_all = sum(cpu - before.get(tid, (0.0, 0.0))[0] for tid, (cpu, _) in after.items())
    ordered = sorted(steps.times)
    long_cpu = sum(t for t in ordered if t > 0.002)
    pauses = [p for _, p in collections.pauses] or [0.0]
    slow = sorted(steps.slow.items(), key=lambda item: -sum(item[1]))[:5]
    lags = sorted(ticker.lags) or [0.0]
    return {
        "rate": rate,
        "behind_s": max(0.0, lagged),
        "us_loop": cpu_main / total * 1e6,
        "us_all": cpu_all / total * 1e6,
        "wait_share": wait_main / wall,
        "step_max_ms": ordered[-1] * 1000,
        "step_p999_ms": ordered[int(len(ordered) * 0.999)] * 1000,
        "long_share": long_cpu / max(sum(ordered), 1e-9),
        "lag_p99_ms": lags[int(len(lags) * 0.99)] * 1000,
        "lag_max_ms": lags[-1] * 1000,
        "gc_runs": len(collections.pauses),
        "gc_ms": sum(pauses) * 1000,
        "gc_max_ms": max(pauses) * 1000,
        "slow": "; ".join(f"{name} {len(t)}x max {max(t) * 1000:.1f} ms" for name, t in slow),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", type=int, nargs="+", default=[10000, 30000])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--switch-interval", type=float, help="sys.setswitchinterval() for the run (CPython: 0.005 s)")
    args = parser.parse_args()
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)
    print(f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; {SENSORS} sensors, recorder on SQLite, "
          "one state_changed subscriber encoded; CPU time per thread", flush=True)
    found: dict[int, list[dict[str, float | str]]] = {}
    for _ in range(args.repeat):
        for rate in args.rates:
            with tempfile.TemporaryDirectory(prefix="bench-tails-") as tmp:
                row = asyncio.run(run(rate, args.seconds, Path(tmp)))
            found.setdefault(rate, []).append(row)
            print(f"{rate:>6}/s: {row['us_loop']:.1f} µs/reading on the loop, {row['us_all']:.1f} µs all threads; "
                  f"loop callbacks max {row['step_max_ms']:.1f} ms, p99.9 {row['step_p999_ms']:.2f} ms, "
                  f"{row['long_share']:.0%} of loop CPU in callbacks > 2 ms; GC {row['gc_runs']} runs "
                  f"{row['gc_ms']:.0f} ms, max {row['gc_max_ms']:.1f} ms; feed behind {row['behind_s']:.1f} s; "
                  f"loop waited for a core {row['wait_share']:.0%} of the time; 1 ms ticker late, less that wait: "
                  f"p99 {row['lag_p99_ms']:.2f} ms, max {row['lag_max_ms']:.1f} ms\n        over 2 ms: {row['slow'] or '-'}",
                  flush=True)
    if args.repeat > 1:
        for rate, rows in found.items():
            def med(key: str, rows: list[dict[str, float | str]] = rows) -> float:
                return statistics.median(float(r[key]) for r in rows)

            print(f"median {rate:>6}/s: {med('us_loop'):.1f} / {med('us_all'):.1f} µs, step max {med('step_max_ms'):.1f} ms, "
                  f"GC max {med('gc_max_ms'):.1f} ms")


if __name__ == "__main__":
    main()
