"""One model sensor at work: collect its inputs' readings, run the model when due, publish the result.

Its windows are filled from the recorder's history when it starts (once the hub has started,
so the recorder is there), and again when a device's offline buffer was backfilled into the
window's time: a sensor has a value as soon as enough history exists, and is `unavailable`
only while it really does not. Readings that arrive while history is read wait and follow it.
"""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from hub.core.bus import Event, callback
from hub.core.clock import zone
from hub.core.states import STATE_UNAVAILABLE, STATE_UNKNOWN, State
from hub.exceptions import HubError
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
# A window of N readings (no time span) is filled from at most this much history.
SAMPLE_LOOKBACK = 86400.0
# The event the telemetry_backfill integration fires for each batch a node uploaded.
EVENT_TELEMETRY_BACKFILLED = "telemetry_backfilled"
Window = ResampledWindow | SampleWindow


class ForecastError(HubError):
    """The model sensor cannot be rolled forward (yet); the message says why."""


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
        self.windows = self._new_windows()
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
        self._unlisten: Callable[[], None] | None = None
        # Live readings held back while history is read: (entity_id, timestamp, value).
        self._held: list[tuple[str, float, float]] | None = []
        # Done when the fill() under way is: a forecast asked meanwhile waits for it.
        self._filling: asyncio.Future[None] | None = None
        self._waiting_for_input = False

    def _new_windows(self) -> dict[str, Window]:
        window = self.conf["window"]
        return {
            entity_id: ResampledWindow(window["size"], window["step"]) if "step" in window else SampleWindow(window["size"])
            for entity_id in self.inputs
        }

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
        self._untrack = self.hub.states.track(self.inputs, self._on_state_changed)
        self._unlisten = self.hub.bus.listen(EVENT_TELEMETRY_BACKFILLED, self._on_backfilled)
        if "every" in self.conf["run"]:
            self._arm_timer()
        if self._model_error is None:
            self._unavailable({"reason": f"collecting samples: 0 of {self.spec.size}"})

    def stop(self) -> None:
        """Stop collecting and running."""
        if self._untrack is not None:
            self._untrack()
            self._untrack = None
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        if self._cancel_timer is not None:
            self._cancel_timer()
            self._cancel_timer = None

    @property
    def waiting_for_history(self) -> bool:
        """Return whether the windows still wait to be filled from history."""
        return self._held is not None

    async def forecast(self, steps: int) -> list[tuple[str, float]]:
        """Roll the model forward: return (start of the step as ISO time, prediction) for `steps` steps.

        The model is taken to predict the mean of its input over the step after its window (as
        forecast_power.onnx does): each prediction joins the window as its newest value, and
        the model runs again for the step after. Asked while the window is being refilled (a
        node's backfilled buffer), it answers once the refill is in.

        Raises:
            ForecastError: not one input with a time-span window, windows not full, or the model failed.
        """
        window_conf = self.conf["window"]
        if len(self.inputs) != 1 or "step" not in window_conf:
            raise ForecastError("only a model over one input with a time-span window can be rolled forward")
        if self._held is not None and self._filling is not None:
            # A refill (a node's backfilled buffer) is one short read: answering without the
            # model meanwhile would flip whoever asks (a budget's projection) to another method.
            await asyncio.shield(self._filling)
        if self._held is not None:
            raise ForecastError("its window is still being filled from history")
        window = self.windows[self.inputs[0]]
        window.advance(self.clock.time())
        if not window.ready():
            raise ForecastError(f"collecting samples: {window.version} of {self.spec.size}")
        values = window.values()
        if np.isnan(values).any():
            raise ForecastError("an input was unavailable during the window")
        step = float(window_conf["step"])
        end_time = window.end_time or self.clock.time()
        name = self.output or (self.model.output_names[0] if self.model.output_names else "")

        def roll() -> list[float]:
            out: list[float] = []
            current = values.copy()
            for index in range(steps):
                outputs = self.model.infer(self.spec.vector([current], end_time + index * step, self.time_zone))
                raw = outputs[name or next(iter(outputs))]
                value = float(raw[0] if isinstance(raw, list) else raw)
                if not math.isfinite(value):
                    raise ModelError(f"Model {self.model.path} output {name!r} is not a finite number: {value!r}")
                out.append(value)
                current = np.append(current[1:], value)
            return out

        try:
            # Many inferences in a row: never on the event loop.
            predictions = await self.hub.run_in_executor(roll)
        except ModelError as err:
            raise ForecastError(str(err)) from err
        return [(datetime.fromtimestamp(end_time + i * step, self.time_zone).isoformat(), value)
                for i, value in enumerate(predictions)]

    async def fill(self) -> int:
        """Fill the windows from history (what the recorder holds), then run; return the points read.

        Without a recorder the windows start from the inputs' present states. Readings that
        arrived meanwhile follow the history; the model runs at once when the windows are full.
        """
        filling = self._filling = asyncio.get_running_loop().create_future()
        try:
            return await self._fill()
        finally:
            filling.set_result(None)
            if self._filling is filling:
                self._filling = None

    async def _fill(self) -> int:
        from hub.recorder import get_recorder

        self._held = self._held if self._held is not None else []
        windows = self._new_windows()
        latest: dict[str, float] = {}
        read = 0
        recorder = get_recorder(self.hub)
        if recorder is not None:
            now = self.clock.time()
            window = self.conf["window"]
            lookback = window["span"] + window["step"] if "span" in window else SAMPLE_LOOKBACK
            try:
                await recorder.flush_pending()
                history = await recorder.backend.read_states(self.inputs, now - lookback, now + 1, include_start=True)
            except (HubError, OSError) as err:
                _LOGGER.warning("%s: history could not be read (%s); collecting live readings", self.conf["name"], err)
                history = {}
            for entity_id, samples in history.items():
                target = windows[entity_id]
                for ts, value, _text in samples[-self.spec.size:] if isinstance(target, SampleWindow) else samples:
                    target.add(ts, NAN if value is None or not math.isfinite(value) else value)
                    latest[entity_id] = ts
                    read += 1
        for entity_id in self.inputs:
            state = self.hub.states.get(entity_id)
            if state is not None and state.last_updated_timestamp > latest.get(entity_id, -math.inf):
                windows[entity_id].add(state.last_updated_timestamp, _number(state))
                latest[entity_id] = state.last_updated_timestamp
        for entity_id, ts, value in self._held:
            if ts > latest.get(entity_id, -math.inf):
                windows[entity_id].add(ts, value)
                latest[entity_id] = ts
        self.windows, self._held, self._done_version = windows, None, None
        if latest:
            self.request_run(max(self.clock.time(), *latest.values()))
        return read

    @callback
    def _on_backfilled(self, event: Event) -> None:
        """Fill again when a node's offline buffer reached history inside the window's time."""
        entities = set((event.data.get("entities") or {}).values())
        if not entities.intersection(self.inputs) or self._held is not None:
            return
        window = self.conf["window"]
        lookback = window["span"] + window["step"] if "span" in window else SAMPLE_LOOKBACK
        if float(event.data.get("last_ts") or 0.0) < self.clock.time() - lookback:
            return
        self._held = []
        self.hub.create_task(self.fill(), f"onnx {self.sensor.entity_id} refill")

    @callback
    def _on_state_changed(self, event: Event) -> None:
        new_state: State | None = event.data["new_state"]
        entity_id = event.data["entity_id"]
        timestamp = new_state.last_updated_timestamp if new_state is not None else event.time_fired_timestamp
        window = self.windows.get(entity_id)
        if window is None:
            return
        value = _number(new_state)
        if self._held is not None:
            self._held.append((entity_id, timestamp, value))
            return
        window.add(timestamp, value)
        if "on_change" in self.conf["run"] or (self._waiting_for_input and not math.isnan(value)):
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
        if self._held is not None:
            return  # history is being read; fill() runs the model when it is in
        for window in self.windows.values():
            window.advance(now)
        self._waiting_for_input = False
        for entity_id in self.inputs:
            state = self.hub.states.get(entity_id)
            if math.isnan(_number(state)):
                shown = "missing" if state is None else state.state
                self._waiting_for_input = True
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
