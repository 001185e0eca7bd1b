"""OpenAPI descriptions of the core's device routes (GET /api/v1/devices, GET/PATCH /api/v1/devices/{id}).

`errors()` and the DeviceApiError schema are shared with the integrations that add the other
/api/v1/devices* routes (provisioning, commands), so every device route answers errors alike.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub.api.openapi import describe

ERROR_WORDS = {
    400: "The request is malformed or a field is wrong; the message names it.",
    401: "No valid bearer token (or, for admin-only routes, not an admin).",
    403: (
        "The user's role may not do this (read-only users cannot send commands), or the home's plan "
        "allows no more devices (the body names the plan and the limit)."
    ),
    404: "No such device (or command, or relay on it).",
    409: "Not now: a relay's safety limit refuses the command, or the device declares no configuration; the message says which.",
    429: "Too many commands for this user or device; wait Retry-After seconds.",
    503: "The broker or its account store is not reachable.",
}


def errors(*codes: int) -> dict[str, Any]:
    """Return the responses of these error statuses, with the shared error body (401 always)."""
    answers: dict[str, Any] = {}
    for code in sorted({401, *codes}):
        answer: dict[str, Any] = {
            "description": ERROR_WORDS[code],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DeviceApiError"}}},
        }
        if code == 429:
            answer["headers"] = {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}}
        answers[str(code)] = answer
    return answers


def ok(description: str, schema: dict[str, Any], status: int = 200) -> dict[str, Any]:
    """Return a success response with a JSON body."""
    return {str(status): {"description": description, "content": {"application/json": {"schema": schema}}}}


DEVICE_ID = {"name": "device_id", "in": "path", "required": True, "schema": {"type": "string"}, "description": "The device's id"}
_TEXT = {"type": ["string", "null"]}
_PAIRS = {"type": "array", "items": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2}}

SCHEMAS: dict[str, Any] = {
    "DeviceApiError": {
        "type": "object",
        "required": ["message"],
        "properties": {"message": {"type": "string"}},
    },
    "DeviceCapabilities": {
        "type": "object",
        "required": ["commands", "metrics"],
        "properties": {
            "commands": {"type": "array", "items": {
                "type": "object",
                "required": ["command", "entity_id"],
                "properties": {
                    "command": {"type": "string", "examples": ["on", "set_value", "select_option", "reboot"]},
                    "entity_id": {"type": "string"},
                    "parameters": {"type": "object", "description": "Each parameter's type (float, enum), range or options",
                                   "additionalProperties": {"type": "object"}},
                },
            }},
            "metrics": {"type": "array", "items": {
                "type": "object",
                "required": ["entity_id", "device_class", "unit", "diagnostic"],
                "properties": {"entity_id": {"type": "string"}, "device_class": _TEXT, "unit": _TEXT,
                               "diagnostic": {"type": "boolean"}},
            }},
        },
    },
    "Device": {
        "type": "object",
        "required": ["id", "name", "online", "capabilities", "entities", "last_seen", "power", "rssi", "location"],
        "properties": {
            "id": {"type": "string"},
            "name": _TEXT,
            "name_by_user": _TEXT,
            "manufacturer": _TEXT,
            "model": _TEXT,
            "sw_version": _TEXT,
            "hw_version": _TEXT,
            "firmware_version": {**_TEXT, "description": "From the discovery device block's sw_version"},
            "hardware_version": {**_TEXT, "description": "From the discovery device block's hw_version"},
            "serial_number": _TEXT,
            "area_id": _TEXT,
            "location": {**_TEXT, "description": "Where the device is, in the user's words"},
            "integration": {"type": "string"},
            "identifiers": _PAIRS,
            "connections": _PAIRS,
            "via_device_id": _TEXT,
            "configuration_url": _TEXT,
            "disabled_by": _TEXT,
            "online": {"type": "boolean", "description": "Any of its entities is available"},
            "last_seen": {"type": ["string", "null"], "format": "date-time",
                          "description": "The last report of any of its entities, changed or not"},
            "rssi": {"type": ["number", "null"], "description": "dBm, from its signal_strength entity"},
            "power": {"type": ["number", "null"], "description": "W, from its power sensor"},
            "capabilities": {"$ref": "#/components/schemas/DeviceCapabilities"},
            "entities": {"type": "array", "items": {
                "type": "object",
                "required": ["entity_id", "state"],
                "properties": {"entity_id": {"type": "string"}, "state": _TEXT},
            }},
            "created_at": {"type": "string", "format": "date-time"},
            "modified_at": {"type": "string", "format": "date-time"},
        },
    },
    "DevicePatch": {
        "type": "object",
        "minProperties": 1,
        "additionalProperties": False,
        "description": "name/area are the contract's words, name_by_user/area_id Home Assistant's; give one of each pair",
        "properties": {
            "name": {"type": ["string", "null"], "maxLength": 255},
            "name_by_user": {"type": ["string", "null"], "maxLength": 255},
            "location": {"type": ["string", "null"], "maxLength": 255},
            "area": {"type": ["string", "null"], "maxLength": 255},
            "area_id": {"type": ["string", "null"], "maxLength": 255},
            "disabled_by": {"enum": ["user", None]},
        },
    },
}

PATHS: dict[str, Any] = {
    "/api/v1/devices": {
        "get": {
            "summary": "List devices",
            "operationId": "listDevices",
            "tags": ["devices"],
            "responses": {**ok("Every device, by name", {"type": "array", "items": {"$ref": "#/components/schemas/Device"}}),
                          **errors()},
        },
    },
    "/api/v1/devices/{device_id}": {
        "get": {
            "summary": "One device",
            "operationId": "getDevice",
            "tags": ["devices"],
            "parameters": [DEVICE_ID],
            "responses": {**ok("The device", {"$ref": "#/components/schemas/Device"}), **errors(404)},
        },
        "patch": {
            "summary": "Rename a device, place it (location, area), disable or enable it (admins)",
            "operationId": "patchDevice",
            "tags": ["devices"],
            "parameters": [DEVICE_ID],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DevicePatch"}}}},
            "responses": {**ok("The device as changed", {"$ref": "#/components/schemas/Device"}), **errors(400, 404)},
        },
    },
}


def describe_device_routes(app: web.Application) -> None:
    """Describe the core's device routes."""
    describe(app, PATHS, schemas=SCHEMAS)
