"""MQTT tag scanners: `<prefix>/tag/[<node_id>/]<object_id>/config` discovery, as ESPHome and Tasmota send it.

    {"topic": "readers/hall/tag", "value_template": "{{ value_json.PN532.UID }}",
     "device": {"identifiers": ["hall-reader"], "name": "Hall reader"}}

Each message on the topic is a scan: the tag id (the payload, through value_template, spaces
trimmed) is announced with a `tag_scanned` event carrying the reader's device_id, which the tag
automation trigger and the tag integration follow (Home Assistant's MQTT tag scanner).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub.core.runtime import HubKey
from integrations.mqtt.schemas import DEVICE_SCHEMA, ORIGIN_SCHEMA, string, subscribe_topic, template
from integrations.mqtt.templates import MqttTemplate

if TYPE_CHECKING:
    from hub.core.hub import Hub
    from integrations.mqtt.subscriptions import Message

_LOGGER = logging.getLogger(__name__)
EVENT_TAG_SCANNED = "tag_scanned"

DISCOVERY_SCHEMA = vol.Schema(
    {
        vol.Required("topic"): subscribe_topic,
        vol.Optional("value_template"): template,
        vol.Required("device"): DEVICE_SCHEMA,
        vol.Optional("origin"): ORIGIN_SCHEMA,
        vol.Optional("platform"): string,
    },
    extra=vol.REMOVE_EXTRA,
)


@dataclass(slots=True)
class TagScanners:
    """The discovered tag scanners of one hub, by discovery id."""

    hub: Hub
    scanners: dict[str, tuple[dict[str, Any], Callable[[], None]]] = field(default_factory=dict)

    async def apply(self, discovery_id: str, config: dict[str, Any], discovery_topic: str) -> None:
        """Subscribe a scanner (again, when its config changed)."""
        current = self.scanners.get(discovery_id)
        if current is not None and current[0] == config:
            return
        self.remove(discovery_id, quiet=True)
        device_id = await self._device_id(config["device"])
        value_template = MqttTemplate(config["value_template"], self.hub) if config.get("value_template") else None

        def received(message: Message) -> None:
            payload: Any = message.payload.decode("utf-8", "replace")
            if value_template is not None:
                payload = value_template.render_value(payload, default="")
            tag_id = str(payload).strip()
            if tag_id:
                self.hub.bus.fire(EVENT_TAG_SCANNED, {"tag_id": tag_id, "device_id": device_id})

        from integrations.mqtt import api

        mqtt = api(self.hub)
        undo = mqtt.subscribe(config["topic"], received) if mqtt is not None else (lambda: None)
        self.scanners[discovery_id] = (config, undo)
        _LOGGER.debug("Tag scanner %s on %s from %s", discovery_id, config["topic"], discovery_topic)

    def remove(self, discovery_id: str, quiet: bool = False) -> None:
        """Stop a scanner (an empty discovery payload)."""
        found = self.scanners.pop(discovery_id, None)
        if found is not None:
            found[1]()
            if not quiet:
                _LOGGER.info("Removed tag scanner %s (empty discovery payload)", discovery_id)

    async def _device_id(self, device: dict[str, Any]) -> str | None:
        registry = self.hub.device_registry
        if registry is None:
            return None
        from integrations.mqtt.entity import _device_info

        entry = await registry.get_or_create(integration="mqtt", **(_device_info(device) or {}))
        return entry.id


TAG_SCANNERS: HubKey[TagScanners] = HubKey("mqtt.tag_scanners")


def tag_scanners(hub: Hub) -> TagScanners:
    """The hub's MQTT tag scanners (created on first use)."""
    return hub.runtime.setdefault(TAG_SCANNERS, lambda: TagScanners(hub))
