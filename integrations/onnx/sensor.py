"""The entities of a model sensor: its prediction, and an optional on/off threshold on it."""

from __future__ import annotations

from typing import Any

from hub.core.entity import BinarySensorEntity, SensorEntity


class PredictionSensor(SensorEntity):
    """A model's output as a sensor; unavailable, with the reason, when there is none."""

    def __init__(self, conf: dict[str, Any]) -> None:
        self.name = conf["name"]
        self.unique_id = conf["unique_id"]
        self.unit_of_measurement = conf.get("unit_of_measurement")
        self.device_class = conf.get("device_class")
        self.state_class = conf.get("state_class")
        self.icon = conf.get("icon") or "mdi:chart-bell-curve"
        self.precision = conf["precision"]
        self.available = False
        self.problem: dict[str, str] = {"reason": "starting"}
        self.extra_state_attributes = {}

    def set_value(self, value: float, attributes: dict[str, Any]) -> None:
        """Show a prediction."""
        self.native_value = round(value, self.precision)
        self.extra_state_attributes = attributes
        self.available = True
        self.problem = {}

    def set_unavailable(self, problem: dict[str, str]) -> None:
        """Show that there is no prediction, and why (`reason` for data, `error` for the model)."""
        self.available = False
        self.native_value = None
        self.problem = problem

    def state_attributes(self) -> dict[str, Any]:
        """Return the usual attributes, plus why the sensor is unavailable when it is."""
        attrs = super().state_attributes()
        if not self.available:
            attrs.update(self.problem)
        return attrs


class ThresholdBinarySensor(BinarySensorEntity):
    """On when the prediction is above `above`, below `below`, or between the two when both are set."""

    def __init__(self, conf: dict[str, Any]) -> None:
        threshold = conf["threshold"]
        self.above: float | None = threshold.get("above")
        self.below: float | None = threshold.get("below")
        self.name = threshold.get("name") or f"{conf['name']} anomaly"
        self.unique_id = f"{conf['unique_id']}_anomaly"
        self.device_class = "problem"
        self.available = False
        attrs: dict[str, Any] = {}
        if self.above is not None:
            attrs["above"] = self.above
        if self.below is not None:
            attrs["below"] = self.below
        self.extra_state_attributes = attrs

    def update(self, value: float | None) -> None:
        """Compare a new prediction (None: there is none) with the threshold."""
        if value is None:
            self.available = False
            self.is_on = None
            return
        self.available = True
        if self.above is not None and self.below is not None:
            self.is_on = self.above < value < self.below
        elif self.above is not None:
            self.is_on = value > self.above
        elif self.below is not None:
            self.is_on = value < self.below
