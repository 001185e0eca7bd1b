"""Input entities configured in YAML: input_boolean, input_number, input_select, input_text,
input_datetime, input_button and counter (timer lives in automations/timer.py).

Each keeps its state across restarts: the entity registry remembers it (unique_id = its
object_id) and the hub restores its last state before the integration sets it up; a
configured `initial` wins over the restored value, as in Home Assistant.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

import voluptuous as vol

from automations.config import InvalidConfig
from hub.core.entity import Entity
from hub.core.services import ServiceCall
from hub.core.states import STATE_OFF, STATE_ON, STATE_UNAVAILABLE, STATE_UNKNOWN, State
from hub.exceptions import ServiceValidationError

if TYPE_CHECKING:
    from hub.core.hub import Hub


class InputEntity(Entity):
    """Base: name/icon from config, restore of the last state, unique_id = object_id."""

    # Built for one hub, under an entity_id known from the start.
    hub: Hub
    entity_id: str
    # Each domain's services: name -> (schema of the call data, apply(entity, data)).
    SERVICES: ClassVar[dict[str, tuple[Mapping[Any, Any] | None, Callable[[Any, dict[str, Any]], object]]]]

    def __init__(self, hub: Hub, object_id: str, config: Mapping[str, Any]) -> None:
        self.hub = hub
        self.config = config or {}
        self.unique_id = object_id
        self.entity_id = f"{self.domain}.{object_id}"
        self.name = str(self.config.get("name") or object_id.replace("_", " "))
        self.icon = self.config.get("icon")
        self.setup()

    def setup(self) -> None:
        """Read the config (subclasses)."""

    def restore(self, state: State) -> None:
        """Take the value of a state saved before the restart (subclasses)."""

    async def added_to_hub(self) -> None:
        """Restore unless the config gives an initial value."""
        state = self.hub.states.get(self.entity_id)
        if state is not None and state.state not in (STATE_UNAVAILABLE, STATE_UNKNOWN) and self.config.get("initial") is None:
            try:
                self.restore(state)
            except (ValueError, TypeError):
                pass

    def changed(self, call: ServiceCall | None = None) -> None:
        """Write the new state with the call's context."""
        self.write_state(call.context if call is not None else None)


class InputBoolean(InputEntity):
    """input_boolean: on/off."""

    domain = "input_boolean"

    def setup(self) -> None:
        self.is_on = bool(self.config.get("initial", False))

    def state_value(self) -> Any:
        return self.is_on

    def state_attributes(self) -> dict[str, Any]:
        return {"editable": False, **super().state_attributes()}

    def restore(self, state: State) -> None:
        self.is_on = state.state == STATE_ON

    SERVICES = {
        "turn_on": (None, lambda e, d: setattr(e, "is_on", True)),
        "turn_off": (None, lambda e, d: setattr(e, "is_on", False)),
        "toggle": (None, lambda e, d: setattr(e, "is_on", not e.is_on)),
    }


class InputNumber(InputEntity):
    """input_number: a number between min and max, in steps."""

    domain = "input_number"

    def setup(self) -> None:
        c = self.config
        self.minimum = float(c.get("min", 0))
        self.maximum = float(c.get("max", 100))
        self.step = float(c.get("step", 1))
        if self.minimum >= self.maximum:
            raise InvalidConfig(f"max ({self.maximum}) must be greater than min ({self.minimum})", c, "max")
        self.value = float(c.get("initial", self.minimum))
        self.unit_of_measurement = c.get("unit_of_measurement")

    def state_value(self) -> Any:
        return self.value

    def state_attributes(self) -> dict[str, Any]:
        return {
            "initial": self.config.get("initial"),
            "editable": False,
            "min": self.minimum,
            "max": self.maximum,
            "step": self.step,
            "mode": self.config.get("mode", "slider"),
            **super().state_attributes(),
        }

    def restore(self, state: State) -> None:
        value = float(state.state)
        if self.minimum <= value <= self.maximum:
            self.value = value

    def set(self, value: float) -> None:
        """Set within range or refuse."""
        if not self.minimum <= value <= self.maximum:
            raise ServiceValidationError(f"Invalid value for {self.entity_id}: {value} (range {self.minimum} - {self.maximum})")
        self.value = value

    SERVICES = {
        "set_value": ({vol.Required("value"): vol.Coerce(float)}, lambda e, d: e.set(d["value"])),
        "increment": (None, lambda e, d: e.set(min(e.maximum, e.value + e.step))),
        "decrement": (None, lambda e, d: e.set(max(e.minimum, e.value - e.step))),
    }


class InputSelect(InputEntity):
    """input_select: one of a list of options."""

    domain = "input_select"

    def setup(self) -> None:
        options = [str(o) for o in self.config.get("options") or []]
        if not options:
            raise InvalidConfig("required key not provided: 'options'", self.config, "options")
        self.options = options
        self.current = str(self.config.get("initial", options[0]))

    def state_value(self) -> Any:
        return self.current

    def state_attributes(self) -> dict[str, Any]:
        return {"options": list(self.options), "editable": False, **super().state_attributes()}

    def restore(self, state: State) -> None:
        if state.state in self.options:
            self.current = state.state

    def select(self, option: str) -> None:
        """Select an existing option."""
        if option not in self.options:
            raise ServiceValidationError(f"Invalid option: {option} (possible options: {', '.join(self.options)})")
        self.current = option

    def move(self, offset: int, cycle: bool) -> None:
        """Select the next/previous option."""
        index = self.options.index(self.current) + offset
        if cycle:
            index %= len(self.options)
        self.current = self.options[max(0, min(len(self.options) - 1, index))]

    def set_options(self, options: list[str]) -> None:
        """Replace the options (the current one is kept when still there)."""
        self.options = [str(o) for o in options]
        if self.current not in self.options:
            self.current = self.options[0]

    SERVICES = {
        "select_option": ({vol.Required("option"): vol.Coerce(str)}, lambda e, d: e.select(d["option"])),
        "select_next": ({vol.Optional("cycle", default=True): bool}, lambda e, d: e.move(1, d["cycle"])),
        "select_previous": ({vol.Optional("cycle", default=True): bool}, lambda e, d: e.move(-1, d["cycle"])),
        "select_first": (None, lambda e, d: e.select(e.options[0])),
        "select_last": (None, lambda e, d: e.select(e.options[-1])),
        "set_options": ({vol.Required("options"): [vol.Coerce(str)]}, lambda e, d: e.set_options(d["options"])),
    }


class InputText(InputEntity):
    """input_text: text with a length range and an optional pattern."""

    domain = "input_text"

    def setup(self) -> None:
        self.min_length = int(self.config.get("min", 0))
        self.max_length = int(self.config.get("max", 100))
        self.pattern = self.config.get("pattern")
        self.value = str(self.config.get("initial", ""))

    def state_value(self) -> Any:
        return self.value

    def state_attributes(self) -> dict[str, Any]:
        return {
            "editable": False,
            "min": self.min_length,
            "max": self.max_length,
            "pattern": self.pattern,
            "mode": self.config.get("mode", "text"),
            **super().state_attributes(),
        }

    def restore(self, state: State) -> None:
        self.value = state.state

    def set(self, value: str) -> None:
        """Set text that fits the length and pattern."""
        if not self.min_length <= len(value) <= self.max_length or (self.pattern and not re.fullmatch(self.pattern, value)):
            raise ServiceValidationError(f"Invalid value for {self.entity_id}: {value!r}")
        self.value = value

    SERVICES = {"set_value": ({vol.Required("value"): vol.Coerce(str)}, lambda e, d: e.set(d["value"]))}


class InputDateTime(InputEntity):
    """input_datetime: a date, a time, or both."""

    domain = "input_datetime"

    def setup(self) -> None:
        self.has_date = bool(self.config.get("has_date", False))
        self.has_time = bool(self.config.get("has_time", False))
        if not (self.has_date or self.has_time):
            raise InvalidConfig("at least one of has_date or has_time is required", self.config)
        initial = self.config.get("initial")
        self.value = self._parse(str(initial)) if initial is not None else datetime(1970, 1, 1)

    def _parse(self, text: str) -> datetime:
        if self.has_date and not self.has_time:
            return datetime.strptime(text[:10], "%Y-%m-%d")
        if self.has_time and not self.has_date:
            with_seconds = text.count(":") == 2
            clock_time = datetime.strptime(text[-8:], "%H:%M:%S") if with_seconds else datetime.strptime(text[-5:], "%H:%M")
            return datetime.combine(datetime(1970, 1, 1).date(), clock_time.time())
        return datetime.fromisoformat(text).replace(tzinfo=None)

    def state_value(self) -> Any:
        if self.has_date and self.has_time:
            return self.value.strftime("%Y-%m-%d %H:%M:%S")
        return self.value.strftime("%Y-%m-%d") if self.has_date else self.value.strftime("%H:%M:%S")

    def state_attributes(self) -> dict[str, Any]:
        attrs: dict[str, Any] = {"has_date": self.has_date, "has_time": self.has_time, "editable": False}
        if self.has_date:
            attrs.update(year=self.value.year, month=self.value.month, day=self.value.day)
        if self.has_time:
            attrs.update(hour=self.value.hour, minute=self.value.minute, second=self.value.second)
        if self.has_date:
            attrs["timestamp"] = self.value.replace(tzinfo=self.hub.clock.time_zone).timestamp()
        else:
            attrs["timestamp"] = self.value.hour * 3600 + self.value.minute * 60 + self.value.second
        return {**attrs, **super().state_attributes()}

    def restore(self, state: State) -> None:
        self.value = self._parse(state.state)

    def set(self, data: Mapping[str, Any]) -> None:
        """set_datetime with date, time, datetime or timestamp."""
        if "timestamp" in data:
            self.value = datetime.fromtimestamp(float(data["timestamp"]), self.hub.clock.time_zone).replace(tzinfo=None)
        elif "datetime" in data:
            self.value = datetime.fromisoformat(str(data["datetime"])).replace(tzinfo=None)
        else:
            date = datetime.strptime(str(data["date"]), "%Y-%m-%d").date() if "date" in data else self.value.date()
            time = self._parse(str(data["time"])).time() if "time" in data else self.value.time()
            self.value = datetime.combine(date, time)

    SERVICES = {
        "set_datetime": (
            {vol.Optional("date"): str, vol.Optional("time"): str, vol.Optional("datetime"): str, vol.Optional("timestamp"): vol.Coerce(float)},
            lambda e, d: e.set(d),
        ),
    }


class InputButton(InputEntity):
    """input_button: its state is when it was last pressed."""

    domain = "input_button"

    def setup(self) -> None:
        self.pressed: str | None = None

    def state_value(self) -> Any:
        return self.pressed

    def restore(self, state: State) -> None:
        self.pressed = state.state

    SERVICES = {"press": (None, lambda e, d: setattr(e, "pressed", e.hub.clock.utcnow().isoformat()))}


class Counter(InputEntity):
    """counter: an integer with step, minimum and maximum."""

    domain = "counter"

    def setup(self) -> None:
        c = self.config
        self.initial = int(c.get("initial", 0))
        self.step = int(c.get("step", 1))
        self.minimum = c.get("minimum")
        self.maximum = c.get("maximum")
        self.value = self.initial

    async def added_to_hub(self) -> None:
        """Counters restore unless `restore: false`."""
        if self.config.get("restore", True):
            state = self.hub.states.get(self.entity_id)
            if state is not None and state.state.lstrip("-").isdigit():
                self.value = int(state.state)

    def state_value(self) -> Any:
        return self.value

    def state_attributes(self) -> dict[str, Any]:
        attrs = {"initial": self.initial, "step": self.step, "editable": False}
        if self.minimum is not None:
            attrs["minimum"] = self.minimum
        if self.maximum is not None:
            attrs["maximum"] = self.maximum
        return {**attrs, **super().state_attributes()}

    def set(self, value: int) -> None:
        """Set within minimum/maximum or refuse."""
        if (self.minimum is not None and value < self.minimum) or (self.maximum is not None and value > self.maximum):
            raise ServiceValidationError(f"Value {value} for {self.entity_id} exceeding the minimum or maximum")
        self.value = value

    SERVICES = {
        "increment": (None, lambda e, d: e.set(e.value + e.step)),
        "decrement": (None, lambda e, d: e.set(e.value - e.step)),
        "reset": (None, lambda e, d: e.set(e.initial)),
        "set_value": ({vol.Required("value"): vol.Coerce(int)}, lambda e, d: e.set(d["value"])),
    }


ENTITY_CLASSES: dict[str, type[InputEntity]] = {
    cls.domain: cls for cls in (InputBoolean, InputNumber, InputSelect, InputText, InputDateTime, InputButton, Counter)
}
__all__ = ["ENTITY_CLASSES", "STATE_OFF", "InputEntity"]
