"""Home Assistant's area registry commands: `config/area_registry/list|create|update|delete`.

Listing is for every user (HA's frontend shows area names everywhere); creating, changing and
deleting areas is for owners and admins, audited, and announced with HA's
`area_registry_updated` event (`{action: create|update|remove, area_id}`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub.api import ws_messages as messages
from hub.registry.areas import AreaNotFoundError
from hub.registry.util import RegistryError

if TYPE_CHECKING:
    from hub.api.websocket import WebSocketConnection
    from hub.api.ws_commands import CommandRegistry
    from hub.core.hub import Hub
    from hub.registry.areas import AreaEntry

EVENT_AREA_REGISTRY_UPDATED = "area_registry_updated"
# HA's error code for a refused area change.
ERR_INVALID_INFO = "invalid_info"

_FIELDS = (
    "name",
    "aliases",
    "floor_id",
    "humidity_entity_id",
    "temperature_entity_id",
    "icon",
    "labels",
    "picture",
)


def area_dict(entry: AreaEntry) -> dict[str, Any]:
    """An area as HA's `config/area_registry/list` gives it."""
    return {
        "aliases": list(entry.aliases),
        "area_id": entry.id,
        "floor_id": entry.floor_id,
        "humidity_entity_id": entry.humidity_entity_id,
        "icon": entry.icon,
        "labels": list(entry.labels),
        "name": entry.name,
        "picture": entry.picture,
        "temperature_entity_id": entry.temperature_entity_id,
        "created_at": entry.created_at.timestamp(),
        "modified_at": entry.modified_at.timestamp(),
    }


def _changed(hub: Hub, connection: WebSocketConnection, command: str, action: str, area_id: str) -> None:
    if hub.auth is not None:
        hub.auth.audit.record(connection.user, command, area_id, "ok", connection.remote)
    hub.bus.fire(EVENT_AREA_REGISTRY_UPDATED, {"action": action, "area_id": area_id})


def _refused(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any], target: str, err: Exception) -> None:
    if hub.auth is not None:
        hub.auth.audit.record(connection.user, msg["type"], target, "invalid", connection.remote)
    connection.send_error(msg["id"], ERR_INVALID_INFO, str(err))


async def handle_list(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any]) -> None:
    areas = [] if hub.area_registry is None else sorted(hub.area_registry, key=lambda a: a.name.casefold())
    connection.send_result(msg["id"], [area_dict(area) for area in areas])


async def handle_create(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any]) -> None:
    fields = {key: msg[key] for key in _FIELDS if key in msg}
    try:
        entry = await hub.require_area_registry().create(**fields)
    except RegistryError as err:
        _refused(hub, connection, msg, str(msg["name"]), err)
        return
    _changed(hub, connection, msg["type"], "create", entry.id)
    connection.send_result(msg["id"], area_dict(entry))


async def handle_update(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any]) -> None:
    fields = {key: msg[key] for key in _FIELDS if key in msg}
    try:
        entry = await hub.require_area_registry().update(msg["area_id"], **fields)
    except AreaNotFoundError as err:
        connection.send_error(msg["id"], messages.ERR_NOT_FOUND, str(err))
        return
    except RegistryError as err:
        _refused(hub, connection, msg, msg["area_id"], err)
        return
    _changed(hub, connection, msg["type"], "update", entry.id)
    connection.send_result(msg["id"], area_dict(entry))


async def handle_delete(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any]) -> None:
    area_id = msg["area_id"]
    try:
        await hub.require_area_registry().delete(area_id)
    except AreaNotFoundError:
        # HA's words and code for an unknown area.
        connection.send_error(msg["id"], ERR_INVALID_INFO, "Area ID doesn't exist")
        return
    _changed(hub, connection, msg["type"], "remove", area_id)
    connection.send_result(msg["id"], "success")


_NULLABLE_STR = vol.Any(str, None)
_OPTIONAL_FIELDS: dict[Any, Any] = {
    vol.Optional("aliases"): [str],
    vol.Optional("floor_id"): _NULLABLE_STR,
    vol.Optional("humidity_entity_id"): _NULLABLE_STR,
    vol.Optional("temperature_entity_id"): _NULLABLE_STR,
    vol.Optional("icon"): _NULLABLE_STR,
    vol.Optional("labels"): [str],
    vol.Optional("picture"): _NULLABLE_STR,
}


def register_area_commands(registry: CommandRegistry) -> None:
    """Register config/area_registry/list|create|update|delete."""
    registry.register("config/area_registry/list", handle_list, {})
    registry.register(
        "config/area_registry/create",
        handle_create,
        {vol.Required("name"): str, **_OPTIONAL_FIELDS},
        admin_only=True,
    )
    registry.register(
        "config/area_registry/update",
        handle_update,
        {vol.Required("area_id"): str, vol.Optional("name"): str, **_OPTIONAL_FIELDS},
        admin_only=True,
    )
    registry.register(
        "config/area_registry/delete", handle_delete, {vol.Required("area_id"): str}, admin_only=True
    )
