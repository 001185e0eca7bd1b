"""Model sensors: predictions from recent readings, `unavailable` (with why) whenever there is none."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from hub.core.clock import ManualClock
from hub.core.hub import Hub
from integrations.onnx import setup
from tests.integrations.onnx.conftest import T0, feed, sensor_conf


async def test_prediction_from_the_last_samples(hub: Hub) -> None:
    await setup(hub, [sensor_conf(attributes={"peak": "peak"}, unit_of_measurement="W", precision=1)])
    await feed(hub, "sensor.power", [10, 20, 30], T0)
    state = hub.states.get("sensor.power_sum")
    assert state is not None and state.state == "unavailable"
    assert state.attributes["reason"] == "collecting samples: 3 of 4"
    await feed(hub, "sensor.power", [40, 50], T0 + 180)
    state = hub.states.get("sensor.power_sum")
    assert state.state == "140.0"  # 20 + 30 + 40 + 50
    assert state.attributes["peak"] == 50.0
    assert state.attributes["model"] == "sum4.onnx"
    assert state.attributes["unit_of_measurement"] == "W"
    assert "reason" not in state.attributes and "error" not in state.attributes


async def test_unavailable_input_gives_unavailable_never_a_guess(hub: Hub) -> None:
    await setup(hub, [sensor_conf()])
    await feed(hub, "sensor.power", [1, 2, 3, 4], T0)
    assert hub.states.get("sensor.power_sum").state == "10.0"
    await feed(hub, "sensor.power", ["unavailable"], T0 + 240)
    state = hub.states.get("sensor.power_sum")
    assert state.state == "unavailable"
    assert state.attributes["reason"] == "sensor.power is unavailable"
    # The gap stays in the window until four real readings follow it.
    await feed(hub, "sensor.power", [5, 6, 7], T0 + 300)
    state = hub.states.get("sensor.power_sum")
    assert state.state == "unavailable" and state.attributes["reason"] == "an input was unavailable during the window"
    await feed(hub, "sensor.power", [8], T0 + 480)
    assert hub.states.get("sensor.power_sum").state == "26.0"


async def test_threshold_binary_sensor_above_and_between(hub: Hub) -> None:
    await setup(
        hub,
        [
            sensor_conf(threshold={"above": 100}),
            sensor_conf(name="Band", unique_id="band", threshold={"above": 5, "below": 20, "name": "In band"}),
        ],
    )
    assert hub.states.get("binary_sensor.power_sum_anomaly").state == "unavailable"
    await feed(hub, "sensor.power", [1, 2, 3, 4], T0)
    assert hub.states.get("binary_sensor.power_sum_anomaly").state == "off"
    assert hub.states.get("binary_sensor.in_band").state == "on"
    await feed(hub, "sensor.power", [100], T0 + 240)
    assert hub.states.get("binary_sensor.power_sum_anomaly").state == "on"
    assert hub.states.get("binary_sensor.power_sum_anomaly").attributes["device_class"] == "problem"
    assert hub.states.get("binary_sensor.in_band").state == "off"


async def test_time_span_window_runs_on_a_timer_through_a_flat_line(hub: Hub) -> None:
    """A meter stuck at one value sends no state changes; the sensor must still see time pass."""
    clock = ManualClock(T0)
    hub.clock = clock
    await setup(hub, [sensor_conf(window={"span": "00:04:00", "step": 60}, run={"every": 60})])
    hub.states.set("sensor.power", "100", timestamp=T0)
    await clock.advance(60 * 3 + 1)
    await hub.block_till_done()
    assert hub.states.get("sensor.power_sum").attributes["reason"] == "collecting samples: 3 of 4"
    await clock.advance(60)
    await hub.block_till_done()
    assert hub.states.get("sensor.power_sum").state == "400.0"
    # Half a minute at 220 W, then held: the bucket is the time-weighted mean.
    await clock.advance(29)
    hub.states.set("sensor.power", "220", timestamp=clock.time())
    await clock.advance(31)
    await hub.block_till_done()
    assert hub.states.get("sensor.power_sum").state == "460.0"  # 100 + 100 + 100 + 160


async def test_features_with_deltas_and_time(hub: Hub) -> None:
    # 2 raw + 1 delta + ... does not fit 4 wide; 2 raw + 1 delta + 2 time_of_day would be 5.
    await setup(hub, [sensor_conf(window={"samples": 2}, features=["raw", "delta"], model="sum4.onnx")])
    state = hub.states.get("sensor.power_sum")
    assert "[1, 3] (2 raw + 1 delta)" in state.attributes["error"]
    await setup(
        hub,
        [sensor_conf(name="Clock", unique_id="clock", window={"samples": 1}, features=["raw", "time_of_day", "day_of_week"], model="sum10.onnx")],
    )
    assert "[1, 5] (1 raw + 2 time_of_day + 2 day_of_week)" in hub.states.get("sensor.clock").attributes["error"]


async def test_float64_models_are_fed_float64(hub: Hub) -> None:
    await setup(hub, [sensor_conf(model="sum4_f64.onnx", precision=6)])
    await feed(hub, "sensor.power", [0.1, 0.2, 0.3, 1e-7], T0)
    assert hub.states.get("sensor.power_sum").state == "0.6"


async def test_missing_model_file_reports_and_recovers_when_it_appears(hub: Hub, tmp_path: Path) -> None:
    other = sensor_conf(name="Working", unique_id="working")
    await setup(hub, [sensor_conf(model="models/later.onnx"), other])
    state = hub.states.get("sensor.power_sum")
    assert state.state == "unavailable"
    assert state.attributes["error"].startswith("Model file later.onnx not found (looked for ")
    assert str(tmp_path / "models" / "later.onnx") in state.attributes["error"]
    await feed(hub, "sensor.power", [1, 2, 3, 4], T0)
    assert hub.states.get("sensor.working").state == "10.0"  # the hub and the other sensors run on
    assert hub.states.get("sensor.power_sum").attributes["error"].startswith("Model file later.onnx not found")
    (tmp_path / "models").mkdir()
    shutil.copy(tmp_path / "sum4.onnx", tmp_path / "models" / "later.onnx")
    await feed(hub, "sensor.power", [5], T0 + 240)
    state = hub.states.get("sensor.power_sum")
    assert state.state == "14.0" and "error" not in state.attributes


async def test_wrong_input_shape_names_the_file_and_both_shapes(hub: Hub, tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    await setup(hub, [sensor_conf(model="sum10.onnx")])
    error = hub.states.get("sensor.power_sum").attributes["error"]
    assert error == (
        f"Model {tmp_path / 'sum10.onnx'} input 'x' expects shape [?, 10] (tensor(float)), "
        "the configuration gives [1, 4] (4 raw)"
    )
    assert error in caplog.text
    await feed(hub, "sensor.power", [1, 2, 3, 4], T0)
    assert hub.states.get("sensor.power_sum").state == "unavailable"


async def test_unknown_output_and_broken_file(hub: Hub, tmp_path: Path) -> None:
    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    await setup(hub, [sensor_conf(output="score"), sensor_conf(name="Broken", unique_id="broken", model="broken.onnx")])
    assert hub.states.get("sensor.power_sum").attributes["error"].endswith("has no output 'score'; its outputs are y, peak")
    assert "is not a valid ONNX model" in hub.states.get("sensor.broken").attributes["error"]


async def test_model_is_reloaded_when_its_file_changes(hub: Hub, tmp_path: Path) -> None:
    runners = await setup(hub, [sensor_conf()])
    await feed(hub, "sensor.power", [1, 2, 3, 4], T0)
    assert hub.states.get("sensor.power_sum").state == "10.0"
    model = tmp_path / "sum4.onnx"
    before = model.stat().st_mtime_ns
    shutil.copy(tmp_path / "sum4_double.onnx", model)
    os.utime(model, ns=(before + 10**9, before + 10**9))  # a coarse file system may keep the old mtime
    await feed(hub, "sensor.power", [5], T0 + 240)
    assert hub.states.get("sensor.power_sum").state == "28.0"  # 2 x (2 + 3 + 4 + 5)
    assert runners[0].model.loads == 2
    # A broken replacement makes the sensor unavailable rather than keep the stale model.
    (model).write_bytes(b"garbage")
    os.utime(model, ns=(before + 2 * 10**9, before + 2 * 10**9))
    await feed(hub, "sensor.power", [6], T0 + 300)
    state = hub.states.get("sensor.power_sum")
    assert state.state == "unavailable" and "is not a valid ONNX model" in state.attributes["error"]


async def test_inference_runs_once_per_new_window(hub: Hub) -> None:
    runners = await setup(hub, [sensor_conf(window={"span": "00:04:00", "step": 60}, run={"on_change": True})])
    # Readings every 5 s: the model runs once per closed minute, not on every reading.
    await feed(hub, "sensor.power", [100 + i for i in range(12 * 6)], T0, step=5)
    assert runners[0].inferences == 2  # minutes 4 and 5 closed the windows [0..3] and [1..4]
    assert hub.states.get("sensor.power_sum").state == str(round(sum(100 + 12 * m + 5.5 for m in range(1, 5)), 3))
