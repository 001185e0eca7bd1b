#!/usr/bin/env python3
"""Inference cost of the shipped ONNX models, as the hub runs them.

    .venv/bin/python bench/onnx_inference.py [--runs 5000]

For each model in integrations/onnx/models: p50/p99 latency of one call to OnnxModel.infer
(the mtime check, the cast and session.run with one thread, which is what the hub's
executor does per prediction), and the CPU seconds per 1,000 inferences. Then the same
through a running hub: readings written as states, windows, features, the executor hop and
the state write of the prediction, per inference. Feature vectors come from the household
simulator the models were trained on.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import statistics
import sys
import time
from datetime import UTC
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.core.hub import Hub  # noqa: E402
from integrations.onnx import setup  # noqa: E402
from integrations.onnx.features import FeatureSpec  # noqa: E402
from integrations.onnx.model import SHIPPED, OnnxModel  # noqa: E402

MODELS = {
    "anomaly_power.onnx": {"window": {"span": "01:00:00", "step": 60}, "features": ["raw", "time_of_day"], "size": 60, "step": 60},
    "forecast_power.onnx": {"window": {"span": "24:00:00", "step": 3600}, "features": ["raw", "time_of_day", "day_of_week"], "size": 24, "step": 3600},
}


def simulator():  # type: ignore[no-untyped-def]
    """Import scripts/synthetic_power.py."""
    spec = importlib.util.spec_from_file_location("synthetic_power", ROOT / "scripts" / "synthetic_power.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["synthetic_power"] = module
    spec.loader.exec_module(module)
    return module


def percentile(values: list[float], q: float) -> float:
    """Return the q-th percentile (0-100) of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def bench_model(name: str, conf: dict, runs: int, rng: np.random.Generator, series: np.ndarray) -> None:  # type: ignore[type-arg]
    """Print latency and CPU of direct inference for one model."""
    spec = FeatureSpec(tuple(conf["features"]), conf["size"])
    model = OnnxModel(SHIPPED / name, spec.length, spec.describe())
    model.ensure_loaded()
    starts = rng.integers(0, len(series) - spec.size, runs)
    end = 1704067200.0 + starts * conf["step"]
    vectors = [spec.vector([series[s : s + spec.size]], float(e), UTC) for s, e in zip(starts, end, strict=True)]
    for vector in vectors[:100]:  # warm-up
        model.infer(vector)
    latencies = []
    cpu0 = time.process_time()
    for vector in vectors:
        began = time.perf_counter()
        model.infer(vector)
        latencies.append(time.perf_counter() - began)
    cpu = time.process_time() - cpu0
    size = (SHIPPED / name).stat().st_size
    print(
        f"{name:22} {size / 1024:7.1f} KiB  p50 {percentile(latencies, 50) * 1e6:7.1f} us  "
        f"p99 {percentile(latencies, 99) * 1e6:7.1f} us  mean {statistics.fmean(latencies) * 1e6:7.1f} us  "
        f"CPU {cpu / runs * 1000:.3f} s per 1,000 inferences"
    )


async def bench_hub(name: str, conf: dict, runs: int, watts: np.ndarray) -> None:  # type: ignore[type-arg]
    """Print the per-inference cost of a model sensor inside a hub fed one reading per step."""
    hub = Hub()
    runners = await setup(
        hub,
        [{"name": "Bench", "model": name, "inputs": ["sensor.power"], "window": conf["window"], "features": conf["features"], "run": {"on_change": True}}],
    )
    step, size = conf["step"], conf["size"]
    start = 1704067200.0
    for index in range(size):  # fill the window first
        hub.states.set("sensor.power", f"{watts[index]:.1f}", timestamp=start + index * step)
    await hub.block_till_done()
    latencies = []
    cpu0 = time.process_time()
    for index in range(size, size + runs):
        began = time.perf_counter()
        hub.states.set("sensor.power", f"{watts[index % len(watts)]:.1f}", timestamp=start + index * step)
        await hub.block_till_done()
        latencies.append(time.perf_counter() - began)
    cpu = time.process_time() - cpu0
    # A reading equal to the previous one is no state change, so a few readings run nothing.
    inferences = runners[0].inferences
    assert hub.states.get("sensor.bench").state != "unavailable"
    print(
        f"{name:22} in a hub     p50 {percentile(latencies, 50) * 1e6:7.1f} us  p99 {percentile(latencies, 99) * 1e6:7.1f} us  "
        f"CPU {cpu / inferences * 1000:.3f} s per 1,000 predictions (reading -> state, {inferences} of {runs} readings ran the model)"
    )
    await hub.stop()


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5000)
    args = parser.parse_args()
    sim = simulator()
    watts = sim.household(7, 30).watts
    hourly = watts.reshape(-1, 60).mean(axis=1)
    rng = np.random.default_rng(0)
    print(f"ONNX inference, {args.runs} runs per model, one thread (intra_op_num_threads=1)")
    for name, series in (("anomaly_power.onnx", watts), ("forecast_power.onnx", hourly)):
        bench_model(name, MODELS[name], args.runs, rng, series)
    asyncio.run(bench_hub("anomaly_power.onnx", MODELS["anomaly_power.onnx"], min(args.runs, 2000), watts))
    asyncio.run(bench_hub("forecast_power.onnx", MODELS["forecast_power.onnx"], min(args.runs, 2000), hourly))


if __name__ == "__main__":
    main()
