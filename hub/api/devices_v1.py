"""The device API: GET /api/v1/devices, GET/PATCH /api/v1/devices/{id} over the device registry.

A device's answer carries its registry entry (name, area, location, firmware and hardware
version from its discovery `device` block) and what its entities show now (online, last_seen,
rssi, power, capabilities: see hub.api.device_summary).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from hub.api import device_summary
from hub.api.devices_openapi import describe_device_routes
from hub.api.keys import HUB_KEY, USER_KEY
from hub.api.responses import json_message
from hub.api.ws_messages import dumps, loads
from hub.registry.devices import DeviceEntry
from hub.registry.util import RegistryError

if TYPE_CHECKING:
    from hub.core.hub import Hub

# What a PATCH may change: the request's field -> the registry's field. `name` and `area`
# are the contract's words; `name_by_user` and `area_id` Home Assistant's (both accepted).
PATCHABLE: dict[str, str] = {
    "name": "name_by_user",
    "name_by_user": "name_by_user",
    "location": "location",
    "area": "area_id",
    "area_id": "area_id",
    "disabled_by": "disabled_by",
}
DISABLED_BY_VALUES = (None, "user")


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=dumps(data), status=status, content_type="application/json")


def device_as_dict(hub: Hub, device: DeviceEntry) -> dict[str, Any]:
    """Return a device with its entities' current states and what they say about it."""
    views = device_summary.entity_views(hub, device.id)
    entities = [{"entity_id": v.entry.entity_id, "state": v.state.state if v.state else None} for v in views]
    return {
        "id": device.id,
        "name": device.display_name,
        "name_by_user": device.name_by_user,
        "manufacturer": device.manufacturer,
        "model": device.model,
        "sw_version": device.sw_version,
        "hw_version": device.hw_version,
        "firmware_version": device.sw_version,
        "hardware_version": device.hw_version,
        "serial_number": device.serial_number,
        "area_id": device.area_id,
        "location": device.location,
        "integration": device.integration,
        "identifiers": sorted([list(pair) for pair in device.identifiers]),
        "connections": sorted([list(pair) for pair in device.connections]),
        "via_device_id": device.via_device_id,
        "configuration_url": device.configuration_url,
        "disabled_by": device.disabled_by,
        "online": device_summary.online(views),
        "last_seen": device_summary.last_seen(views),
        "rssi": device_summary.rssi(views),
        "power": device_summary.power_watts(views),
        "capabilities": device_summary.capabilities(views),
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
    changes: dict[str, Any] = {}
    for key, value in body.items():
        if key not in PATCHABLE:
            return json_message(f"Field '{key}' cannot be changed; allowed: {', '.join(PATCHABLE)}", 400)
        if not isinstance(value, str | None) or (isinstance(value, str) and len(value) > 255):
            return json_message(f"Field '{key}' must be a string of at most 255 characters or null", 400)
        if PATCHABLE[key] in changes:
            return json_message(f"Field '{key}' is given twice (under two names)", 400)
        changes[PATCHABLE[key]] = value or None
    if changes.get("disabled_by") not in DISABLED_BY_VALUES:
        return json_message("Field 'disabled_by' must be 'user' or null", 400)
    try:
        device = await hub.entities.update_device_entry(device_id, **changes)
    except RegistryError as err:  # an area that does not exist (the area registry checks)
        return json_message(str(err), 400)
    hub.require_auth().audit.record(user, "update_device", f"{device_id} {','.join(sorted(changes))}", "ok", request.remote)
    return _json(device_as_dict(hub, device))


def setup_devices_v1(app: web.Application) -> None:
    """Add the device routes."""
    app.router.add_get("/api/v1/devices", list_devices)
    app.router.add_get("/api/v1/devices/{device_id}", get_device)
    app.router.add_patch("/api/v1/devices/{device_id}", patch_device)
    describe_device_routes(app)
