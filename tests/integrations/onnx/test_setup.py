"""The onnx: section in a real hub: bad models do not stop it, predictions reach history, YAML errors name the line."""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from hub.config import check_configuration
from hub.core.bus import callback
from hub.recorder import get_recorder
from hub.recorder.history import history_during_period
from integrations.onnx import CONFIG_SCHEMA
from tests.hubs import write_config
from tests.integrations.onnx.conftest import FIXTURES, wait_state

CONFIG = """\
recorder:
  commit_interval: 0.05
onnx:
  - name: Power sum
    model: sum4.onnx
    inputs: sensor.power
    window: {samples: 4}
    output: y
  - name: Wrong shape
    model: sum10.onnx
    inputs: sensor.power
    window: {samples: 4}
  - name: Missing
    model: nowhere.onnx
    inputs: sensor.power
    window: {samples: 4}
"""


async def test_hub_runs_with_bad_models_and_records_predictions(start_hub: Any, tmp_path: Path) -> None:  # noqa: F811
    config = write_config(tmp_path / "config", CONFIG)
    shutil.copy(FIXTURES / "sum4.onnx", config / "sum4.onnx")
    shutil.copy(FIXTURES / "sum10.onnx", config / "sum10.onnx")
    runtime = await start_hub(config)
    hub = runtime.hub
    assert "expects shape [?, 10]" in hub.states.get("sensor.wrong_shape").attributes["error"]
    assert hub.states.get("sensor.missing").attributes["error"].startswith("Model file nowhere.onnx not found")
    began = time.time()
    for index, value in enumerate([1, 2, 3, 4]):
        hub.states.set("sensor.power", str(value), timestamp=began + index)
    await wait_state(hub, "sensor.power_sum", "10.0")
    hub.states.set("sensor.power", "5", timestamp=began + 4)
    await wait_state(hub, "sensor.power_sum", "14.0")
    recorder = get_recorder(hub)
    assert recorder is not None
    await recorder.flush()
    history = await history_during_period(
        recorder.backend, recorder.plan, ["sensor.power_sum"], began - 60, time.time() + 60, include_start_time_state=False
    )
    assert [float(s.state) for s in history["sensor.power_sum"]][-2:] == [10.0, 14.0]


def check(tmp_path: Path, section: str) -> list[str]:
    (tmp_path / "configuration.yaml").write_text(textwrap.dedent(section))
    _config, issues = check_configuration(tmp_path, {"onnx": CONFIG_SCHEMA}, {"onnx"})
    return [issue.format() for issue in issues]


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (
            """\
            onnx:
              - name: A
                model: a.onnx
                inputs: sensor.power
                window: {span: 100, step: 60}
            """,
            "configuration.yaml:5: onnx[0].window: span (100 s) must be a whole number of steps (60 s)",
        ),
        (
            """\
            onnx:
              - name: A
                model: a.onnx
                inputs: sensor.power
                window: {samples: 4}
                features: [raw, hour]
            """,
            "configuration.yaml:6: onnx[0].features[1]:",
        ),
        (
            """\
            onnx:
              - name: A
                model: a.onnx
                inputs: [sensor.power, not an entity]
                window: {samples: 4}
            """,
            "configuration.yaml:4: onnx[0].inputs[1]: expected an entity id",
        ),
        (
            """\
            onnx:
              - name: A
                model: a.onnx
                inputs: sensor.power
                window: {samples: 4}
                threshold: {above: 5, below: 1}
            """,
            "onnx[0].threshold: with both, 'above' must be lower than 'below'",
        ),
    ],
)
def test_configuration_errors_name_the_line(tmp_path: Path, section: str, expected: str) -> None:
    issues = check(tmp_path, section)
    assert len(issues) == 1 and expected in issues[0], issues


@pytest.mark.services
@pytest.mark.skipif(importlib.util.find_spec("integrations.mqtt") is None, reason="integrations/mqtt is not installed")
async def test_demo_kitchen_meter_feeds_a_model_sensor(start_hub: Any, tmp_path: Path, mosquitto_server: Any) -> None:  # noqa: F811
    """`hub run --demo` nodes -> MQTT discovery -> sensor.demo_001_power -> a model sensor over it."""
    from hub.demo import start_demo

    config = write_config(
        tmp_path / "config",
        f"""\
        mqtt:
          broker: {mosquitto_server.url}
          discovery_prefix: onnx_{int(time.time() * 1000)}
        onnx:
          - name: Demo sum
            model: sum4.onnx
            inputs: sensor.demo_001_power
            window: {{samples: 4}}
            output: y
        """,
    )
    shutil.copy(FIXTURES / "sum4.onnx", config / "sum4.onnx")
    runtime = await start_hub(config)
    stop_demo = await start_demo(runtime.hub, nodes=1, interval=0.2)
    try:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()

        @callback
        def predicted(event: Any) -> None:
            new = event.data["new_state"]
            if new is not None and new.state != "unavailable" and not future.done():
                future.set_result(float(new.state))

        untrack = runtime.hub.states.track("sensor.demo_sum", predicted)
        value = await asyncio.wait_for(future, 20)
        untrack()
        assert value > 0  # four kitchen readings summed: the standby load alone is tens of watts
    finally:
        await stop_demo()
