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

Windows are filled from the recorder's history at start, so a sensor has a value as soon as
enough history exists. `onnx.forecast` rolls a forecasting model forward: each prediction
becomes the newest value of its window, giving the next `steps` values (as Home Assistant's
`weather.get_forecasts` answers: `{entity_id: {"forecast": [{"datetime", "value"}]}}`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub import hookimpl
from hub.core.runtime import HubKey
from hub.core.services import TARGET_KEYS, ServiceCall, SupportsResponse
from hub.exceptions import HubError
from hub.tenancy import limits
from hub.util import slugify
from integrations.onnx.config import CONFIG_SCHEMA
from integrations.onnx.model import ModelError, OnnxModel
from integrations.onnx.runner import ForecastError, ModelRunner

if TYPE_CHECKING:
    from hub.core.hub import Hub

DOMAIN = "onnx"
_LOGGER = logging.getLogger(__name__)
RUNNERS: HubKey[list[ModelRunner]] = HubKey("onnx")
MAX_FORECAST_STEPS = 24 * 31
FORECAST_SCHEMA = vol.Schema({
    vol.Optional("steps", default=24): vol.All(vol.Coerce(int), vol.Range(min=1, max=MAX_FORECAST_STEPS)),
    **{vol.Optional(key): object for key in TARGET_KEYS},
})

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
    if sensors:
        gate_models(hub)
    runners = [ModelRunner(hub, conf) for conf in sensors]
    for runner in runners:
        await runner.start()
        hub.on_stop(runner.stop)
    known = hub.runtime.setdefault(RUNNERS, list)
    known.extend(runners)
    if not hub.services.has_service(DOMAIN, "forecast"):
        _register_forecast(hub)
    from hub.recorder import get_recorder

    # The recorder may be set up after us: then hub_started fills the windows, once it is there.
    if get_recorder(hub) is not None or "recorder" not in hub.config.components or hub.is_running:
        for runner in runners:
            await runner.fill()
    return runners


def gate_models(hub: Hub) -> None:
    """Refuse model sensors in a home whose plan lacks the `models` feature, and tell its users.

    Raises:
        PlanLimitError: the plan does not include models; the message names the plan and the feature.
    """
    try:
        limits.require_feature(hub, "models")
    except limits.PlanLimitError as err:
        limits.notify(hub, err)
        raise


def _register_forecast(hub: Hub) -> None:
    async def forecast(call: ServiceCall) -> dict[str, Any]:
        runners = {r.sensor.entity_id: r for r in hub.runtime.get(RUNNERS) or []}
        targets = call.entity_ids or []
        if not targets:
            raise HubError("onnx.forecast: give the entity_id of a model sensor")
        out: dict[str, Any] = {}
        for entity_id in targets:
            runner = runners.get(entity_id)
            if runner is None:
                raise HubError(f"onnx.forecast: {entity_id} is not a model sensor")
            try:
                steps = await runner.forecast(call.data["steps"])
            except ForecastError as err:
                raise HubError(f"onnx.forecast: {entity_id}: {err}") from err
            out[entity_id] = {
                "step": runner.conf["window"]["step"],
                "unit_of_measurement": runner.sensor.unit_of_measurement,
                "forecast": [{"datetime": at, "value": value} for at, value in steps],
            }
        return out

    hub.services.register(
        DOMAIN, "forecast", forecast, FORECAST_SCHEMA, supports_response=SupportsResponse.ONLY
    )  # described in services.yaml next to this file


@hookimpl
def config_entity_ids(hub: Hub, config: Any) -> list[str]:
    """The model sensors, and the binary sensors of those with a threshold."""
    claims: list[str] = []
    for conf in config or []:
        if not isinstance(conf, Mapping) or not isinstance(conf.get("name"), str):
            continue
        claims.append(f"sensor.{slugify(conf['name'])}*")
        threshold = conf.get("threshold")
        if isinstance(threshold, Mapping):
            claims.append(f"binary_sensor.{slugify(str(threshold.get('name') or conf['name'] + ' anomaly'))}*")
    return claims


@hookimpl
async def setup_integration(hub: Hub, config: Any) -> None:
    """Set the model sensors of the `onnx:` section up (none when the home's plan lacks models)."""
    try:
        await setup(hub, config)
    except limits.PlanLimitError as err:
        # The home runs on without its model sensors; its users see why in a notification.
        _LOGGER.error("onnx: %s; no model sensor was set up", err)


@hookimpl
async def hub_started(hub: Hub) -> None:
    """Fill the windows that waited for the recorder from its history."""
    for runner in hub.runtime.get(RUNNERS) or []:
        if runner.waiting_for_history:
            await runner.fill()
