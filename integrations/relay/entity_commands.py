"""Commands to a device's other entities (numbers, selects, buttons) with the relay's lifecycle.

A command goes through the entity's own service (number.set_value, select.select_option,
button.press), so it reaches the device exactly as an automation's would:
  queued        accepted; waits (up to queue_ttl) while the entity is unavailable
  sent          the service call started
  acknowledged  the service returned (for MQTT: the broker took the publish)
  confirmed     the device reported the asked-for state (a value, an option); a button has no
                state, so its press is confirmed by the broker's acknowledgement
  failed / timed_out / expired   the call raised / no echo within `timeout` / offline past queue_ttl
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hub.core.bus import EVENT_STATE_REPORTED, Event, callback
from hub.core.context import Context
from hub.core.states import STATE_UNAVAILABLE, State
from hub.exceptions import HubError, ServiceValidationError
from integrations.relay.command import ACKNOWLEDGED, CONFIRMED, EXPIRED, FAILED, SENT, TIMED_OUT, RelayCommand

if TYPE_CHECKING:
    from integrations.relay.manager import RelayManager

_LOGGER = logging.getLogger(__name__)

# command -> (entity domain, service, the parameter it takes or None)
ENTITY_COMMANDS: dict[str, tuple[str, str, str | None]] = {
    "set_value": ("number", "set_value", "value"),
    "select_option": ("select", "select_option", "option"),
    "press": ("button", "press", None),
    "reboot": ("button", "press", None),
}


def check_parameter(command: str, state: State | None, parameters: dict[str, Any]) -> Any:
    """Return the command's parameter, checked against what the entity declares.

    Raises:
        ServiceValidationError: the parameter is missing, of the wrong type, or out of range.
    """
    _, _, name = ENTITY_COMMANDS[command]
    if name is None:
        return None
    if name not in parameters:
        message = f"{command} needs parameters.{name}"
        raise ServiceValidationError(message)
    value = parameters[name]
    attributes = state.attributes if state is not None else {}
    if command == "set_value":
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            message = f"parameters.value must be a number, not {value!r}"
            raise ServiceValidationError(message)
        low, high = attributes.get("min"), attributes.get("max")
        if isinstance(low, int | float) and isinstance(high, int | float) and not low <= value <= high:
            message = f"parameters.value {value:g} is outside {low:g} - {high:g}"
            raise ServiceValidationError(message)
        return value
    options = list(attributes.get("options") or ())
    if not isinstance(value, str) or value not in options:
        message = f"parameters.option must be one of {', '.join(map(str, options))}; got {value!r}"
        raise ServiceValidationError(message)
    return value


def _echoes(command: RelayCommand, state: State) -> bool:
    wanted = (command.parameters or {}).get("value", (command.parameters or {}).get("option"))
    if command.command == "select_option":
        return state.state == wanted
    if not isinstance(wanted, int | float):
        return False
    try:
        return math.isclose(float(state.state), float(wanted), rel_tol=1e-6, abs_tol=1e-9)
    except (TypeError, ValueError):
        return False


class EntityCommand:
    """The life of one command to a number, select or button."""

    def __init__(self, manager: RelayManager, command: RelayCommand, remote: str | None) -> None:
        self.manager = manager
        self.command = command
        self.remote = remote
        self.domain, self.service, _ = ENTITY_COMMANDS[command.command]
        self._undo: list[Callable[[], Any]] = []
        self._expiry: Callable[[], Any] | None = None

    def start(self) -> None:
        """Send now when the entity is available, else wait for it (up to queue_ttl)."""
        cmd, hub = self.command, self.manager.hub
        self.manager.record(cmd)
        self._undo.append(hub.states.track(cmd.entity_id, self._state_changed))
        self._undo.append(hub.bus.listen(EVENT_STATE_REPORTED, self._state_reported, self._is_mine))
        if self._available():
            hub.create_task(self._send(), f"device command {cmd.id}")
            return
        ttl = self.manager.defaults.queue_ttl
        cmd.expires = cmd.created + ttl
        self._expiry = self.manager.clock.call_later(
            ttl, lambda: self._finish(EXPIRED, f"the device stayed offline for {ttl:g} s (queue_ttl)"))

    def _available(self) -> bool:
        state = self.manager.hub.states.get(self.command.entity_id)
        return state is not None and state.state != STATE_UNAVAILABLE and self.manager.mqtt.connected

    async def _send(self) -> None:
        cmd = self.command
        if cmd.status != "queued":
            return
        if self._expiry is not None:
            self._expiry()
            self._expiry = None
        cmd.status, cmd.sent = SENT, self.manager.clock.time()
        self.manager.record(cmd)
        timeout = self.manager.defaults.timeout
        reason = f"no confirmation from the device within {timeout:g} s"
        self._undo.append(self.manager.clock.call_later(timeout, lambda: self._finish(TIMED_OUT, reason)))
        data = {k: v for k, v in (cmd.parameters or {}).items() if k in ("value", "option")}
        context = Context(user_id=cmd.user_id, id=cmd.context_id)
        try:
            await self.manager.hub.services.call(self.domain, self.service, data, target={"entity_id": cmd.entity_id}, context=context)
        except HubError as err:
            self._finish(FAILED, f"{self.domain}.{self.service} failed: {err}")
            return
        if cmd.done:
            return
        if self.domain == "button":
            cmd.confirmed = self.manager.clock.time()
            self._finish(CONFIRMED)
            return
        cmd.status = ACKNOWLEDGED  # an echo that beat the broker's acknowledgement confirmed it already
        self.manager.record(cmd)

    @callback
    def _is_mine(self, event: Event) -> bool:
        return bool(event.data.get("entity_id") == self.command.entity_id)

    @callback
    def _state_reported(self, event: Event) -> None:
        self._reported(event.data.get("new_state"))

    @callback
    def _state_changed(self, event: Event) -> None:
        new: State | None = event.data["new_state"]
        if self.command.status == "queued" and new is not None and self._available():
            self.manager.hub.create_task(self._send(), f"device command {self.command.id}")
            return
        self._reported(new)

    def _reported(self, state: State | None) -> None:
        if state is not None and self.command.status in (SENT, ACKNOWLEDGED) and _echoes(self.command, state):
            self._confirm(state)

    def _confirm(self, state: State) -> None:
        self.command.confirmed = self.manager.clock.time()
        self.command.new_state = state.state
        self._finish(CONFIRMED)

    def _finish(self, status: str, reason: str | None = None) -> None:
        cmd = self.command
        if cmd.done:
            return
        for undo in [*self._undo, *([self._expiry] if self._expiry else [])]:
            undo()
        self._undo.clear()
        self._expiry = None
        cmd.status, cmd.error = status, reason
        self.manager.record(cmd)
        if status != CONFIRMED:
            _LOGGER.warning("Device command %s %s for %s: %s", cmd.command, status, cmd.entity_id, reason)
