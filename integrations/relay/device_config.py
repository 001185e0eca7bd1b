"""Typed device configuration: what a node declares, checks of a change, and its delivery as a command.

Protocol (our firmware: firmware/settings.py; any device may speak it):
  {root}devices/<node_id>/config/state  device -> hub, retained:
      {"declared": {key: {"type": int|float|bool|string|enum, "min", "max", "options", "max_length",
                          "unit", "description"}},
       "values": {key: value}, "applied": <id of the last config message applied>,
       "refused": <id>, "reason": <why>}            (the last two only after a refusal)
  {root}devices/<node_id>/config/set    hub -> device, retained, QoS 1: {"id": <command id>, "values": {...}}
A change is a command in relay_commands ("configure", parameters {"values": ...}) and goes
queued -> sent -> acknowledged (the broker took it) -> confirmed (the device's state names its id
as applied) or failed (the device refused it, with its reason) / timed_out / expired (the device
stayed offline past queue_ttl; the retained message still waits for it at the broker).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hub import payload_json
from hub.api import device_summary
from hub.core.context import Context
from hub.exceptions import HubError
from integrations.relay.command import ACKNOWLEDGED, CONFIRMED, EXPIRED, FAILED, SENT, TIMED_OUT, RelayCommand

if TYPE_CHECKING:
    from integrations.mqtt import Message
    from integrations.relay.manager import RelayManager

_LOGGER = logging.getLogger(__name__)
TYPES = ("int", "float", "bool", "string", "enum")
CONFIGURE = "configure"
MAX_DECLARED = 100


class ConfigRefused(HubError):
    """A configuration change the device's declaration does not allow (the message names the key)."""


def check_value(key: str, spec: dict[str, Any], value: Any) -> Any:
    """Return the value if it fits the declared spec, else raise ConfigRefused naming the key."""
    kind = spec.get("type")
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigRefused(f"'{key}' is a bool: give true or false, not {value!r}")
        return value
    if kind in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ConfigRefused(f"'{key}' is {'an int' if kind == 'int' else 'a float'}: give a number, not {value!r}")
        if kind == "int" and value != int(value):
            raise ConfigRefused(f"'{key}' is an int: give a whole number, not {value!r}")
        low, high = spec.get("min"), spec.get("max")
        if (isinstance(low, int | float) and value < low) or (isinstance(high, int | float) and value > high):
            raise ConfigRefused(f"'{key}' must be from {low} to {high}, not {value!r}")
        return int(value) if kind == "int" else value
    if not isinstance(value, str):
        raise ConfigRefused(f"'{key}' is {'an enum' if kind == 'enum' else 'a string'}: give text, not {value!r}")
    if kind == "enum" and value not in (spec.get("options") or ()):
        raise ConfigRefused(f"'{key}' must be one of {', '.join(map(str, spec.get('options') or ()))}, not {value!r}")
    max_length = spec.get("max_length")
    if isinstance(max_length, int) and len(value) > max_length:
        raise ConfigRefused(f"'{key}' must be at most {max_length} characters")
    return value


def check_entries(declared: dict[str, Any], entries: Any) -> dict[str, Any]:
    """Return {key: value} from the API's `entries` list, each checked against the declaration.

    Raises:
        ConfigRefused: not a list of {key, value[, type]}, an unknown key, a type or range the
            declaration does not allow.
    """
    if not isinstance(entries, list) or not entries:
        raise ConfigRefused("Expected {\"entries\": [{\"key\": ..., \"value\": ...}, ...]} with at least one entry")
    values: dict[str, Any] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str) or "value" not in entry:
            raise ConfigRefused(f"entries[{index}] must be an object with 'key' and 'value'")
        key = entry["key"]
        spec = declared.get(key)
        if spec is None:
            known = ", ".join(sorted(declared)) or "none"
            raise ConfigRefused(f"Unknown configuration key '{key}'; this device declares: {known}")
        if "type" in entry and entry["type"] != spec.get("type"):
            raise ConfigRefused(f"'{key}' is declared as {spec.get('type')}, not {entry['type']}")
        if key in values:
            raise ConfigRefused(f"'{key}' is given twice")
        values[key] = check_value(key, spec, entry["value"])
    return values


def _declaration(payload: Any) -> dict[str, Any] | None:
    if not isinstance(payload, dict) or not isinstance(payload.get("declared"), dict):
        return None
    declared = {k: v for k, v in payload["declared"].items() if isinstance(v, dict) and v.get("type") in TYPES}
    if len(declared) > MAX_DECLARED:
        return None
    return {"declared": declared, "values": payload.get("values") if isinstance(payload.get("values"), dict) else {},
            "applied": payload.get("applied"), "refused": payload.get("refused"), "reason": payload.get("reason")}


class DeviceConfigs:
    """The declarations nodes announce, and configuration commands in flight."""

    def __init__(self, manager: RelayManager, root: str = "") -> None:
        self.manager = manager
        self.root = root
        self.reported: dict[str, dict[str, Any]] = {}  # node_id -> its latest config/state
        self._pending: dict[str, tuple[RelayCommand, list[Callable[[], Any]]]] = {}
        self._undo: Callable[[], None] | None = None

    def start(self) -> None:
        """Listen to every node's config/state."""
        self._undo = self.manager.mqtt.subscribe(f"{self.root}devices/+/config/state", self._state, qos=1)

    def stop(self) -> None:
        """Stop listening; commands in flight fail."""
        if self._undo is not None:
            self._undo()
            self._undo = None
        for command, _ in list(self._pending.values()):
            self._finish(command, FAILED, "the hub is stopping")

    def node_id(self, device_id: str) -> str | None:
        """Return the MQTT node id of a device (its `mqtt` identifier), when it has one."""
        registry = self.manager.hub.device_registry
        device = registry.get(device_id) if registry is not None else None
        for domain, identifier in sorted(device.identifiers) if device is not None else ():
            if domain == "mqtt":
                return identifier
        return None

    def entries(self, node_id: str) -> list[dict[str, Any]]:
        """Return the node's declared keys with their current values, by key."""
        reported = self.reported.get(node_id) or {"declared": {}, "values": {}}
        return [{"key": key, "value": reported["values"].get(key), **spec} for key, spec in sorted(reported["declared"].items())]

    def _state(self, message: Message) -> None:
        node_id = message.topic[len(self.root):].split("/")[1]
        try:
            reported = _declaration(payload_json.loads(message.payload))
        except ValueError:
            reported = None
        if reported is None:
            _LOGGER.warning("Ignored %s: expected JSON {\"declared\": {key: {\"type\": int|float|bool|string|enum, ...}}, "
                            "\"values\": {...}, \"applied\": id}", message.topic)
            return
        self.reported[node_id] = reported
        for ident, status, reason in ((reported["applied"], CONFIRMED, None), (reported["refused"], FAILED, reported["reason"])):
            found = self._pending.get(ident) if isinstance(ident, str) else None
            if found is not None:
                command = found[0]
                if status == CONFIRMED:
                    command.confirmed = self.manager.clock.time()
                    command.new_state = json.dumps(reported["values"], sort_keys=True)
                self._finish(command, status, None if reason is None else f"the device refused it: {reason}")

    async def request(self, device_id: str, node_id: str, values: dict[str, Any], context: Context,
                      remote: str | None) -> RelayCommand:
        """Publish a checked change (retained) and follow it until the device confirms it."""
        manager = self.manager
        command = RelayCommand(f"{node_id}/config", device_id, CONFIGURE, None, context.user_id, context.id,
                               manager.clock.time(), parameters={"values": values})
        manager.audit(command, "accepted", remote)
        online = device_summary.online(device_summary.entity_views(manager.hub, device_id))
        wait = manager.defaults.timeout if online else manager.defaults.queue_ttl
        undo: list[Callable[[], Any]] = []
        self._pending[command.id] = (command, undo)
        manager.record(command)
        command.status, command.sent = SENT, manager.clock.time()
        manager.record(command)
        if online:
            reason = f"no confirmation from the device within {wait:g} s"
            undo.append(manager.clock.call_later(wait, lambda: self._finish(command, TIMED_OUT, reason)))
        else:
            command.expires = command.created + wait
            reason = f"the device stayed offline for {wait:g} s (queue_ttl); the broker keeps the change for it"
            undo.append(manager.clock.call_later(wait, lambda: self._finish(command, EXPIRED, reason)))
        payload = json.dumps({"id": command.id, "values": values})
        try:
            await manager.mqtt.publish(f"{self.root}devices/{node_id}/config/set", payload, qos=1, retain=True)
        except HubError as err:
            self._finish(command, FAILED, f"publishing failed: {err}")
            return command
        if command.status == SENT:
            command.status = ACKNOWLEDGED
            manager.record(command)
        return command

    def _finish(self, command: RelayCommand, status: str, reason: str | None = None) -> None:
        _, undo = self._pending.pop(command.id, (command, []))
        for cancel in undo:
            cancel()
        if command.done:
            return
        command.status, command.error = status, reason
        self.manager.record(command)
        if status != CONFIRMED:
            _LOGGER.warning("Configuration of %s %s: %s", command.entity_id, status, reason)
