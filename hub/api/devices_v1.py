"""The device API: GET /api/v1/devices, GET/PATCH /api/v1/devices/{id} over the device registry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from hub.api.keys import HUB_KEY, USER_KEY
from hub.api.responses import json_message
from hub.api.ws_messages import dumps, loads
from hub.core.states import STATE_UNAVAILABLE
from hub.registry.devices import DeviceEntry
from hub.registry.util import RegistryError

if TYPE_CHECKING:
    from hub.core.hub import Hub

# What a PATCH may change, and the JSON types it accepts for each.
PATCHABLE: dict[str, tuple[type, ...]] = {
    "name_by_user": (str, type(None)),
    "area_id": (str, type(None)),
    "disabled_by": (str, type(None)),
}
DISABLED_BY_VALUES = (None, "user")


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=dumps(data), status=status, content_type="application/json")


def device_as_dict(hub: Hub, device: DeviceEntry) -> dict[str, Any]:
    """Return a device with its entities' current states and whether it is online."""
    entities = []
    registry = hub.entity_registry
    for entry in registry.entries_for_device(device.id) if registry is not None else ():
        state = hub.states.get(entry.entity_id)
        entities.append({"entity_id": entry.entity_id, "state": state.state if state else None})
    online = any(e["state"] not in (None, STATE_UNAVAILABLE) for e in entities)
    return {
        "id": device.id,
        "name": device.display_name,
        "name_by_user": device.name_by_user,
        "manufacturer": device.manufacturer,
        "model": device.model,
        "sw_version": device.sw_version,
        "hw_version": device.hw_version,
        "serial_number": device.serial_number,
        "area_id": device.area_id,
        "integration": device.integration,
        "identifiers": sorted([list(pair) for pair in device.identifiers]),
        "connections": sorted([list(pair) for pair in device.connections]),
        "via_device_id": device.via_device_id,
        "configuration_url": device.configuration_url,
        "disabled_by": device.disabled_by,
        "online": online,
        "entities": entities,
        "created_at": device.created_at.isoformat(),
        "modified_at": device.modified_at.isoformat(),
    }


async def list_devices(request: web.Request) -> web.Response:
    """GET /api/v1/devices."""
    hub = request.app[HUB_KEY]
    devices = sorted(hub.require_device_registry().devices, key=lambda d: (d.display_name or "", d.id))
    return _json([device_as_dict(hub, device) for device in devices])


async def get_device(request: web.Request) -> web.Response:
    """GET /api/v1/devices/{id}."""
    hub = request.app[HUB_KEY]
    device = hub.require_device_registry().get(request.match_info["device_id"])
    if device is None:
        return json_message("Device not found.", 404)
    return _json(device_as_dict(hub, device))


async def patch_device(request: web.Request) -> web.Response:
    """PATCH /api/v1/devices/{id} (admins): rename, move to an area, disable or enable."""
    hub = request.app[HUB_KEY]
    user = request[USER_KEY]
    if not user.is_admin:
        return json_message("401: Unauthorized", 401)
    device_id = request.match_info["device_id"]
    if hub.require_device_registry().get(device_id) is None:
        return json_message("Device not found.", 404)
    try:
        body = loads(await request.read())
    except ValueError:
        return json_message("Invalid JSON specified.", 400)
    if not isinstance(body, dict) or not body:
        return json_message("Expected a JSON object with fields to change", 400)
    for key, value in body.items():
        if key not in PATCHABLE:
            return json_message(f"Field '{key}' cannot be changed; allowed: {', '.join(PATCHABLE)}", 400)
        if not isinstance(value, PATCHABLE[key]) or (isinstance(value, str) and len(value) > 255):
            return json_message(f"Field '{key}' must be a string of at most 255 characters or null", 400)
    if body.get("disabled_by", None) not in DISABLED_BY_VALUES:
        return json_message("Field 'disabled_by' must be 'user' or null", 400)
    try:
        device = await hub.entities.update_device_entry(device_id, **body)
    except RegistryError as err:  # an area that does not exist
        return json_message(str(err), 400)
    hub.require_auth().audit.record(user, "update_device", f"{device_id} {','.join(sorted(body))}", "ok", request.remote)
    return _json(device_as_dict(hub, device))


def setup_devices_v1(app: web.Application) -> None:
    """Add the device routes."""
    app.router.add_get("/api/v1/devices", list_devices)
    app.router.add_get("/api/v1/devices/{device_id}", get_device)
    app.router.add_patch("/api/v1/devices/{device_id}", patch_device)
