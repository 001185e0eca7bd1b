"""Which MQTT switches are relays under command control, and their controllers."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from hub.api.rate_limit import ControlLimits, Rate
from hub.core.bus import EVENT_DEVICE_COMMAND, Event, callback
from hub.core.context import Context
from hub.core.runtime import HubKey
from hub.exceptions import HubError
from integrations.mqtt import MqttSwitch
from integrations.mqtt import api as mqtt_api
from integrations.relay.command import COMMANDS, RelayCommand
from integrations.relay.controller import RelayController, RelaySettings
from integrations.relay.device_config import DeviceConfigs
from integrations.relay.ota_commands import OtaRequests
from integrations.relay.store import CommandStore

if TYPE_CHECKING:
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)
FIRMWARE_MANUFACTURER = "powerhub"  # what our node firmware announces in its device block
_SETTING_KEYS = ("timeout", "queue_ttl", "min_on_time", "min_off_time", "max_toggles_per_minute")
RELAY: HubKey[RelayManager] = HubKey("relay")


def manager_of(hub: Hub) -> RelayManager | None:
    """Return the hub's relay manager (None when the relay integration is not set up)."""
    return hub.runtime.get(RELAY)


class RelayManager:
    """Adopt matching MQTT switches as they are discovered; find controllers by entity or device."""

    def __init__(self, hub: Hub, config: dict[str, Any], store: CommandStore) -> None:
        """Set up from the normalized `relay:` section.

        Raises:
            HubError: the mqtt integration is not set up (the manifest makes it a dependency).
        """
        mqtt = mqtt_api(hub)
        if mqtt is None:
            raise HubError("relay needs the mqtt integration: add `mqtt:` to configuration.yaml")
        self.hub = hub
        self.mqtt = mqtt
        self.clock = hub.clock
        self.store = store
        self.firmware_relays: bool = config["firmware_relays"]
        self.defaults = RelaySettings(**{key: config[key] for key in _SETTING_KEYS})
        self.by_entity_id = {s["entity_id"]: s for s in config["switches"] if "entity_id" in s}
        self.by_unique_id = {s["unique_id"]: s for s in config["switches"] if "unique_id" in s}
        self.controllers: dict[str, RelayController] = {}
        rates = config["rate_limit"]
        self.rate_limits = ControlLimits(
            Rate(rates["per_user"]["commands"], rates["per_user"]["seconds"]),
            Rate(rates["per_device"]["commands"], rates["per_device"]["seconds"]),
            lambda: self.clock.time(),
        )
        self.live: dict[str, RelayCommand] = {}  # commands not yet final, by id
        # The topic root of device topics ("" or e.g. "home1/"), when the MQTT API offers one.
        root = str(getattr(mqtt, "topic_root", "") or "")
        self.configs = DeviceConfigs(self, root)
        self.ota = OtaRequests(self, root)
        self._waiters: dict[str, list[asyncio.Future[RelayCommand]]] = {}
        self._undo: list[Any] = []
        hub.runtime[RELAY] = self

    def start(self) -> None:
        """Adopt the switches that exist now and every one discovered later; resend on reconnect."""
        self._undo.append(self.hub.bus.listen("state_changed", self._appeared, _switch_added_or_removed))
        self._undo.append(self.mqtt.on_connect(self.deliver_all))
        self.configs.start()
        self.ota.start()
        for entity in self.hub.entities.for_domain("switch"):
            self.consider(entity)

    def stop(self) -> None:
        """Release every switch."""
        for undo in self._undo:
            undo()
        self._undo.clear()
        self.configs.stop()
        self.ota.stop()
        for controller in list(self.controllers.values()):
            controller.detach("the hub is stopping")
        self.controllers.clear()
        self.hub.runtime.pop(RELAY)

    def consider(self, entity: Any) -> RelayController | None:
        """Adopt an entity when it is a relay this configuration covers; return its controller."""
        entity_id = entity.entity_id
        if entity_id is None or entity_id in self.controllers or not isinstance(entity, MqttSwitch):
            return self.controllers.get(entity_id) if entity_id else None
        own = self.by_entity_id.get(entity_id) or self.by_unique_id.get(entity.unique_id or "")
        from_firmware = self.firmware_relays and (entity.device_info or {}).get("manufacturer") == FIRMWARE_MANUFACTURER
        if own is None and not from_firmware:
            return None
        if entity.optimistic or not entity.state_topic:
            _LOGGER.warning("%s has no state topic: the relay integration needs the device's state echo", entity_id)
            return None
        settings = replace(self.defaults, **{k: v for k, v in (own or {}).items() if k in _SETTING_KEYS})
        controller = RelayController(self, entity, settings)
        controller.attach()
        self.controllers[entity_id] = controller
        _LOGGER.debug("Relay %s under command control (%s)", entity_id, settings)
        return controller

    def record(self, command: RelayCommand) -> None:
        """Persist a command's new status, tell the bus (EVENT_DEVICE_COMMAND), wake its waiters."""
        self.store.save(command)
        if command.done:
            self.live.pop(command.id, None)
            for future in self._waiters.pop(command.id, ()):
                if not future.done():
                    future.set_result(command)
        else:
            self.live[command.id] = command
        if command.announced != command.status:
            command.announced = command.status
            context = Context(user_id=command.user_id, id=command.context_id) if command.context_id else None
            self.hub.bus.fire(EVENT_DEVICE_COMMAND, {"device_id": command.device_id, "command": command.as_dict()},
                              context=context)

    def audit(self, command: RelayCommand, result: str, remote: str | None, reason: str | None = None) -> None:
        """Write a command (accepted, queued or refused) to the audit log with its user and context."""
        audit = getattr(self.hub.auth, "audit", None)
        if audit is None:
            return
        user = SimpleNamespace(id=command.user_id, name=None)
        action = "relay_command" if command.command in COMMANDS else "device_command"
        target = f"{command.entity_id} {command.command} command={command.id} context={command.context_id}"
        audit.record(user, action, target, result, remote, reason=reason)

    async def wait(self, command: RelayCommand, timeout: float) -> RelayCommand:
        """Return the command once it is final, or as it is after `timeout` seconds (real time)."""
        if command.done or timeout <= 0:
            return command
        future: asyncio.Future[RelayCommand] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(command.id, []).append(future)
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            return command
        finally:
            waiters = self._waiters.get(command.id)
            if waiters is not None and future in waiters:
                waiters.remove(future)
                if not waiters:
                    del self._waiters[command.id]

    def get(self, entity_id: str) -> RelayController | None:
        """Return the controller of a switch."""
        return self.controllers.get(entity_id)

    def for_device(self, device_id: str) -> list[RelayController]:
        """Return a device's relays, by name."""
        found = [c for c in self.controllers.values() if c.entity.device_id == device_id]
        return sorted(found, key=lambda c: c.name)

    def deliver_all(self) -> None:
        """Send every queued command whose device is reachable (after the broker came back)."""
        for controller in self.controllers.values():
            controller.deliver_queue()

    @callback
    def _appeared(self, event: Event) -> None:
        entity_id = event.data["entity_id"]
        if event.data["new_state"] is None:
            controller = self.controllers.pop(entity_id, None)
            if controller is not None:
                controller.detach()
            return
        entity = self.hub.entities.get(entity_id)
        if entity is not None:
            self.consider(entity)


@callback
def _switch_added_or_removed(event: Event) -> bool:
    data = event.data
    return (data["old_state"] is None or data["new_state"] is None) and data["entity_id"].startswith("switch.")
