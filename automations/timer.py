"""timer: idle / active / paused, on the hub's clock, firing timer.* events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import voluptuous as vol

from automations.inputs import InputEntity
from automations.timeutil import to_timedelta
from hub.core.states import State

IDLE, ACTIVE, PAUSED = "idle", "active", "paused"


def _hms(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class Timer(InputEntity):
    """A countdown that fires timer.finished when it reaches zero."""

    domain = "timer"

    def setup(self) -> None:
        self.duration = to_timedelta(self.config.get("duration", 0), node=self.config, key="duration")
        self.status = IDLE
        self.remaining = self.duration
        self.end: float | None = None
        self._cancel: Callable[[], None] | None = None

    def state_value(self) -> Any:
        return self.status

    def state_attributes(self) -> dict[str, Any]:
        attrs: dict[str, Any] = {"duration": _hms(self.duration.total_seconds()), "editable": False}
        if self.status != IDLE:
            attrs["remaining"] = _hms(self._left())
        if self.status == ACTIVE and self.end is not None:
            attrs["finishes_at"] = datetime.fromtimestamp(self.end, self.hub.clock.time_zone).isoformat()
        if self.config.get("restore"):
            attrs["restore"] = True
        return {**attrs, **super().state_attributes()}

    def _left(self) -> float:
        if self.status == ACTIVE and self.end is not None:
            return max(0.0, self.end - self.hub.clock.time())
        return self.remaining.total_seconds()

    async def added_to_hub(self) -> None:
        """With `restore: true` an active timer continues (or finishes if its end passed)."""
        state = self.hub.states.get(self.entity_id)
        if not self.config.get("restore") or state is None:
            return
        self.restore(state)

    def restore(self, state: State) -> None:
        if state.state == ACTIVE and state.attributes.get("finishes_at"):
            end = datetime.fromisoformat(state.attributes["finishes_at"]).timestamp()
            self._arm(end)
        elif state.state == PAUSED and state.attributes.get("remaining"):
            self.status = PAUSED
            self.remaining = to_timedelta(state.attributes["remaining"])

    def _arm(self, end: float) -> None:
        self._disarm()
        self.status = ACTIVE
        self.end = end
        self._cancel = self.hub.clock.call_at(end, self._finished)

    def _disarm(self) -> None:
        if self._cancel is not None:
            self._cancel()
            self._cancel = None

    def _event(self, name: str) -> None:
        moment = "finished_at" if name == "finished" else "at"
        self.hub.bus.fire(f"timer.{name}", {"entity_id": self.entity_id, moment: self.hub.clock.utcnow().isoformat()})

    def _finished(self) -> None:
        self._cancel = None
        self.status = IDLE
        self.end = None
        self.remaining = self.duration
        self.write_state()
        self._event("finished")

    def start(self, data: dict[str, Any]) -> None:
        """Start (or restart with a new duration, or resume when paused)."""
        clock = self.hub.clock
        if "duration" in data:
            self.remaining = to_timedelta(data["duration"])
            self.duration = self.remaining
        elif self.status == IDLE:
            self.remaining = self.duration
        event = "restarted" if self.status == ACTIVE else "started"
        self._arm(clock.time() + (self.remaining.total_seconds() if self.status != ACTIVE or "duration" in data else self.duration.total_seconds()))
        self._event(event)

    def pause(self) -> None:
        """Freeze the remaining time."""
        if self.status != ACTIVE:
            return
        self.remaining = timedelta(seconds=self._left())
        self._disarm()
        self.status = PAUSED
        self._event("paused")

    def cancel(self) -> None:
        """Back to idle without finishing."""
        self._disarm()
        self.status = IDLE
        self.remaining = self.duration
        self._event("cancelled")

    def finish(self) -> None:
        """Finish now."""
        if self.status != IDLE:
            self._disarm()
            self._finished()

    def change(self, data: dict[str, Any]) -> None:
        """Add (or subtract) time from an active timer."""
        delta = to_timedelta(data["duration"]).total_seconds()
        if self.status == ACTIVE and self.end is not None:
            self._arm(self.end + delta)
        elif self.status == PAUSED:
            self.remaining += timedelta(seconds=delta)

    async def will_remove_from_hub(self) -> None:
        """Stop the countdown."""
        self._disarm()

    SERVICES = {
        "start": ({vol.Optional("duration"): vol.Any(str, int, float, dict)}, lambda e, d: e.start(d)),
        "pause": (None, lambda e, d: e.pause()),
        "cancel": (None, lambda e, d: e.cancel()),
        "finish": (None, lambda e, d: e.finish()),
        "change": ({vol.Required("duration"): vol.Any(str, int, float, dict)}, lambda e, d: e.change(d)),
    }
