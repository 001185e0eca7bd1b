"""Home Assistant's registry commands: `config/entity_registry/*`, `config/device_registry/*`,
`extract_from_target` and `get_panels`, in HA's message shapes (areas: `hub.api.ws_areas`).

Listing is for every user (HA's frontend needs it to show names); changing or removing an
entry is for owners and admins, and every change is written to the audit log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub.api import ws_messages as messages
from hub.exceptions import InvalidEntityFormatError
from hub.registry.util import RegistryError

if TYPE_CHECKING:
    from hub.api.websocket import WebSocketConnection
    from hub.api.ws_commands import CommandRegistry
    from hub.core.hub import Hub
    from hub.registry.devices import DeviceEntry
    from hub.registry.entities import EntityEntry

# HA's frontend panels the hub's own UI has, in HA's get_panels shape.
PANELS: dict[str, dict[str, Any]] = {
    "lovelace": {"component_name": "lovelace", "icon": None, "title": None, "require_admin": False},
    "energy": {"component_name": "energy", "icon": "hass:lightning-bolt", "title": "energy", "require_admin": False},
    "history": {"component_name": "history", "icon": "hass:chart-box", "title": "history", "require_admin": False},
    "logbook": {"component_name": "logbook", "icon": "hass:format-list-bulleted-type", "title": "logbook",
                "require_admin": False},
    "config": {"component_name": "config", "icon": "hass:cog", "title": "config", "require_admin": True},
}


def _timestamp(value: Any) -> float:
    return float(value.timestamp()) if value is not None else 0.0


def entity_partial(entry: EntityEntry) -> dict[str, Any]:
    """An entity entry as HA's `config/entity_registry/list` gives it."""
    return {
        "area_id": entry.area_id,
        "categories": {},
        "config_entry_id": None,
        "created_at": _timestamp(entry.created_at),
        "device_id": entry.device_id,
        "disabled_by": entry.disabled_by,
        "entity_category": entry.entity_category,
        "entity_id": entry.entity_id,
        "has_entity_name": False,
        "hidden_by": entry.hidden_by,
        "icon": entry.icon,
        "id": entry.id,
        "labels": [],
        "modified_at": _timestamp(entry.modified_at),
        "name": entry.name,
        "options": {},
        "original_name": entry.original_name,
        "platform": entry.platform,
        "translation_key": None,
        "unique_id": entry.unique_id,
    }


def entity_extended(entry: EntityEntry) -> dict[str, Any]:
    """An entity entry as HA's `config/entity_registry/get` gives it."""
    return {
        **entity_partial(entry),
        "aliases": [],
        "capabilities": entry.capabilities,
        "device_class": entry.device_class,
        "original_device_class": entry.original_device_class,
        "original_icon": entry.original_icon,
        "unit_of_measurement": entry.unit_of_measurement,
    }


def device_dict(entry: DeviceEntry) -> dict[str, Any]:
    """A device entry as HA's `config/device_registry/list` gives it."""
    return {
        "area_id": entry.area_id,
        "config_entries": [],
        "configuration_url": entry.configuration_url,
        "connections": [list(pair) for pair in sorted(entry.connections)],
        "created_at": _timestamp(entry.created_at),
        "disabled_by": entry.disabled_by,
        "entry_type": None,
        "hw_version": entry.hw_version,
        "id": entry.id,
        "identifiers": [list(pair) for pair in sorted(entry.identifiers)],
        "integration": entry.integration,
        "labels": [],
        "manufacturer": entry.manufacturer,
        "model": entry.model,
        "model_id": entry.model_id,
        "modified_at": _timestamp(entry.modified_at),
        "name": entry.name,
        "name_by_user": entry.name_by_user,
        "primary_config_entry": None,
        "serial_number": entry.serial_number,
        "suggested_area": entry.suggested_area,
        "sw_version": entry.sw_version,
        "via_device_id": entry.via_device_id,
    }


def _audit(hub: Hub, connection: WebSocketConnection, action: str, target: str, result: str = "ok") -> None:
    if hub.auth is not None:
        hub.auth.audit.record(connection.user, action, target, result, connection.remote)


async def handle_entity_list(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any]) -> None:
    registry = hub.entity_registry
    entries = [] if registry is None else sorted(registry, key=lambda e: e.entity_id)
    connection.send_result(msg["id"], [entity_partial(e) for e in entries])


async def handle_entity_get(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any]) -> None:
    registry = hub.entity_registry
    entry = None if registry is None else registry.get(msg["entity_id"])
    if entry is None:
        connection.send_error(msg["id"], messages.ERR_NOT_FOUND, f"Entity {msg['entity_id']} not found")
        return
    connection.send_result(msg["id"], entity_extended(entry))


_ENTITY_FIELDS = ("name", "icon", "device_class", "disabled_by", "hidden_by", "area_id")


async def handle_entity_update(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any]) -> None:
    registry = hub.entity_registry
    entity_id = msg["entity_id"]
    if registry is None or registry.get(entity_id) is None:
        connection.send_error(msg["id"], messages.ERR_NOT_FOUND, f"Entity {entity_id} not found")
        return
    changes = {key: msg[key] for key in _ENTITY_FIELDS if key in msg}
    try:
        entry = await hub.entities.update_registry_entry(
            entity_id, new_entity_id=msg.get("new_entity_id"), **changes
        )
    except (RegistryError, InvalidEntityFormatError) as err:
        _audit(hub, connection, "config/entity_registry/update", entity_id, "invalid")
        connection.send_error(msg["id"], messages.ERR_INVALID_FORMAT, str(err))
        return
    _audit(hub, connection, "config/entity_registry/update", entity_id)
    connection.send_result(msg["id"], {"entity_entry": entity_extended(entry)})


async def handle_entity_remove(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any]) -> None:
    registry = hub.entity_registry
    entity_id = msg["entity_id"]
    if registry is None or registry.get(entity_id) is None:
        connection.send_error(msg["id"], messages.ERR_NOT_FOUND, f"Entity {entity_id} not found")
        return
    await hub.entities.remove(entity_id)
    await registry.remove(entity_id)
    _audit(hub, connection, "config/entity_registry/remove", entity_id)
    connection.send_result(msg["id"])


async def handle_device_list(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any]) -> None:
    registry = hub.device_registry
    entries = [] if registry is None else sorted(registry, key=lambda d: d.id)
    connection.send_result(msg["id"], [device_dict(d) for d in entries])


_DEVICE_FIELDS = ("area_id", "name_by_user", "disabled_by")


async def handle_device_update(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any]) -> None:
    registry = hub.device_registry
    device_id = msg["device_id"]
    if registry is None or registry.get(device_id) is None:
        connection.send_error(msg["id"], messages.ERR_NOT_FOUND, f"Device {device_id} not found")
        return
    try:
        entry = await hub.entities.update_device_entry(
            device_id, **{key: msg[key] for key in _DEVICE_FIELDS if key in msg}
        )
    except RegistryError as err:
        _audit(hub, connection, "config/device_registry/update", device_id, "invalid")
        connection.send_error(msg["id"], messages.ERR_INVALID_FORMAT, str(err))
        return
    _audit(hub, connection, "config/device_registry/update", device_id)
    connection.send_result(msg["id"], device_dict(entry))


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


async def handle_extract_from_target(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any]) -> None:
    """HA's extract_from_target: the entities, devices and areas a service target names.

    An area brings its devices and the entities in it (HA's rules, `Hub.entity_ids_for_areas`);
    ids that name nothing are listed as missing.
    """
    target = msg["target"]
    entities = set(_as_list(target.get("entity_id")))
    devices: set[str] = set()
    areas: set[str] = set()
    missing_devices: list[str] = []
    missing_areas: list[str] = []
    for area_id in _as_list(target.get("area_id")):
        if hub.area_registry is None or hub.area_registry.get(area_id) is None:
            missing_areas.append(area_id)
            continue
        areas.add(area_id)
        if hub.device_registry is not None:
            devices.update(d.id for d in hub.device_registry if d.area_id == area_id)
        entities.update(hub.entity_ids_for_areas([area_id]))
    for device_id in _as_list(target.get("device_id")):
        if hub.device_registry is None or hub.device_registry.get(device_id) is None:
            missing_devices.append(device_id)
            continue
        devices.add(device_id)
        entities.update(hub.entity_ids_for_devices([device_id]))
    connection.send_result(
        msg["id"],
        {
            "referenced_entities": sorted(entities),
            "referenced_devices": sorted(devices),
            "referenced_areas": sorted(areas),
            "referenced_floors": [],
            "referenced_labels": [],
            "missing_devices": sorted(missing_devices),
            "missing_areas": sorted(missing_areas),
            "missing_floors": _as_list(target.get("floor_id")),
            "missing_labels": _as_list(target.get("label_id")),
        },
    )


async def handle_get_panels(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any]) -> None:
    is_admin = connection.user is not None and connection.user.is_admin
    panels = {
        path: {**panel, "config": None, "url_path": path, "config_panel_domain": None}
        for path, panel in PANELS.items()
        if is_admin or not panel["require_admin"]
    }
    connection.send_result(msg["id"], panels)


_TARGET = vol.Schema(
    {
        vol.Optional("entity_id"): vol.Any(str, [str]),
        vol.Optional("device_id"): vol.Any(str, [str]),
        vol.Optional("area_id"): vol.Any(str, [str]),
        vol.Optional("floor_id"): vol.Any(str, [str]),
        vol.Optional("label_id"): vol.Any(str, [str]),
    }
)
_NULLABLE_STR = vol.Any(str, None)


def register_registry_commands(registry: CommandRegistry) -> None:
    """Register the entity and device registry commands, extract_from_target and get_panels."""
    registry.register("config/entity_registry/list", handle_entity_list, {})
    registry.register("config/entity_registry/get", handle_entity_get, {vol.Required("entity_id"): str})
    registry.register(
        "config/entity_registry/update",
        handle_entity_update,
        {
            vol.Required("entity_id"): str,
            vol.Optional("new_entity_id"): str,
            vol.Optional("name"): _NULLABLE_STR,
            vol.Optional("icon"): _NULLABLE_STR,
            vol.Optional("device_class"): _NULLABLE_STR,
            vol.Optional("disabled_by"): vol.Any("user", None),
            vol.Optional("hidden_by"): vol.Any("user", None),
            vol.Optional("area_id"): _NULLABLE_STR,
            # HA's frontend sends these too; the hub has no aliases, categories or labels per entity.
            vol.Optional("aliases"): list,
            vol.Optional("categories"): dict,
            vol.Optional("labels"): list,
        },
        admin_only=True,
    )
    registry.register(
        "config/entity_registry/remove", handle_entity_remove, {vol.Required("entity_id"): str}, admin_only=True
    )
    registry.register("config/device_registry/list", handle_device_list, {})
    registry.register(
        "config/device_registry/update",
        handle_device_update,
        {
            vol.Required("device_id"): str,
            vol.Optional("area_id"): _NULLABLE_STR,
            vol.Optional("name_by_user"): _NULLABLE_STR,
            vol.Optional("disabled_by"): vol.Any("user", None),
            vol.Optional("labels"): list,
        },
        admin_only=True,
    )
    registry.register(
        "extract_from_target",
        handle_extract_from_target,
        {vol.Required("target"): _TARGET, vol.Optional("expand_group", default=False): bool},
    )
    registry.register("get_panels", handle_get_panels, {})
