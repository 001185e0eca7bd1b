"""The `onnx:` section: a list of model sensors.

    onnx:
      - name: Kitchen anomaly
        model: anomaly_power.onnx          # config dir first, then the shipped models
        inputs: sensor.demo_001_power      # one entity or a list
        window: {span: "01:00:00", step: 60}   # or {samples: 60}
        features: [raw, time_of_day]       # raw, delta, time_of_day, day_of_week
        run: {every: 60}                   # or {on_change: true}
        output: anomaly_score              # the model output that becomes the state
        attributes: {}                     # attribute name -> model output
        threshold: {above: 0}              # adds binary_sensor.<name>_anomaly
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import voluptuous as vol

from hub.config.core_schema import entity_id
from hub.templating.timefuncs import parse_duration
from hub.util import slugify
from integrations.onnx.features import FEATURES, FeatureSpec

MAX_WINDOW = 100_000


def duration(value: Any) -> float:
    """Return seconds (> 0) from a number, "HH:MM:SS" or {hours:, minutes:, seconds:}."""
    if isinstance(value, bool):
        raise vol.Invalid(f"expected a duration, got {value!r}")
    seconds: float | None = None
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, dict):
        try:
            seconds = timedelta(**{str(k): float(v) for k, v in value.items()}).total_seconds()
        except (TypeError, ValueError) as err:
            raise vol.Invalid(f"expected a duration such as {{minutes: 5}}, got {dict(value)!r}") from err
    elif isinstance(value, str):
        try:
            seconds = float(value)
        except ValueError:
            parsed = parse_duration(value.strip())
            seconds = parsed.total_seconds() if parsed is not None else None
    if seconds is None:
        raise vol.Invalid(f"expected a duration (seconds, HH:MM:SS or a mapping), got {value!r}")
    if seconds <= 0:
        raise vol.Invalid(f"expected a positive duration, got {value!r}")
    return seconds


def _window(value: Any) -> dict[str, Any]:
    window: dict[str, Any] = vol.Schema(
        vol.Any(
            {vol.Required("samples"): vol.All(int, vol.Range(min=1, max=MAX_WINDOW))},
            {vol.Required("span"): duration, vol.Required("step"): duration},
            msg="expected {samples: N} or {span: <duration>, step: <duration>}",
        )
    )(value)
    if "span" in window:
        size = window["span"] / window["step"]
        if abs(size - round(size)) > 1e-9 or round(size) < 1:
            raise vol.Invalid(f"span ({window['span']:g} s) must be a whole number of steps ({window['step']:g} s)")
        if round(size) > MAX_WINDOW:
            raise vol.Invalid(f"span/step gives {round(size)} values, at most {MAX_WINDOW} are allowed")
        window["size"] = round(size)
    else:
        window["size"] = window["samples"]
    return window


def _run(value: Any) -> dict[str, Any]:
    run: dict[str, Any] = vol.Schema(
        vol.Any(
            {vol.Required("every"): duration},
            {vol.Required("on_change"): True},
            msg="expected {every: <duration>} or {on_change: true}",
        )
    )(value)
    return run


def _threshold(value: Any) -> dict[str, Any]:
    threshold: dict[str, Any] = vol.Schema(
        {
            vol.Optional("above"): vol.Coerce(float),
            vol.Optional("below"): vol.Coerce(float),
            vol.Optional("name"): str,
        }
    )(value)
    if "above" not in threshold and "below" not in threshold:
        raise vol.Invalid("expected 'above', 'below' or both")
    if "above" in threshold and "below" in threshold and threshold["above"] >= threshold["below"]:
        raise vol.Invalid("with both, 'above' must be lower than 'below': the sensor is on between them")
    return threshold


def _sensor(value: Any) -> dict[str, Any]:
    sensor: dict[str, Any] = vol.Schema(
        {
            vol.Required("name"): vol.All(str, vol.Length(min=1)),
            vol.Required("model"): vol.All(str, vol.Length(min=1)),
            vol.Required("inputs"): vol.All(lambda v: v if isinstance(v, list) else [v], [entity_id], vol.Length(min=1)),
            vol.Required("window"): _window,
            vol.Optional("features", default=["raw"]): vol.All(
                lambda v: v if isinstance(v, list) else [v], [vol.In(FEATURES)], vol.Length(min=1)
            ),
            vol.Optional("run"): _run,
            vol.Optional("output"): str,
            vol.Optional("attributes", default={}): {str: str},
            vol.Optional("threshold"): _threshold,
            vol.Optional("unique_id"): str,
            vol.Optional("unit_of_measurement"): str,
            vol.Optional("device_class"): str,
            vol.Optional("state_class"): str,
            vol.Optional("icon"): str,
            vol.Optional("precision", default=3): vol.All(int, vol.Range(min=0, max=12)),
        }
    )(value)
    try:
        spec = FeatureSpec(tuple(sensor["features"]), sensor["window"]["size"], len(sensor["inputs"]))
    except ValueError as err:
        raise vol.Invalid(str(err), path=["features"]) from err
    sensor["spec"] = spec
    # A meter repeats unchanged readings without a state change: time-based windows run on a timer.
    sensor.setdefault("run", {"every": sensor["window"]["step"]} if "step" in sensor["window"] else {"on_change": True})
    sensor.setdefault("unique_id", f"onnx_{slugify(sensor['name'])}")
    return sensor


def _unique_names(sensors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    for index, sensor in enumerate(sensors):
        if sensor["unique_id"] in seen:
            raise vol.Invalid(f"two model sensors share the unique_id {sensor['unique_id']!r}", path=[index, "name"])
        seen.add(sensor["unique_id"])
    return sensors


CONFIG_SCHEMA = vol.Schema(vol.All(lambda v: [] if v is None else v, [_sensor], _unique_names))
