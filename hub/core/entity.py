"""The Entity base class and the entity domains the hub ships with.

An integration subclasses one of the domain classes, sets plain attributes, and calls
`write_state()` whenever its value changes. The domain services (switch.turn_on, ...) are
registered by hub.core.entities and call the methods defined here; turn_on/turn_off/toggle go
through `ToggleEntity.request()`, where another integration may put a `CommandPolicy`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from hub.core.context import Context
from hub.core.states import MAX_STATE_LENGTH, STATE_OFF, STATE_ON, STATE_UNAVAILABLE, STATE_UNKNOWN
from hub.exceptions import HubError, ServiceValidationError

if TYPE_CHECKING:
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)
DOMAINS = ("sensor", "binary_sensor", "switch", "number", "select", "text", "button")
LONG_STATE_LOG_INTERVAL = 60.0  # seconds between log lines about one entity's too-long states


class Entity:
    """Something with a state: a sensor reading, a relay, a setting.

    Subclasses set these attributes (plain values, no properties needed) and implement
    `state_value()`; `write_state()` publishes the result to the state machine.
    """

    domain: ClassVar[str] = ""

    entity_id: str | None = None
    unique_id: str | None = None
    name: str | None = None
    has_entity_name: bool = False
    icon: str | None = None
    device_class: str | None = None
    unit_of_measurement: str | None = None
    entity_category: str | None = None
    entity_picture: str | None = None
    supported_features: int | None = None
    assumed_state: bool = False
    available: bool = True
    force_update: bool = False
    device_info: dict[str, Any] | None = None
    extra_state_attributes: dict[str, Any] | None = None

    hub: Hub | None = None
    platform: str | None = None
    device_id: str | None = None
    registry_name: str | None = None
    registry_icon: str | None = None
    device_name: str | None = None
    context: Context | None = None

    def state_value(self) -> Any:
        """Return the current state value (None means unknown)."""
        return None

    def capability_attributes(self) -> dict[str, Any] | None:
        """Return attributes that describe what the entity can do (options, min, max)."""
        return None

    @property
    def friendly_name(self) -> str | None:
        """Return the name people see: the user's name, else device name + entity name."""
        if self.registry_name:
            return self.registry_name
        if self.has_entity_name and self.device_name:
            return f"{self.device_name} {self.name}" if self.name else self.device_name
        return self.name

    def state_attributes(self) -> dict[str, Any]:
        """Return every attribute the state carries."""
        attrs: dict[str, Any] = {}
        capabilities = self.capability_attributes()
        if capabilities:
            attrs.update(capabilities)
        if self.available and self.extra_state_attributes:
            attrs.update(self.extra_state_attributes)
        if self.unit_of_measurement is not None:
            attrs["unit_of_measurement"] = self.unit_of_measurement
        if self.device_class is not None:
            attrs["device_class"] = self.device_class
        icon = self.registry_icon or self.icon
        if icon is not None:
            attrs["icon"] = icon
        if self.entity_picture is not None:
            attrs["entity_picture"] = self.entity_picture
        if self.supported_features is not None:
            attrs["supported_features"] = self.supported_features
        if self.assumed_state:
            attrs["assumed_state"] = True
        name = self.friendly_name
        if name is not None:
            attrs["friendly_name"] = name
        return attrs

    def state_string(self) -> str:
        """Return the state as the string the state machine stores."""
        if not self.available:
            return STATE_UNAVAILABLE
        value = self.state_value()
        if value is None:
            return STATE_UNKNOWN
        if isinstance(value, bool):
            return STATE_ON if value else STATE_OFF
        if isinstance(value, datetime):
            return value.isoformat()
        text = str(value)
        if len(text) > MAX_STATE_LENGTH:
            # Home Assistant's rule: a state over 255 characters (a device sent a long text)
            # becomes unknown, with an error in the log, instead of failing the write.
            self._log_long_state(text)
            return STATE_UNKNOWN
        return text

    def _log_long_state(self, text: str) -> None:
        """Log a too-long state at most once a minute per entity: a device may send one per second."""
        now = time.monotonic()
        if now - getattr(self, "_long_state_logged", -LONG_STATE_LOG_INTERVAL) < LONG_STATE_LOG_INTERVAL:
            return
        self._long_state_logged = now
        _LOGGER.error("State %r... of %s is %d characters long, more than %d; falling back to %s",
                      text[:50], self.entity_id, len(text), MAX_STATE_LENGTH, STATE_UNKNOWN)

    def write_state(self, context: Context | None = None) -> None:
        """Publish the current state to the state machine."""
        if self.hub is None or self.entity_id is None:
            message = f"Entity {self!r} was not added to a hub yet"
            raise HubError(message)
        self.hub.states.set(
            self.entity_id,
            self.state_string(),
            self.state_attributes(),
            self.force_update,
            context or self.context,
        )
        if self.context is not None:
            self.context = None  # (not set when it was not: a lean instance __dict__)

    async def added_to_hub(self) -> None:
        """Run once the entity has its entity_id and before its first state is written."""

    async def will_remove_from_hub(self) -> None:
        """Run before the entity is removed: release subscriptions here."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.entity_id or self.name}>"


class SensorEntity(Entity):
    """A reading: power, energy, voltage, temperature..."""

    domain = "sensor"
    state_class: str | None = None
    native_value: Any = None
    options: list[str] | None = None
    suggested_display_precision: int | None = None
    last_reset: datetime | None = None

    def state_value(self) -> Any:
        """Return the reading."""
        return self.native_value

    def capability_attributes(self) -> dict[str, Any] | None:
        """Return state_class and the options of an enum sensor."""
        attrs: dict[str, Any] = {}
        if self.state_class is not None:
            attrs["state_class"] = self.state_class
        if self.options is not None:
            attrs["options"] = self.options
        if self.last_reset is not None:
            attrs["last_reset"] = self.last_reset.isoformat()
        return attrs or None


class BinarySensorEntity(Entity):
    """Something that is on or off: motion, a door, a device being online."""

    domain = "binary_sensor"
    is_on: bool | None = None

    def state_value(self) -> Any:
        """Return on/off, or None when unknown."""
        return None if self.is_on is None else bool(self.is_on)


ToggleCommand = Literal["on", "off", "toggle"]
"""A command to a toggle entity: what switch.turn_on, switch.turn_off and switch.toggle ask for."""


class CommandPolicy(Protocol):
    """Stands between the turn_on/turn_off/toggle services and one toggle entity's device.

    Another integration (relay, for confirmed commands) attaches a policy to an entity it does
    not own with `entity.use_command_policy(policy)`; from then on the services hand every
    command to `policy.command(...)` instead of the entity, and the entity tells the policy
    each state its device reports. The policy decides when, and whether, the command reaches
    the device, and sends it with `entity.send(...)`, which bypasses the policy.
    """

    async def command(self, entity: ToggleEntity, command: ToggleCommand, context: Context | None, data: dict[str, Any]) -> None:
        """Handle one command for entity, instead of the entity.

        Args:
            entity: the entity the service call targets.
            command: "on", "off" or "toggle".
            context: the service call's context (who asked, and why).
            data: the service data besides the target (e.g. brightness for a light).

        Raises:
            HubError: the command is refused; the service call fails with it
                (ServiceValidationError for a refusal the caller can act on).
        """

    def reported(self, entity: ToggleEntity, is_on: bool) -> None:
        """Learn the state entity's device reported: every report, also one that repeats the state.

        Called inline (it must not block) before the report is written to the state machine,
        so a repeated report, which changes no state and fires no state_changed, is seen too.
        """


class ToggleEntity(Entity):
    """An entity that can be turned on and off.

    An integration implements `turn_on` and `turn_off` (and `toggle` if its device has one):
    they send the command to the device. The services call `request()`, which goes through the
    entity's command policy when another integration attached one (see CommandPolicy); an
    integration whose device reports its state calls `device_reported()` for each report.
    """

    is_on: bool | None = None
    command_policy: CommandPolicy | None = None
    """The policy commands go through (set with use_command_policy), or None."""

    def state_value(self) -> Any:
        """Return on/off, or None when unknown."""
        return None if self.is_on is None else bool(self.is_on)

    async def turn_on(self, **kwargs: Any) -> None:
        """Turn the entity on."""
        raise NotImplementedError

    async def turn_off(self, **kwargs: Any) -> None:
        """Turn the entity off."""
        raise NotImplementedError

    async def toggle(self, **kwargs: Any) -> None:
        """Turn the entity off when it is on, otherwise on."""
        if self.is_on:
            await self.turn_off(**kwargs)
        else:
            await self.turn_on(**kwargs)

    async def request(self, command: ToggleCommand, context: Context | None = None, /, **data: Any) -> None:
        """Carry out a command (what the services call): through the command policy if one is set.

        Args:
            command: "on", "off" or "toggle".
            context: why (the service call's context).
            data: the service data besides the target.
        """
        policy = self.command_policy
        if policy is None:
            await self.send(command, **data)
        else:
            await policy.command(self, command, context, data)

    async def send(self, command: ToggleCommand, /, **data: Any) -> None:
        """Send a command to the device now, bypassing the command policy (the policy's way out)."""
        if command == "on":
            await self.turn_on(**data)
        elif command == "off":
            await self.turn_off(**data)
        else:
            await self.toggle(**data)

    def use_command_policy(self, policy: CommandPolicy) -> Callable[[], None]:
        """Route the entity's commands through policy; return the undo.

        Raises:
            HubError: another policy is attached already (one owner decides per entity).
        """
        if self.command_policy is not None:
            message = f"{self.entity_id} already has a command policy ({self.command_policy!r})"
            raise HubError(message)
        self.command_policy = policy

        def release() -> None:
            if self.command_policy is policy:
                self.command_policy = None

        return release

    def device_reported(self) -> None:
        """Tell the command policy the state the device just reported (`is_on`).

        The integration calls it for every state report from the device (after setting
        `is_on`, before `write_state()`); an unknown state (None) is not passed on.
        """
        policy = self.command_policy
        if policy is not None and self.is_on is not None:
            policy.reported(self, bool(self.is_on))


class SwitchEntity(ToggleEntity):
    """A relay or a smart plug."""

    domain = "switch"


class NumberEntity(Entity):
    """A numeric setting with a range and a step."""

    domain = "number"
    native_value: float | None = None
    native_min_value: float = 0.0
    native_max_value: float = 100.0
    native_step: float = 1.0
    mode: str = "auto"

    def state_value(self) -> Any:
        """Return the value."""
        return self.native_value

    def capability_attributes(self) -> dict[str, Any] | None:
        """Return min, max, step and mode."""
        return {
            "min": self.native_min_value,
            "max": self.native_max_value,
            "step": self.native_step,
            "mode": self.mode,
        }

    def check_value(self, value: float) -> float:
        """Return value if it lies in the range, else raise ServiceValidationError."""
        if not self.native_min_value <= value <= self.native_max_value:
            message = (
                f"Value {value} for {self.entity_id} is outside valid range "
                f"{self.native_min_value} - {self.native_max_value}"
            )
            raise ServiceValidationError(message)
        return value

    async def set_value(self, value: float) -> None:
        """Set a new value."""
        raise NotImplementedError


class SelectEntity(Entity):
    """A choice among options."""

    domain = "select"
    options: list[str] = []
    current_option: str | None = None

    def state_value(self) -> Any:
        """Return the selected option."""
        return self.current_option

    def capability_attributes(self) -> dict[str, Any] | None:
        """Return the options."""
        return {"options": list(self.options)}

    def check_option(self, option: str) -> str:
        """Return option if it is one of the options, else raise ServiceValidationError."""
        if option not in self.options:
            message = f"Option {option} is not valid for {self.entity_id}: expected one of {', '.join(self.options)}"
            raise ServiceValidationError(message)
        return option

    async def select_option(self, option: str) -> None:
        """Select an option."""
        raise NotImplementedError


class TextEntity(Entity):
    """A text value with length limits and an optional pattern."""

    domain = "text"
    native_value: str | None = None
    native_min: int = 0
    native_max: int = 255
    pattern: str | None = None
    mode: str = "text"

    def state_value(self) -> Any:
        """Return the text."""
        return self.native_value

    def capability_attributes(self) -> dict[str, Any] | None:
        """Return min, max, pattern and mode."""
        return {
            "min": self.native_min,
            "max": self.native_max,
            "pattern": self.pattern,
            "mode": self.mode,
        }

    def check_value(self, value: str) -> str:
        """Return value if it fits the length limits and pattern, else raise."""
        if not self.native_min <= len(value) <= self.native_max:
            message = (
                f"Value {value} for {self.entity_id} is too short or too long: expected "
                f"{self.native_min} to {self.native_max} characters"
            )
            raise ServiceValidationError(message)
        if self.pattern and not re.fullmatch(self.pattern, value):
            message = f"Value {value} for {self.entity_id} doesn't match pattern {self.pattern}"
            raise ServiceValidationError(message)
        return value

    async def set_value(self, value: str) -> None:
        """Set a new text."""
        raise NotImplementedError


class ButtonEntity(Entity):
    """Something to press; its state is when it was last pressed."""

    domain = "button"
    last_pressed: datetime | None = None

    def state_value(self) -> Any:
        """Return when the button was last pressed."""
        return self.last_pressed

    async def press(self) -> None:
        """Press the button."""
        raise NotImplementedError

    async def pressed(self) -> None:
        """Press the button and record when: what the button.press service runs."""
        await self.press()
        self.last_pressed = self.hub.clock.utcnow() if self.hub is not None else datetime.now(UTC)
        self.write_state()
