"""ONNX model sensors: a user's (or a shipped) model over recent readings, as entities.

    onnx:
      - name: Kitchen anomaly
        model: anomaly_power.onnx
        inputs: sensor.demo_001_power
        window: {span: "01:00:00", step: 60}
        features: [raw, time_of_day]
        output: anomaly_score
        threshold: {above: 0}

gives `sensor.kitchen_anomaly` (the model's output, recorded like any state) and
`binary_sensor.kitchen_anomaly_anomaly` for automations. See config.py for every option and
models/MODEL_CARD.md for the shipped models. A model that is missing or does not fit its
configuration is logged and leaves its sensor `unavailable` with an `error` attribute; the
hub runs on, and the file is loaded again when it changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub import hookimpl
from integrations.onnx.config import CONFIG_SCHEMA
from integrations.onnx.model import ModelError, OnnxModel
from integrations.onnx.runner import ModelRunner

if TYPE_CHECKING:
    from hub.core.hub import Hub

DOMAIN = "onnx"

__all__ = ["CONFIG_SCHEMA", "DOMAIN", "ModelError", "ModelRunner", "OnnxModel", "setup", "setup_integration"]


async def setup(hub: Hub, config: Any) -> list[ModelRunner]:
    """Start one runner per configured model sensor and return them.

    Args:
        hub: the hub.
        config: the `onnx:` section (validated here when it was not yet).

    Returns:
        The runners, in configuration order; they stop when the hub stops.
    """
    sensors = config if config and isinstance(config[0], dict) and "spec" in config[0] else CONFIG_SCHEMA(config)
    runners = [ModelRunner(hub, conf) for conf in sensors]
    for runner in runners:
        await runner.start()
        hub.on_stop(runner.stop)
    return runners


@hookimpl
async def setup_integration(hub: Hub, config: Any) -> None:
    """Set the model sensors of the `onnx:` section up."""
    await setup(hub, config)
