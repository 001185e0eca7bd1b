"""The `tag` trigger: an NFC tag or QR code was scanned (the `tag_scanned` event).

    triggers:
      - trigger: tag
        tag_id: A7-6B-90-5F       # one id or a list
        device_id: 0e19cd3cf2b311ea88f469a7512c307d   # optional: only scans by this reader
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from automations.config import InvalidConfig, ensure_list
from hub.core.bus import Event, callback

if TYPE_CHECKING:
    from hub.core.hub import Hub

EVENT_TAG_SCANNED = "tag_scanned"


def validate(config: Mapping[str, Any]) -> None:
    """tag_id is required."""
    if not ensure_list(config.get("tag_id")):
        raise InvalidConfig("required key not provided: 'tag_id'", config, "tag_id")


def attach(hub: Hub, config: Mapping[str, Any], action: Callable[..., None], info: dict[str, Any]) -> Callable[[], None]:
    """Fire for each scan of one of the tags (by one of the devices, when given)."""
    validate(config)
    tags = {str(tag) for tag in ensure_list(config["tag_id"])}
    devices = {str(device) for device in ensure_list(config.get("device_id"))}

    @callback
    def wanted(event: Event) -> bool:
        if str(event.data.get("tag_id")) not in tags:
            return False
        return not devices or str(event.data.get("device_id")) in devices

    @callback
    def scanned(event: Event) -> None:
        action({"event": event, "description": "Tag scanned"}, event.context)

    return hub.bus.listen(EVENT_TAG_SCANNED, scanned, event_filter=wanted)
