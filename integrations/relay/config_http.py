"""GET/PUT /api/v1/devices/{id}/config: a device's typed configuration, changed as a confirmed command.

GET answers what the device declares with its current values:
    {"device_id", "supported": bool, "entries": [{"key", "value", "type", "min", "max", "options", ...}]}
PUT takes {"entries": [{"key": ..., "value": ..., "type": ... (optional)}]}, checks every entry
against the declaration (unknown keys, types and ranges are refused naming the key), publishes
the change retained to the device, and answers 202 with the command (or, with ?wait=<seconds>,
{success, newState, command} once the device confirmed). Admins only; rate limited like commands.
"""

from __future__ import annotations

from aiohttp import web

from hub.api.devices_openapi import DEVICE_ID, errors, ok
from hub.api.http import json_message
from hub.api.openapi import describe
from hub.api.ws_messages import dumps
from hub.core.context import Context
from integrations.relay.commands_http import WAIT_PARAMETER, answer, rate_limited
from integrations.relay.device_config import TYPES, ConfigRefused, check_entries
from integrations.relay.device_request import Refused, device_request


async def get_config(request: web.Request) -> web.Response:
    """GET /api/v1/devices/{id}/config."""
    try:
        req = await device_request(request, body=False)
    except Refused as refused:
        return refused.response()
    manager, device_id = req.manager, req.device_id
    node_id = manager.configs.node_id(device_id)
    entries = manager.configs.entries(node_id) if node_id is not None else []
    body = {"device_id": device_id, "supported": node_id in manager.configs.reported, "entries": entries}
    return web.Response(body=dumps(body), content_type="application/json")


async def put_config(request: web.Request) -> web.Response:
    """PUT /api/v1/devices/{id}/config."""
    try:
        req = await device_request(request, allowed=lambda user: user.is_admin,
                                   forbidden="only admins change a device's configuration")
    except Refused as refused:
        return refused.response()
    manager, device_id, body = req.manager, req.device_id, req.body
    node_id = manager.configs.node_id(device_id)
    reported = manager.configs.reported.get(node_id or "")
    if node_id is None or reported is None:
        return json_message("This device declares no configuration (it publishes none on devices/<id>/config/state)", 409)
    try:
        values = check_entries(reported["declared"], body.get("entries") if isinstance(body, dict) else None)
    except ConfigRefused as err:
        return json_message(str(err), 400)
    if (limited := rate_limited(request, manager, device_id, "configure")) is not None:
        return limited
    command = await manager.configs.request(device_id, node_id, values, Context(user_id=req.user.id), request.remote)
    return await answer(manager, command, req.wait)


_ENTRY = {
    "type": "object",
    "required": ["key", "value", "type"],
    "properties": {
        "key": {"type": "string"},
        "value": {"type": ["number", "string", "boolean", "null"]},
        "type": {"enum": list(TYPES)},
        "min": {"type": "number"},
        "max": {"type": "number"},
        "options": {"type": "array", "items": {"type": "string"}},
        "max_length": {"type": "integer"},
        "unit": {"type": "string"},
        "description": {"type": "string"},
    },
}
SCHEMAS = {
    "DeviceConfig": {
        "type": "object",
        "required": ["device_id", "supported", "entries"],
        "properties": {"device_id": {"type": "string"}, "supported": {"type": "boolean"},
                       "entries": {"type": "array", "items": {"$ref": "#/components/schemas/DeviceConfigEntry"}}},
    },
    "DeviceConfigEntry": _ENTRY,
    "DeviceConfigChange": {
        "type": "object",
        "required": ["entries"],
        "properties": {"entries": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["key", "value"],
            "properties": {"key": {"type": "string"}, "value": {"type": ["number", "string", "boolean"]},
                           "type": {"enum": list(TYPES)}}}}},
    },
}
PATHS = {
    "/api/v1/devices/{device_id}/config": {
        "get": {
            "summary": "The device's declared configuration with its current values",
            "operationId": "getDeviceConfig",
            "tags": ["devices"],
            "parameters": [DEVICE_ID],
            "responses": {**ok("Entries", {"$ref": "#/components/schemas/DeviceConfig"}), **errors(404)},
        },
        "put": {
            "summary": "Change configuration entries; delivered retained and confirmed by the device (admins)",
            "operationId": "putDeviceConfig",
            "tags": ["devices"],
            "parameters": [DEVICE_ID, WAIT_PARAMETER],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/DeviceConfigChange"}}}},
            "responses": {
                **ok("Final within ?wait", {"$ref": "#/components/schemas/DeviceCommandResult"}),
                "202": {"description": "Accepted: the configure command as it is now",
                        "content": {"application/json": {"schema": {"oneOf": [
                            {"$ref": "#/components/schemas/DeviceCommand"},
                            {"$ref": "#/components/schemas/DeviceCommandResult"}]}}}},
                **errors(400, 403, 404, 409, 429),
            },
        },
    },
}


def add_routes(app: web.Application) -> None:
    """Add the configuration routes."""
    app.router.add_get("/api/v1/devices/{device_id}/config", get_config)
    app.router.add_put("/api/v1/devices/{device_id}/config", put_config)
    describe(app, PATHS, schemas=SCHEMAS)
