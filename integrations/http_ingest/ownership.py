"""Which entities a device key may write: its own device's, nothing else, not too far back.

A key belongs to one device (its slug, e.g. `garden`). A measurement `temperature` of that
device is the entity registered as (sensor, http_ingest, `garden:temperature`), bound to the
device `(http_ingest, garden)` in the device registry; the first reading registers it as
`sensor.garden_temperature`, and a rename by the user is followed. A request is refused
whole, with 403 and a message naming the field, when it:

- names another device (`"device": "kitchen"` with the garden's key);
- would write an entity id that is already somebody else's: another integration's, the
  hub's own (`sensor.recorder_backlog`), another device's, or a state set by hand;
- carries a reading older than the key's backfill window (the device's buffer, 7 days
  unless set when the key was made).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from hub.exceptions import HubError
from hub.util import slugify
from integrations.http_ingest.keys import ApiKey
from integrations.http_ingest.payload import Measurement

if TYPE_CHECKING:
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)
PLATFORM = "http_ingest"


class Forbidden(HubError):
    """The key may not write this; the message says what and why (HTTP 403)."""


def unique_id(device: str, measurement: Measurement) -> str:
    """Return the registry's unique id of a device's measurement."""
    return f"{device}:{slugify(measurement.name, fallback='')}"


def check_window(key: ApiKey, measurements: list[Measurement], now: float | None = None) -> None:
    """Refuse readings older than the key's backfill window.

    Raises:
        Forbidden: naming the first reading that is too old.
    """
    now = time.time() if now is None else now
    oldest = now - key.backfill_days * 86400
    for m in measurements:
        if m.ts is not None and m.ts < oldest:
            when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(m.ts))
            message = (f"{m.where}.ts: {when} is older than the backfill window of device '{key.device}' "
                       f"({key.backfill_days:g} days); nothing was written")
            raise Forbidden(message)


def resolve(hub: Hub, key: ApiKey, device_named: str | None, measurements: list[Measurement]) -> list[str]:
    """Set each measurement's entity_id; return the ids that are new (to register).

    Raises:
        Forbidden: the body is for another device, or an entity id is somebody else's.
    """
    device = key.device or ""
    if device_named is not None and device_named != device:
        message = (f"device: this key ({key.prefix}...) belongs to device '{device}'; it may not write "
                   f"for device '{device_named}'")
        raise Forbidden(message)
    registry = hub.require_entity_registry()
    new: list[str] = []
    for m in measurements:
        existing = registry.get_entity_id(m.domain, PLATFORM, unique_id(device, m))
        if existing is not None:
            m.entity_id = existing
            continue
        entity_id = f"{m.domain}.{slugify(f'{device} {m.name}')}"
        owner = _owner(hub, entity_id)
        if owner is not None:
            message = (f"{m.where}: {entity_id} belongs to {owner}, not to device '{device}'; "
                       f"this key ({key.prefix}...) writes only that device's entities")
            raise Forbidden(message)
        m.entity_id = entity_id
        new.append(entity_id)
    return new


async def register(hub: Hub, key: ApiKey, measurements: list[Measurement], new: list[str]) -> None:
    """Put the device and its new entities in the registries, so they are the device's from now on."""
    if not new:
        return
    device = await hub.require_device_registry().get_or_create(
        integration=PLATFORM, identifiers=[(PLATFORM, key.device or "")], name=key.name,
    )
    registry = hub.require_entity_registry()
    for m in measurements:
        if m.entity_id not in new:
            continue
        entry = await registry.get_or_create(
            m.domain, PLATFORM, unique_id(key.device or "", m),
            suggested_object_id=m.entity_id.partition(".")[2], device_id=device.id,
            original_name=m.attributes.get("friendly_name"),
            original_device_class=m.attributes.get("device_class"),
            unit_of_measurement=m.attributes.get("unit_of_measurement"),
        )
        m.entity_id = entry.entity_id


def _owner(hub: Hub, entity_id: str) -> str | None:
    """Return who has this entity id already (None: nobody)."""
    registry = hub.require_entity_registry()
    entry = registry.get(entity_id)
    if entry is not None:
        if entry.platform == PLATFORM and entry.device_id is not None and hub.device_registry is not None:
            device = hub.device_registry.get(entry.device_id)
            return f"another device ('{device.display_name if device else entry.device_id}')"
        return f"the {entry.platform} integration"
    entity = hub.entities.get(entity_id)
    if entity is not None:
        return f"the hub's {entity.platform or 'core'} integration"
    if hub.states.get(entity_id) is not None:
        return "a state set by other means (the REST API or an earlier hub)"
    return None
