#!/usr/bin/env python3
"""Train the models the hub ships, from synthetic household power readings, and write their card.

    pip install -e '.[train]'
    python scripts/train_models.py            # writes integrations/onnx/models/*.onnx + MODEL_CARD.md

- anomaly_power.onnx: an IsolationForest over summary statistics of the last hour (1-minute
  means) and the time of day. The statistics are computed inside the ONNX graph, so the hub
  feeds the raw window: `window: {span: 01:00:00, step: 60}, features: [raw, time_of_day]`.
  Output `anomaly_score`: above 0 means anomalous (the threshold was tuned on validation homes).
- forecast_power.onnx: gradient-boosted trees predicting the mean power of the next hour from
  the last 24 hourly means and the time of day and week:
  `window: {span: "24:00:00", step: 3600}, features: [raw, time_of_day, day_of_week]`.

Training, validation and test homes are drawn from different seeds; every seed is fixed, so a
rerun gives the same models and the same metrics.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import onnx
from numpy.lib.stride_tricks import sliding_window_view
from onnx import TensorProto, helper
from skl2onnx import to_onnx
from sklearn.ensemble import GradientBoostingRegressor, IsolationForest
from sklearn.ensemble._iforest import _average_path_length

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

import model_card  # noqa: E402
import synthetic_power as sp  # noqa: E402

from integrations.onnx.features import FeatureSpec  # noqa: E402
from integrations.onnx.model import OnnxModel  # noqa: E402

OUT = ROOT / "integrations" / "onnx" / "models"
WINDOW = 60  # one-minute means in the anomaly model's window
HOURS = 24  # hourly means in the forecaster's window
# Scale-free statistics (and the log of the floor): kettle-sized spikes make the raw mean, std and
# max heavy-tailed, and an IsolationForest then spends its splits on them instead of on faults.
STATS = ("log_min", "variation", "min_max_ratio", "duty", "steps")
DUTY_W = 40.0  # a minute counts as "something on" this far above the window's minimum
STEP_W = 30.0  # a change between minutes this large is a switch (a fridge's is ~50-140 W)
TARGET_FALSE_ALARM = 0.001  # share of normal validation windows allowed above the threshold
OPSET = {"": 17, "ai.onnx.ml": 3}
TRAIN_SEEDS, VALIDATION_SEEDS, TEST_SEEDS = range(100, 140), range(200, 212), range(300, 312)


# -- anomaly model ---------------------------------------------------------------------------------
def tod(end_times: np.ndarray) -> np.ndarray:
    """Return sin/cos of the time of day (UTC) of window ends, as FeatureSpec computes them."""
    angle = 2 * np.pi * (end_times % 86400) / 86400
    return np.stack([np.sin(angle), np.cos(angle)], axis=1)


def dow(end_times: np.ndarray) -> np.ndarray:
    """Return sin/cos of the position in the week (Monday 00:00 = 0)."""
    days = ((end_times // 86400 + 3) % 7) + (end_times % 86400) / 86400
    angle = 2 * np.pi * days / 7
    return np.stack([np.sin(angle), np.cos(angle)], axis=1)


def anomaly_vectors(home: sp.Home, stride: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the hub's feature vectors (60 raw + 2 time_of_day) for every window, its end index and fault share."""
    windows = sliding_window_view(home.watts, WINDOW)[::stride]
    last = np.arange(WINDOW - 1, len(home.watts))[::stride]
    ends = home.start + sp.STEP * (last + 1)
    faulty = sliding_window_view(home.fault > 0, WINDOW)[::stride].mean(axis=1)
    return np.hstack([windows, tod(ends)]).astype(np.float32), last, faulty


def stats(vectors: np.ndarray) -> np.ndarray:
    """Summary statistics of each window: the numpy twin of the graph built by stats_graph()."""
    w = vectors[:, :WINDOW].astype(np.float32)
    mean = w.mean(axis=1, keepdims=True)
    std = np.sqrt(((w - mean) ** 2).mean(axis=1, keepdims=True))
    low, high = w.min(axis=1, keepdims=True), w.max(axis=1, keepdims=True)
    delta = np.abs(np.diff(w, axis=1))
    duty = (w > low + np.float32(DUTY_W)).mean(axis=1, keepdims=True)
    steps = (delta > np.float32(STEP_W)).sum(axis=1, keepdims=True)
    log_min = np.log(np.maximum(low, 0) + 1)
    columns = [log_min, std / (mean + 1), low / (high + 1), duty, steps, vectors[:, WINDOW:]]
    return np.hstack(columns).astype(np.float32)


def stats_graph(features: str, out: str) -> list[onnx.NodeProto]:
    """Return ONNX nodes computing stats() from the raw feature vector."""
    c = lambda name, value: helper.make_node("Constant", [], [name], value=helper.make_tensor(name, TensorProto.INT64 if isinstance(value[0], int) else TensorProto.FLOAT, [len(value)], value))  # noqa: E731
    n = helper.make_node
    return [
        c("k0", [0]), c("kw", [WINDOW]), c("k1", [1]), c("kw1", [WINDOW - 1]), c("kend", [WINDOW + 2]), c("one", [1.0]), c("zero", [0.0]),
        c("duty_w", [DUTY_W]), c("step_w", [STEP_W]),
        n("Slice", [features, "k0", "kw", "k1"], ["w"]),
        n("Slice", [features, "kw", "kend", "k1"], ["time"]),
        n("ReduceMean", ["w"], ["mean"], axes=[1], keepdims=1),
        n("Sub", ["w", "mean"], ["centered"]),
        n("Mul", ["centered", "centered"], ["squared"]),
        n("ReduceMean", ["squared"], ["var"], axes=[1], keepdims=1),
        n("Sqrt", ["var"], ["std"]),
        n("ReduceMin", ["w"], ["low"], axes=[1], keepdims=1),
        n("ReduceMax", ["w"], ["high"], axes=[1], keepdims=1),
        n("Slice", ["w", "k1", "kw", "k1"], ["later"]),
        n("Slice", ["w", "k0", "kw1", "k1"], ["earlier"]),
        n("Sub", ["later", "earlier"], ["delta"]),
        n("Abs", ["delta"], ["abs_delta"]),
        n("Max", ["low", "zero"], ["floor"]),
        n("Add", ["floor", "one"], ["floor1"]),
        n("Log", ["floor1"], ["log_min"]),
        n("Add", ["mean", "one"], ["mean1"]),
        n("Div", ["std", "mean1"], ["variation"]),
        n("Add", ["high", "one"], ["high1"]),
        n("Div", ["low", "high1"], ["ratio"]),
        n("Add", ["low", "duty_w"], ["duty_level"]),
        n("Greater", ["w", "duty_level"], ["is_on"]),
        n("Cast", ["is_on"], ["on"], to=TensorProto.FLOAT),
        n("ReduceMean", ["on"], ["duty"], axes=[1], keepdims=1),
        n("Greater", ["abs_delta", "step_w"], ["is_step"]),
        n("Cast", ["is_step"], ["step"], to=TensorProto.FLOAT),
        n("ReduceSum", ["step", "k1"], ["steps"], keepdims=1),
        n("Concat", ["log_min", "variation", "ratio", "duty", "steps", "time"], [out], axis=1),
    ]


def forest_node(forest: IsolationForest, out: str, inp: str) -> onnx.NodeProto:
    """Return one TreeEnsembleRegressor summing, over the trees, the isolation depth of the leaf reached.

    skl2onnx emits a dozen nodes per tree (about 1,800 for 64 trees, ~2 ms per call); one ensemble
    with each leaf's path length precomputed gives the same sums in a few microseconds.
    """
    attrs: dict[str, list[object]] = {key: [] for key in (
        "nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values", "nodes_modes",
        "nodes_truenodeids", "nodes_falsenodeids", "target_treeids", "target_nodeids", "target_ids", "target_weights",
    )}
    for tree_id, (estimator, features) in enumerate(zip(forest.estimators_, forest.estimators_features_, strict=True)):
        tree = estimator.tree_
        leaf_depth = forest._decision_path_lengths[tree_id] + forest._average_path_length_per_tree[tree_id] - 1.0  # noqa: SLF001
        for node in range(tree.node_count):
            left, right = int(tree.children_left[node]), int(tree.children_right[node])
            leaf = left == -1
            attrs["nodes_treeids"].append(tree_id)
            attrs["nodes_nodeids"].append(node)
            attrs["nodes_featureids"].append(0 if leaf else int(features[tree.feature[node]]))
            attrs["nodes_values"].append(0.0 if leaf else float(tree.threshold[node]))
            attrs["nodes_modes"].append("LEAF" if leaf else "BRANCH_LEQ")
            attrs["nodes_truenodeids"].append(0 if leaf else left)
            attrs["nodes_falsenodeids"].append(0 if leaf else right)
            if leaf:
                attrs["target_treeids"].append(tree_id)
                attrs["target_nodeids"].append(node)
                attrs["target_ids"].append(0)
                attrs["target_weights"].append(float(leaf_depth[node]))
    return helper.make_node(
        "TreeEnsembleRegressor", [inp], [out], domain="ai.onnx.ml", n_targets=1, aggregate_function="SUM", post_transform="NONE", **attrs
    )


def export_anomaly(forest: IsolationForest, threshold: float) -> onnx.ModelProto:
    """Return the forest as ONNX with the statistics in front and `anomaly_score` out.

    anomaly_score = threshold - decision_function = threshold + offset_ + 2^(-depths / (trees * c(max_samples))).
    """
    denominator = len(forest.estimators_) * float(_average_path_length([forest._max_samples])[0])  # noqa: SLF001
    const = lambda name, value: helper.make_node("Constant", [], [name], value=helper.make_tensor(name, TensorProto.FLOAT, [1], [value]))  # noqa: E731
    nodes = stats_graph("features", "stats") + [
        forest_node(forest, "depths", "stats"),
        const("denominator", -denominator), const("two", 2.0), const("shift", threshold + float(forest.offset_)),
        helper.make_node("Div", ["depths", "denominator"], ["exponent"]),
        helper.make_node("Pow", ["two", "exponent"], ["isolation"]),
        # decision_function is low for anomalies; flipped and shifted, above 0 means anomalous.
        helper.make_node("Add", ["isolation", "shift"], ["anomaly_score"]),
    ]
    graph = helper.make_graph(
        nodes,
        "anomaly_power",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, WINDOW + 2])],
        [helper.make_tensor_value_info("anomaly_score", TensorProto.FLOAT, [None, 1])],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid(domain, version) for domain, version in OPSET.items()], producer_name="powerhub scripts/train_models.py"
    )
    model.ir_version = 8
    model.doc_string = "Household power anomaly score over the last hour; > 0 is anomalous. See MODEL_CARD.md."
    onnx.checker.check_model(model)
    return model


def check_export(forest: IsolationForest, threshold: float, path: Path, vectors: np.ndarray) -> None:
    """Fail unless the ONNX file scores like scikit-learn (up to float32 rounding)."""
    expected = threshold - forest.decision_function(stats(vectors))
    got = onnx_outputs(path, vectors)
    assert np.abs(expected - got).max() < 1e-3, f"ONNX and scikit-learn scores differ by {np.abs(expected - got).max()}"


def onnx_outputs(path: Path, vectors: np.ndarray) -> np.ndarray:
    """Run a written model the way the hub loads it; return its first output."""
    model = OnnxModel(path, vectors.shape[1], "training check")
    model.ensure_loaded()
    session = model._session  # noqa: SLF001 - one batched run instead of one per window
    assert session is not None
    return session.run(None, {model.input_name: vectors.astype(np.float32)})[0].reshape(-1)


def alarm_episodes(on: np.ndarray) -> int:
    """Return how many times an alarm turned on."""
    return len(alarm_lengths(on))


def alarm_lengths(on: np.ndarray) -> list[int]:
    """Return how many windows each alarm lasted."""
    edges = np.diff(np.concatenate([[0], on.astype(np.int8), [0]]))
    return (np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)).tolist()


def train_anomaly(out: Path) -> dict[str, object]:
    """Train, tune, export and evaluate the anomaly model; return its metrics."""
    train = np.vstack([anomaly_vectors(sp.household(seed, 21), stride=7)[0] for seed in TRAIN_SEEDS])
    forest = IsolationForest(n_estimators=64, max_samples=512, random_state=0).fit(stats(train))
    path = out / "anomaly_power.onnx"
    # The threshold: the decision score that only TARGET_FALSE_ALARM of normal validation windows fall under.
    normal_scores = np.concatenate(
        [forest.decision_function(stats(anomaly_vectors(sp.household(seed, 14), 2)[0])) for seed in VALIDATION_SEEDS]
    )
    threshold = float(np.quantile(normal_scores, TARGET_FALSE_ALARM))
    onnx.save(export_anomaly(forest, threshold), path)
    check_export(forest, threshold, path, anomaly_vectors(sp.household(VALIDATION_SEEDS[0], 2))[0])
    metrics: dict[str, object] = {"threshold": threshold, "train_windows": len(train)}
    tp = fp = fn = tn = 0
    false_alarms: list[int] = []
    days = 0
    delays: list[int] = []
    per_kind: dict[str, list[int]] = {kind: [0, 0] for kind in sp.FAULTS}
    for seed in TEST_SEEDS:
        home = sp.faulty_household(seed, 14)
        vectors, last, faulty = anomaly_vectors(home)
        on = onnx_outputs(path, vectors) > 0
        full, clean = faulty == 1.0, faulty == 0.0
        tp += int(np.count_nonzero(on & full))
        fn += int(np.count_nonzero(~on & full))
        fp += int(np.count_nonzero(on & clean))
        tn += int(np.count_nonzero(~on & clean))
        normal_run = sp.household(seed, 14)
        normal_on = onnx_outputs(path, anomaly_vectors(normal_run)[0]) > 0
        false_alarms += alarm_lengths(normal_on)
        days += 14
        for begin, end, kind in home.episodes:
            hits = np.flatnonzero(on & (last >= begin) & (last < end))
            per_kind[kind][1] += 1
            if len(hits):
                per_kind[kind][0] += 1
                delays.append(int(last[hits[0]] - begin + 1))
    metrics.update(
        precision=tp / max(1, tp + fp),
        recall=tp / max(1, tp + fn),
        windows_faulty=tp + fn,
        windows_normal=fp + tn,
        false_alarm_rate=fp / max(1, fp + tn),
        false_alarms_per_day=len(false_alarms) / days,
        false_alarm_minutes=(float(np.median(false_alarms)), float(np.quantile(false_alarms, 0.9))) if false_alarms else (0.0, 0.0),
        false_alarms_over_10_min_per_day=sum(1 for length in false_alarms if length >= 10) / days,
        episodes={kind: f"{found}/{total}" for kind, (found, total) in per_kind.items()},
        delay_median=float(np.median(delays)) if delays else None,
        delay_p90=float(np.quantile(delays, 0.9)) if delays else None,
    )
    return metrics


# -- forecaster -------------------------------------------------------------------------------------
def hourly(home: sp.Home) -> tuple[np.ndarray, np.ndarray]:
    """Return the hourly means and the start time of each hour."""
    per_hour = 3600 // sp.STEP
    means = home.watts[: len(home.watts) // per_hour * per_hour].reshape(-1, per_hour).mean(axis=1)
    return means, home.start + 3600 * np.arange(len(means))


def forecast_rows(home: sp.Home) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return feature vectors (24 raw + time_of_day + day_of_week), the next hour's mean, and the naive guesses."""
    means, starts = hourly(home)
    windows = sliding_window_view(means, HOURS)[:-1]
    ends = starts[HOURS:]  # the end of each window is the start of the hour to predict
    target = means[HOURS:]
    vectors = np.hstack([windows, tod(ends), dow(ends)]).astype(np.float32)
    naive = np.stack([windows[:, -1], windows[:, 0]], axis=1)  # last hour; same hour yesterday
    return vectors, target, naive


def train_forecast(out: Path) -> dict[str, object]:
    """Train, export and evaluate the forecaster; return its metrics."""
    rows = [forecast_rows(sp.household(seed, 28)) for seed in TRAIN_SEEDS]
    x, y = np.vstack([r[0] for r in rows]), np.concatenate([r[1] for r in rows])
    model = GradientBoostingRegressor(n_estimators=150, max_depth=3, learning_rate=0.05, loss="absolute_error", random_state=0).fit(x, y)
    onx = to_onnx(model, x[:1], target_opset=OPSET)
    onx.graph.input[0].name, old_input = "features", onx.graph.input[0].name
    for node in onx.graph.node:
        node.input[:] = ["features" if name == old_input else name for name in node.input]
    old_output = onx.graph.output[0].name
    for node in onx.graph.node:
        node.output[:] = ["forecast" if name == old_output else name for name in node.output]
    onx.graph.output[0].name = "forecast"
    onx.doc_string = "Mean household power of the next hour in W. See MODEL_CARD.md."
    onnx.checker.check_model(onx)
    path = out / "forecast_power.onnx"
    onnx.save(onx, path)
    test = [forecast_rows(sp.household(seed, 28)) for seed in TEST_SEEDS]
    tx, ty = np.vstack([r[0] for r in test]), np.concatenate([r[1] for r in test])
    naive = np.vstack([r[2] for r in test])
    predicted = onnx_outputs(path, tx)
    return {
        "train_rows": len(x),
        "test_rows": len(tx),
        "mae": float(np.abs(predicted - ty).mean()),
        "mae_last_hour": float(np.abs(naive[:, 0] - ty).mean()),
        "mae_same_hour_yesterday": float(np.abs(naive[:, 1] - ty).mean()),
        "mean_target": float(ty.mean()),
    }


def demo_check(path: Path, days: int = 3) -> float:
    """Return alarms per day on the kitchen meters `hub run --demo` simulates (firmware/sim, a different generator)."""
    from firmware.sim import profiles

    alarms = 0
    seeds = (1, 6, 11)  # the kitchen nodes of a demo fleet
    for seed in seeds:
        loads = profiles.build("kitchen", seed)
        t = sp.EPOCH + np.arange(0, days * 86400, 5)  # the demo's 5 s telemetry
        watts = np.array([sum(load.watts(x) for load in loads) for x in t])
        watts *= 1 + 0.01 * np.random.default_rng(seed).normal(size=len(watts))
        home = sp.Home(seed, sp.EPOCH, watts.reshape(-1, 60 // 5).mean(axis=1), np.zeros(days * sp.PER_DAY, dtype=np.int8))
        alarms += alarm_episodes(onnx_outputs(path, anomaly_vectors(home)[0]) > 0)
    return alarms / (len(seeds) * days)


# -- checks and card --------------------------------------------------------------------------------
def check_against_hub(anomaly: Path, forecast: Path) -> None:
    """Fail unless the hub's own feature code builds exactly the vectors the models were trained on."""
    from datetime import UTC

    home = sp.household(999, 3)
    vectors, last, _ = anomaly_vectors(home)
    spec = FeatureSpec(("raw", "time_of_day"), WINDOW)
    i = 1234
    hub_vector = spec.vector([home.watts[last[i] - WINDOW + 1 : last[i] + 1]], home.start + sp.STEP * (last[i] + 1), UTC)
    assert np.allclose(hub_vector, vectors[i], atol=1e-4), "anomaly features differ from the hub's"
    f_vectors, _, _ = forecast_rows(home)
    means, starts = hourly(home)
    spec = FeatureSpec(("raw", "time_of_day", "day_of_week"), HOURS)
    hub_vector = spec.vector([means[10 : 10 + HOURS]], float(starts[10 + HOURS]), UTC)
    assert np.allclose(hub_vector, f_vectors[10], atol=1e-3), "forecast features differ from the hub's"
    for path in (anomaly, forecast):
        assert path.stat().st_size < 1_000_000, f"{path.name} is over 1 MB"


def main() -> None:
    """Train both models and write them with the card."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the models and MODEL_CARD.md")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    anomaly = train_anomaly(args.out)
    anomaly["demo_alarms_per_day"] = demo_check(args.out / "anomaly_power.onnx")
    print("anomaly:", {k: round(v, 4) if isinstance(v, float) else v for k, v in anomaly.items()})
    forecast = train_forecast(args.out)
    print("forecast:", {k: round(v, 2) if isinstance(v, float) else v for k, v in forecast.items()})
    check_against_hub(args.out / "anomaly_power.onnx", args.out / "forecast_power.onnx")
    sizes = {name: (args.out / f"{name}_power.onnx").stat().st_size for name in ("anomaly", "forecast")}
    settings = {
        "homes": (len(TRAIN_SEEDS), len(VALIDATION_SEEDS), len(TEST_SEEDS)),
        "duty_w": DUTY_W,
        "step_w": STEP_W,
        "target_false_alarm": TARGET_FALSE_ALARM,
    }
    (args.out / "MODEL_CARD.md").write_text(model_card.render(anomaly, forecast, sizes, settings))
    print(f"wrote {args.out} in {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    main()
