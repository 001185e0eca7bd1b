"""MQTT device triggers: `device_automation` discovery configs, and the `device` trigger of domain mqtt.

How Zigbee2MQTT and Tasmota buttons reach automations. A device announces each of its
triggers on `<prefix>/device_automation/[<node_id>/]<object_id>/config`:

    {"automation_type": "trigger", "topic": "zigbee2mqtt/remote/action", "payload": "arrow_left_click",
     "type": "action", "subtype": "arrow_left_click", "device": {"identifiers": ["zigbee2mqtt_0x90fd"]}}

and an automation uses it by its discovery id (`<node_id> <object_id>`), as Home Assistant's UI
writes it:

    triggers:
      - trigger: device
        domain: mqtt
        device_id: 5c4ad9b2...
        discovery_id: 0x90fd9ffffedf1266 action_arrow_left_click
        type: action
        subtype: arrow_left_click

The trigger fires when a message on the topic matches the payload (after value_template), with
the data of an `mqtt` trigger (`trigger.payload`, `trigger.topic` ...). An automation may attach
before the config is discovered (the hub starts automations first): it waits, and follows the
config when it is updated or removed. Without `discovery_id`, the device's trigger with that
type and subtype is used.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub.core.runtime import HubKey
from hub.exceptions import HubError
from integrations.mqtt.schemas import DEVICE_SCHEMA, ORIGIN_SCHEMA, string, subscribe_topic, template

if TYPE_CHECKING:
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)

DISCOVERY_SCHEMA = vol.Schema(
    {
        vol.Required("automation_type"): "trigger",
        vol.Required("topic"): subscribe_topic,
        vol.Required("type"): string,
        vol.Required("subtype"): string,
        vol.Required("device"): DEVICE_SCHEMA,
        vol.Optional("payload"): string,
        vol.Optional("qos", default=0): vol.All(vol.Coerce(int), vol.In((0, 1, 2))),
        vol.Optional("value_template"): template,
        vol.Optional("origin"): ORIGIN_SCHEMA,
        vol.Optional("platform"): string,
    },
    extra=vol.REMOVE_EXTRA,
)

TRIGGER_KEYS = ("device_id", "discovery_id", "type", "subtype")


def _mqtt_trigger_config(trigger: DeviceTrigger) -> dict[str, Any]:
    config: dict[str, Any] = {"topic": trigger.topic, "qos": trigger.qos, "encoding": "utf-8"}
    if trigger.payload is not None:
        config["payload"] = trigger.payload
    if trigger.value_template is not None:
        config["value_template"] = trigger.value_template
    return config


@dataclass(slots=True)
class Attachment:
    """One automation's use of a device trigger."""

    config: Mapping[str, Any]
    action: Callable[..., None]
    info: dict[str, Any]
    undo: Callable[[], None] | None = None


@dataclass(slots=True)
class DeviceTrigger:
    """A discovered trigger of a device."""

    discovery_id: str
    device_id: str | None
    type: str
    subtype: str
    topic: str
    payload: str | None
    qos: int
    value_template: str | None
    discovery_topic: str

    def as_trigger(self) -> dict[str, Any]:
        """The trigger config an automation uses (what device_automation/trigger/list returns)."""
        return {
            "platform": "device",
            "domain": "mqtt",
            "device_id": self.device_id,
            "discovery_id": self.discovery_id,
            "type": self.type,
            "subtype": self.subtype,
        }


@dataclass(slots=True)
class DeviceTriggers:
    """The discovered device triggers of one hub and the automations attached to them."""

    hub: Hub
    triggers: dict[str, DeviceTrigger] = field(default_factory=dict)
    attachments: list[Attachment] = field(default_factory=list)

    # ---- discovery ----

    async def apply(self, discovery_id: str, config: dict[str, Any], discovery_topic: str) -> None:
        """Add or update a trigger from a validated discovery config (the device registered too)."""
        device_id = await self._device_id(config["device"])
        trigger = DeviceTrigger(
            discovery_id,
            device_id,
            config["type"],
            config["subtype"],
            config["topic"],
            config.get("payload"),
            config["qos"],
            config.get("value_template"),
            discovery_topic,
        )
        if self.triggers.get(discovery_id) == trigger:
            return
        self.triggers[discovery_id] = trigger
        for attachment in self.attachments:
            self._subscribe(attachment)
        _LOGGER.debug("Device trigger %s (%s %s) from %s", discovery_id, trigger.type, trigger.subtype, discovery_topic)

    def remove(self, discovery_id: str) -> None:
        """Remove a trigger (an empty discovery payload): attached automations stop firing."""
        trigger = self.triggers.pop(discovery_id, None)
        if trigger is None:
            return
        for attachment in self.attachments:
            if self._matches(attachment.config, trigger):
                self._unsubscribe(attachment)
        _LOGGER.info("Removed device trigger %s (empty discovery payload)", discovery_id)

    async def _device_id(self, device: dict[str, Any]) -> str | None:
        registry = self.hub.device_registry
        if registry is None:
            return None
        from integrations.mqtt.entity import _device_info

        info = _device_info(device) or {}
        entry = await registry.get_or_create(integration="mqtt", **info)
        return entry.id

    def for_device(self, device_id: str) -> list[dict[str, Any]]:
        """The trigger configs of one device."""
        return [trigger.as_trigger() for trigger in self.triggers.values() if trigger.device_id == device_id]

    # ---- automations ----

    def attach(self, config: Mapping[str, Any], action: Callable[..., None], info: dict[str, Any]) -> Callable[[], None]:
        """Attach an automation's device trigger; it fires once (and while) the trigger is discovered."""
        attachment = Attachment(config, action, info)
        self.attachments.append(attachment)
        self._subscribe(attachment)

        def detach() -> None:
            self._unsubscribe(attachment)
            if attachment in self.attachments:
                self.attachments.remove(attachment)

        return detach

    def _matches(self, config: Mapping[str, Any], trigger: DeviceTrigger) -> bool:
        if config.get("discovery_id") is not None:
            return str(config["discovery_id"]) == trigger.discovery_id
        return (
            str(config.get("device_id")) == trigger.device_id
            and str(config.get("type")) == trigger.type
            and str(config.get("subtype")) == trigger.subtype
        )

    def _find(self, config: Mapping[str, Any]) -> DeviceTrigger | None:
        return next((trigger for trigger in self.triggers.values() if self._matches(config, trigger)), None)

    def _subscribe(self, attachment: Attachment) -> None:
        self._unsubscribe(attachment)
        trigger = self._find(attachment.config)
        if trigger is None:
            return
        from integrations.mqtt.trigger import attach as attach_mqtt

        description = f"mqtt topic {trigger.topic}"

        def fire(payload: dict[str, Any], context: Any = None) -> None:
            attachment.action({**payload, "platform": "mqtt", "description": description}, context)

        attachment.undo = attach_mqtt(self.hub, _mqtt_trigger_config(trigger), fire, {})

    @staticmethod
    def _unsubscribe(attachment: Attachment) -> None:
        if attachment.undo is not None:
            attachment.undo()
            attachment.undo = None


DEVICE_TRIGGERS: HubKey[DeviceTriggers] = HubKey("mqtt.device_triggers")


def device_triggers(hub: Hub) -> DeviceTriggers:
    """The hub's MQTT device triggers (created on first use)."""
    return hub.runtime.setdefault(DEVICE_TRIGGERS, lambda: DeviceTriggers(hub))


def validate_trigger(config: Mapping[str, Any]) -> None:
    """Check an automation's mqtt device trigger.

    Raises:
        HubError: neither discovery_id nor device_id with type and subtype is given.
    """
    if config.get("discovery_id") is None and not all(config.get(key) is not None for key in ("device_id", "type", "subtype")):
        message = "an mqtt device trigger needs discovery_id, or device_id with type and subtype"
        raise HubError(message)


def attach(hub: Hub, config: Mapping[str, Any], action: Callable[..., None], info: dict[str, Any]) -> Callable[[], None]:
    """The `device` trigger of domain mqtt (offered to automations as `device.mqtt`)."""
    validate_trigger(config)
    return device_triggers(hub).attach(config, action, info)
