"""`tag:`: NFC tags and QR codes, one `tag.<name>` entity each, from the `tag_scanned` events.

    tag:
      tags:                       # optional: names for known tags
        A7-6B-90-5F: {name: Front door}

Whoever reads a tag fires `tag_scanned` with `tag_id` (and `device_id` of the reader): an MQTT
tag scanner announced by discovery (`<prefix>/tag/.../config`, as ESPHome and Tasmota do), a
client through the API, or `scan_tag(hub, ...)`. This integration keeps one entity per tag,
whose state is when it was last scanned (as Home Assistant's tag entities); the `tag`
automation trigger works with or without it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from automations.triggers.tag import EVENT_TAG_SCANNED
from hub import hookimpl
from hub.core.bus import Event
from hub.core.context import Context
from hub.core.entity import Entity
from hub.util import slugify

if TYPE_CHECKING:
    from hub.core.hub import Hub

CONFIG_SCHEMA = vol.Any(None, vol.Schema({vol.Optional("tags", default=dict): {vol.Coerce(str): vol.Schema({vol.Optional("name"): str})}}))


class Tag(Entity):
    """tag.<name>: when the tag was last scanned, and by which device."""

    domain = "tag"

    def __init__(self, tag_id: str, name: str | None) -> None:
        self.tag_id = tag_id
        self.name = name or f"Tag {tag_id}"
        self.unique_id = tag_id
        self.last_scanned: datetime | None = None
        self.last_device: str | None = None

    def state_value(self) -> Any:
        """The time of the last scan (ISO 8601), unknown before the first."""
        return self.last_scanned.isoformat(timespec="milliseconds") if self.last_scanned else None

    def state_attributes(self) -> dict[str, Any]:
        """tag_id and last_scanned_by_device_id."""
        return {"tag_id": self.tag_id, "last_scanned_by_device_id": self.last_device, **super().state_attributes()}


def scan_tag(hub: Hub, tag_id: str, device_id: str | None = None, context: Context | None = None) -> None:
    """Announce a scan: fire `tag_scanned` (the tag entity and tag triggers follow it)."""
    hub.bus.fire(EVENT_TAG_SCANNED, {"tag_id": tag_id, "device_id": device_id}, context=context)


@hookimpl
async def setup_integration(hub: Hub, config: Any) -> None:
    """Add the named tags, and a tag entity for each tag scanned from now on."""
    names = {tag_id: entry.get("name") for tag_id, entry in ((config or {}).get("tags") or {}).items()}
    tags: dict[str, Tag] = {}

    async def add(tag_id: str) -> Tag:
        tag = Tag(tag_id, names.get(tag_id))
        tag.entity_id = f"tag.{slugify(tag.name)}" if hub.entity_registry is None else None
        tags[tag_id] = tag
        await hub.entities.add(tag, "tag")
        return tag

    for tag_id in names:
        await add(tag_id)

    async def scanned(event: Event) -> None:
        tag_id = str(event.data.get("tag_id") or "")
        if not tag_id:
            return
        tag = tags.get(tag_id) or await add(tag_id)
        tag.last_scanned = event.time_fired
        tag.last_device = event.data.get("device_id")
        tag.write_state(event.context)

    hub.on_stop(hub.bus.listen(EVENT_TAG_SCANNED, scanned))
