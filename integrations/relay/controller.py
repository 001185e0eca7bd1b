"""One relay under command control: its offline queue, its commands in flight, and their timeouts.

The controller is the command policy (hub.core.entity.CommandPolicy) of an MQTT switch: the
switch.* services hand it every command, `request()` checks the safety limits, records the
command, and sends it through the switch (or queues it while the device is offline). The
switch's own state handling stays untouched, so its state changes only when the device echoes
one; the switch passes each echo to `reported()`, which confirms commands, and a timer times
them out otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hub.core.bus import Event, callback
from hub.core.context import Context
from hub.core.entity import ToggleCommand, ToggleEntity
from hub.core.states import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from hub.exceptions import HubError, ServiceValidationError
from integrations.relay.command import (
    ACKNOWLEDGED,
    CONFIRMED,
    EXPIRED,
    FAILED,
    QUEUED,
    SENT,
    TIMED_OUT,
    RelayCommand,
)
from integrations.relay.limits import SafetyLimits

if TYPE_CHECKING:
    from integrations.mqtt import MqttSwitch
    from integrations.relay.manager import RelayManager

_LOGGER = logging.getLogger(__name__)
EVENT_RELAY_COMMAND_FAILED = "relay_command_failed"


@dataclass(frozen=True, slots=True)
class RelaySettings:
    """What governs one relay (the `relay:` defaults with its own overrides applied)."""

    timeout: float = 5.0
    queue_ttl: float = 300.0
    min_on_time: float = 0.0
    min_off_time: float = 0.0
    max_toggles_per_minute: int = 0


class RelayController:
    """Command lifecycle for one adopted MQTT switch."""

    def __init__(self, manager: RelayManager, entity: MqttSwitch, settings: RelaySettings) -> None:
        self.manager = manager
        self.entity = entity
        self.entity_id: str = str(entity.entity_id)
        self.settings = settings
        self.limits = SafetyLimits(settings.min_on_time, settings.min_off_time, settings.max_toggles_per_minute)
        self.queue: list[RelayCommand] = []
        self.inflight: list[RelayCommand] = []
        self._timers: dict[str, Callable[[], None]] = {}
        self._release: Callable[[], None] | None = None
        self._untrack: Callable[[], None] | None = None
        self._delivering = False
        state = manager.hub.states.get(self.entity_id)
        # When the present state began: a restart keeps counting min_on/off_time from there.
        self.since: float | None = state.last_changed_timestamp if state and state.state in (STATE_ON, STATE_OFF) else None

    @property
    def name(self) -> str:
        """The relay's name: the topic word before `/set` (relay1), else the entity's object id."""
        parts = (self.entity.command_topic or "").split("/")
        if len(parts) >= 2 and parts[-1] == "set":
            return parts[-2]
        return self.entity_id.partition(".")[2]

    @property
    def online(self) -> bool:
        """Whether a command can be delivered now (device available, broker connected)."""
        # The switch's `available` follows its availability topics (it is set with each write,
        # and every change of availability writes the state).
        return bool(self.entity.available and self.manager.mqtt.connected)

    # ---- wiring ----

    def attach(self) -> None:
        """Become the switch's command policy; watch its state for the device's return.

        Raises:
            HubError: another integration already put a command policy on the switch.
        """
        self._release = self.entity.use_command_policy(self)
        self._untrack = self.manager.hub.states.track(self.entity_id, self._state_changed)

    def detach(self, reason: str = "the relay was removed") -> None:
        """Stop being the switch's command policy and end every open command."""
        if self._release is not None:
            self._release()
            self._release = None
        if self._untrack is not None:
            self._untrack()
            self._untrack = None
        for command in [*self.queue, *self.inflight]:
            self._finish(command, FAILED, reason)
        self.queue.clear()
        self.inflight.clear()

    # ---- commands ----

    async def command(self, entity: ToggleEntity, command: ToggleCommand, context: Context | None, data: dict[str, Any]) -> None:
        """Take a switch.turn_on/turn_off/toggle call (the CommandPolicy method) as a relay command."""
        await self.request(command, context)

    async def request(self, command: str, context: Context | None = None, remote: str | None = None) -> RelayCommand:
        """Accept a command: check the limits, then send it now or queue it for the device's return.

        Args:
            command: "on", "off" or "toggle".
            context: why (carries the user); a new one when omitted.
            remote: the client's address, for the audit log.

        Returns:
            The command, with status sent/acknowledged (or confirmed already) or queued.

        Raises:
            ServiceValidationError: an unknown command, or a safety limit refuses it now.
        """
        if command not in ("on", "off", "toggle"):
            message = f"Unknown relay command {command!r}: use on, off or toggle"
            raise ServiceValidationError(message)
        context = context or Context()
        clock = self.manager.clock
        now = clock.time()
        is_on = self.entity.is_on
        target = (not is_on) if command == "toggle" else command == "on"
        cmd = RelayCommand(
            self.entity_id, self.entity.device_id, command, target, context.user_id, context.id, now
        )
        try:
            self.limits.check(self.entity_id, target, self._effective_state(), self.since, now)
        except ServiceValidationError as err:
            cmd.status, cmd.error = FAILED, f"refused: {err}"
            self.manager.record(cmd)
            self._audit(cmd, "refused", remote)
            raise
        if is_on is None or target != is_on:
            self.limits.count(now)
        if self.online:
            self._audit(cmd, "sent", remote)
            await self._send(cmd)
            return cmd
        if self.settings.queue_ttl <= 0:
            self._audit(cmd, "failed", remote)
            self._finish(cmd, FAILED, "the device is offline (queue_ttl is 0)")
            return cmd
        cmd.expires = now + self.settings.queue_ttl
        self.queue.append(cmd)
        self.manager.record(cmd)
        self._timers[cmd.id] = clock.call_later(self.settings.queue_ttl, lambda: self._expire(cmd))
        self._audit(cmd, "queued", remote)
        _LOGGER.info("%s is offline: %s queued for %.0f s", self.entity_id, command, self.settings.queue_ttl)
        return cmd

    def _effective_state(self) -> bool | None:
        # The state the relay will be in once what is already in flight lands.
        if self.inflight:
            return self.inflight[-1].target
        if self.queue:
            return self.queue[-1].target
        return None if self.entity.is_on is None else bool(self.entity.is_on)

    async def _send(self, cmd: RelayCommand) -> None:
        clock = self.manager.clock
        cmd.status, cmd.sent = SENT, clock.time()
        self.inflight.append(cmd)
        self.manager.record(cmd)
        self._timers[cmd.id] = clock.call_later(self.settings.timeout, lambda: self._timed_out(cmd))
        try:
            await self.entity.send("on" if cmd.target else "off")
        except HubError as err:
            if cmd in self.inflight:
                self.inflight.remove(cmd)
            self._finish(cmd, FAILED, f"publishing failed: {err}")
            return
        if cmd.status == SENT:  # the echo may have beaten the broker's acknowledgement
            cmd.status = ACKNOWLEDGED
            self.manager.record(cmd)

    @callback
    def reported(self, entity: ToggleEntity, is_on: bool) -> None:
        """The device reported its state: confirm the oldest command in flight that asked for it."""
        now = self.manager.clock.time()
        state = self.manager.hub.states.get(self.entity_id)
        if state is None or state.state != (STATE_ON if is_on else STATE_OFF):
            self.since = now  # the write that follows changes the state
        for index, cmd in enumerate(self.inflight):
            if cmd.target == is_on:
                del self.inflight[index]
                cmd.confirmed = now
                cmd.new_state = STATE_ON if is_on else STATE_OFF
                self._finish(cmd, CONFIRMED)
                return
        for cmd in self.inflight:
            # Kept for the timeout's reason: the device may still be catching up (a node that
            # just came back announces its old state before it reads the command).
            cmd.error = f"the device reported {'on' if is_on else 'off'}"

    def _timed_out(self, cmd: RelayCommand) -> None:
        self._timers.pop(cmd.id, None)
        if cmd not in self.inflight:
            return
        self.inflight.remove(cmd)
        wanted = "on" if cmd.target else "off"
        if cmd.error:
            self._finish(cmd, FAILED, f"{cmd.error} instead of {wanted} within {self.settings.timeout:g} s")
        else:
            self._finish(cmd, TIMED_OUT, f"no confirmation from the device within {self.settings.timeout:g} s")

    def _expire(self, cmd: RelayCommand) -> None:
        self._timers.pop(cmd.id, None)
        if cmd in self.queue:
            self.queue.remove(cmd)
            self._finish(cmd, EXPIRED, f"the device stayed offline for {self.settings.queue_ttl:g} s (queue_ttl)")

    def _finish(self, cmd: RelayCommand, status: str, reason: str | None = None) -> None:
        cancel = self._timers.pop(cmd.id, None)
        if cancel is not None:
            cancel()
        cmd.status = status
        if reason is not None:
            cmd.error = reason
        self.manager.record(cmd)
        if status != CONFIRMED:
            _LOGGER.warning("Relay command %s %s for %s: %s", cmd.command, status, self.entity_id, reason)
            self.manager.hub.bus.fire(
                EVENT_RELAY_COMMAND_FAILED,
                {"entity_id": self.entity_id, "command": cmd.command, "reason": reason, "status": status, "command_id": cmd.id},
                context=Context(user_id=cmd.user_id, id=cmd.context_id) if cmd.context_id else None,
            )

    # ---- the device comes and goes ----

    @callback
    def _state_changed(self, event: Event) -> None:
        old, new = event.data["old_state"], event.data["new_state"]
        if new is None:
            return
        if (old is None or old.state == STATE_UNAVAILABLE) and new.state != STATE_UNAVAILABLE:
            self.deliver_queue()

    def deliver_queue(self) -> None:
        """Send what waited for the device, in order, now that it is back."""
        if self.queue and not self._delivering and self.online:
            self._delivering = True
            self.manager.hub.create_task(self._deliver(), f"relay queue {self.entity_id}")

    async def _deliver(self) -> None:
        try:
            while self.queue and self.online:
                cmd = self.queue.pop(0)
                cancel = self._timers.pop(cmd.id, None)
                if cancel is not None:
                    cancel()
                _LOGGER.info("%s is back: delivering queued %s", self.entity_id, cmd.command)
                await self._send(cmd)
        finally:
            self._delivering = False

    def _audit(self, cmd: RelayCommand, result: str, remote: str | None) -> None:
        self.manager.audit(cmd, result, remote)


__all__ = ["EVENT_RELAY_COMMAND_FAILED", "QUEUED", "RelayController", "RelaySettings"]
