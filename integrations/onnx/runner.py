"""One model sensor at work: collect its inputs' readings, run the model when due, publish the result."""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from hub.core.bus import Event, callback
from hub.core.clock import zone
from hub.core.states import STATE_UNAVAILABLE, STATE_UNKNOWN, State
from integrations.onnx.model import ModelError, OnnxModel, resolve
from integrations.onnx.sensor import PredictionSensor, ThresholdBinarySensor
from integrations.onnx.window import NAN, ResampledWindow, SampleWindow

if TYPE_CHECKING:
    from collections.abc import Callable

    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)
PLATFORM = "onnx"
# Run a hair after a step boundary so the bucket that just ended is closed.
_AFTER_BOUNDARY = 0.01


def _number(state: State | None) -> float:
    if state is None or state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
        return NAN
    try:
        value = float(state.state)
    except ValueError:
        return NAN
    return value if math.isfinite(value) else NAN


class ModelRunner:
    """Feed one model from its input entities and write its prediction entities.

    Args:
        hub: the hub.
        conf: one validated entry of the `onnx:` section.
    """

    def __init__(self, hub: Hub, conf: dict[str, Any]) -> None:
        self.hub = hub
        self.conf = conf
        self.inputs: list[str] = conf["inputs"]
        self.spec = conf["spec"]
        window = conf["window"]
        self.windows = {
            entity_id: ResampledWindow(window["size"], window["step"]) if "step" in window else SampleWindow(window["size"])
            for entity_id in self.inputs
        }
        path, searched = resolve(conf["model"], hub.config.config_dir)
        self.output: str | None = conf.get("output")
        wanted = ([self.output] if self.output else []) + list(conf["attributes"].values())
        self.model = OnnxModel(path, self.spec.length, self.spec.describe(), wanted, searched)
        self.sensor = PredictionSensor(conf)
        self.binary = ThresholdBinarySensor(conf) if "threshold" in conf else None
        self.clock = hub.clock
        self.time_zone = zone(hub.config.time_zone)
        self.inferences = 0
        self._done_version: tuple[int, ...] | None = None
        self._model_error: str | None = None
        self._busy = False
        self._next: float | None = None
        self._untrack: Callable[[], None] | None = None
        self._cancel_timer: Callable[[], None] | None = None

    async def start(self) -> None:
        """Add the entities, load the model (a bad one is reported, not raised), start collecting."""
        await self.hub.entities.add(self.sensor, PLATFORM)
        if self.binary is not None:
            # Automations (and the anomaly blueprint) find the score through this attribute.
            self.binary.extra_state_attributes = {**(self.binary.extra_state_attributes or {}), "sensor": self.sensor.entity_id}
            await self.hub.entities.add(self.binary, PLATFORM)
        try:
            # Reading and checking the file blocks; the hub's loop must not wait on the disk.
            await self.hub.run_in_executor(self.model.ensure_loaded)
        except ModelError as err:
            self._fail(str(err))
        for entity_id in self.inputs:
            state = self.hub.states.get(entity_id)
            if state is not None:
                self.windows[entity_id].add(state.last_updated_timestamp, _number(state))
        self._untrack = self.hub.states.track(self.inputs, self._on_state_changed)
        if "every" in self.conf["run"]:
            self._arm_timer()
        if self._model_error is None:
            collected = min(w.version for w in self.windows.values())
            self._unavailable({"reason": f"collecting samples: {collected} of {self.spec.size}"})

    def stop(self) -> None:
        """Stop collecting and running."""
        if self._untrack is not None:
            self._untrack()
            self._untrack = None
        if self._cancel_timer is not None:
            self._cancel_timer()
            self._cancel_timer = None

    @callback
    def _on_state_changed(self, event: Event) -> None:
        new_state: State | None = event.data["new_state"]
        entity_id = event.data["entity_id"]
        timestamp = new_state.last_updated_timestamp if new_state is not None else event.time_fired_timestamp
        window = self.windows.get(entity_id)
        if window is None:
            return
        window.add(timestamp, _number(new_state))
        if "on_change" in self.conf["run"]:
            self.request_run(timestamp)

    def _arm_timer(self) -> None:
        every = self.conf["run"]["every"]
        now = self.clock.time()
        due = (math.floor(now / every) + 1) * every + _AFTER_BOUNDARY
        self._cancel_timer = self.clock.call_at(due, self._on_timer)

    @callback
    def _on_timer(self) -> None:
        self._arm_timer()
        self.request_run(self.clock.time())

    def request_run(self, now: float) -> None:
        """Run the model for time `now` soon; runs never overlap, the newest request wins."""
        if self._busy:
            self._next = now
            return
        self._busy = True
        self.hub.create_task(self._run_queue(now), f"onnx {self.sensor.entity_id}")

    async def _run_queue(self, now: float) -> None:
        try:
            next_run: float | None = now
            while next_run is not None:
                self._next = None
                await self.run(next_run)
                next_run = self._next
        finally:
            self._busy = False

    async def run(self, now: float) -> None:
        """Bring the windows to `now`, and run the model when they hold new, complete data."""
        for window in self.windows.values():
            window.advance(now)
        for entity_id in self.inputs:
            state = self.hub.states.get(entity_id)
            if math.isnan(_number(state)):
                shown = "missing" if state is None else state.state
                self._unavailable({"reason": f"{entity_id} is {shown}"})
                return
        not_ready = [w for w in self.windows.values() if not w.ready()]
        if not_ready:
            collected = min(w.version for w in not_ready)
            self._unavailable({"reason": f"collecting samples: {collected} of {self.spec.size}"})
            return
        values = [self.windows[entity_id].values() for entity_id in self.inputs]
        if any(np.isnan(v).any() for v in values):
            self._unavailable({"reason": "an input was unavailable during the window"})
            return
        version = tuple(w.version for w in self.windows.values())
        if version == self._done_version:
            return
        end_time = max(w.end_time or 0.0 for w in self.windows.values())
        vector = self.spec.vector(values, end_time, self.time_zone)
        try:
            # Inference blocks for a while (and may reload the file): never on the event loop.
            outputs = await self.hub.run_in_executor(self.model.infer, vector)
        except ModelError as err:
            self._fail(str(err))
            return
        self.inferences += 1
        self._model_error = None
        self._done_version = version
        self._publish(outputs, end_time)

    def _publish(self, outputs: dict[str, Any], end_time: float) -> None:
        name = self.output or self.model.output_names[0]
        raw = outputs[name]
        value = raw[0] if isinstance(raw, list) and raw else raw
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            self._fail(f"Model {self.model.path} output {name!r} is not a finite number: {value!r}")
            return
        attributes: dict[str, Any] = {"model": self.model.path.name}
        for attribute, output in self.conf["attributes"].items():
            attributes[attribute] = outputs[output]
        attributes["window_end"] = datetime.fromtimestamp(end_time, UTC).isoformat()
        self.sensor.set_value(float(value), attributes)
        self.sensor.write_state()
        if self.binary is not None:
            self.binary.update(float(value))
            self.binary.write_state()

    def _fail(self, message: str) -> None:
        if self._model_error != message:
            _LOGGER.error("%s: %s", self.conf["name"], message)
        self._model_error = message
        self._unavailable({})

    def _unavailable(self, problem: dict[str, str]) -> None:
        self._done_version = None
        if self._model_error is not None:
            # A model that failed to load stays the headline while data is still being collected.
            problem = {"error": self._model_error, **problem}
        self.sensor.set_unavailable(problem)
        self.sensor.write_state()
        if self.binary is not None:
            self.binary.update(None)
            self.binary.write_state()
