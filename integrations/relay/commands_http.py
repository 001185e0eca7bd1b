"""POST/GET /api/v1/devices/{id}/commands[/{cmd_id}]: any command a device's entities offer, with its lifecycle.

`{"command": "on"|"off"|"toggle", "parameters": {"relay": name?}}` goes through the relay's
controller (the same path as switch.turn_on and POST .../command); `set_value`, `select_option`,
`press` and `reboot` through the entity's service (integrations.relay.entity_commands). Both
persist the command in `relay_commands` and fire `device_command` on each change of status, which
/api/v1/realtime sends as `command.status`. `?wait=<seconds>` (at most MAX_WAIT) holds the answer
until the command is final: `{"success", "newState", "command"}`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from hub.api import device_summary
from hub.api.devices_openapi import DEVICE_ID, errors, ok
from hub.api.http import HUB_KEY, USER_KEY, json_message
from hub.api.openapi import describe
from hub.api.permissions import can_control
from hub.api.ws_messages import dumps
from hub.core.context import Context
from hub.exceptions import ServiceValidationError
from integrations.relay.command import COMMANDS, QUEUED, SUCCESS, RelayCommand
from integrations.relay.device_request import MAX_WAIT, Refused, device_request
from integrations.relay.entity_commands import ENTITY_COMMANDS, EntityCommand, check_parameter
from integrations.relay.manager import FIRMWARE_MANUFACTURER, RelayManager, manager_of
from integrations.relay.ota_commands import OTA, check_ota

if TYPE_CHECKING:
    from hub.core.hub import Hub

MAX_LIST = 500


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=dumps(data), status=status, content_type="application/json")


def _pick(candidates: list[str], wanted: Any, what: str, command: str) -> str:
    if wanted is not None:
        if wanted not in candidates:
            raise Refused(404, f"No {what} {wanted!r} on this device for {command}; it has: {', '.join(candidates) or 'none'}")
        return str(wanted)
    if len(candidates) > 1:
        raise Refused(400, f"This device has several {what}s for {command} ({', '.join(candidates)}); name one in parameters.entity_id")
    return candidates[0]


async def _relay_command(manager: RelayManager, device_id: str, command: str, parameters: dict[str, Any],
                         context: Context, remote: str | None) -> RelayCommand:
    relays = manager.for_device(device_id)
    if not relays:
        raise Refused(404, "This device has no relays under command control.")
    wanted = parameters.get("relay", parameters.get("entity_id"))
    names = {c.name: c for c in relays} | {c.entity_id: c for c in relays}
    name = _pick([c.name for c in relays], None if wanted is None else getattr(names.get(wanted), "name", wanted), "relay", command)
    try:
        return await names[name].request(command, context, remote)
    except ServiceValidationError as err:
        raise Refused(409, str(err)) from None


def _entity_command(hub: Hub, manager: RelayManager, device_id: str, command: str, parameters: dict[str, Any],
                    context: Context, remote: str | None) -> RelayCommand:
    offered = [c for c in device_summary.capabilities(device_summary.entity_views(hub, device_id))["commands"]
               if c["command"] == command]
    if not offered:
        raise Refused(400, f"This device offers no {command!r} command")
    entity_id = _pick([c["entity_id"] for c in offered], parameters.get("entity_id"), "entity", command)
    try:
        value = check_parameter(command, hub.states.get(entity_id), parameters)
    except ServiceValidationError as err:
        raise Refused(400, str(err)) from None
    name = ENTITY_COMMANDS[command][2]
    cmd = RelayCommand(entity_id, device_id, command, None, context.user_id, context.id, manager.clock.time(),
                       parameters={name: value} if name else {})
    manager.audit(cmd, "accepted", remote)
    EntityCommand(manager, cmd, remote).start()
    return cmd


async def _ota_command(hub: Hub, manager: RelayManager, device_id: str, parameters: dict[str, Any],
                       context: Context, remote: str | None) -> RelayCommand:
    device = hub.device_registry.get(device_id) if hub.device_registry is not None else None
    node_id = manager.configs.node_id(device_id)
    if device is None or device.manufacturer != FIRMWARE_MANUFACTURER or node_id is None:
        raise Refused(400, "This device offers no 'ota' command (nodes running our firmware take signed updates)")
    try:
        checked = check_ota(parameters)
    except ServiceValidationError as err:
        raise Refused(400, str(err)) from None
    if not device_summary.online(device_summary.entity_views(hub, device_id)):
        raise Refused(409, "The device is offline; an update needs it online")
    if manager.ota.busy(node_id):
        raise Refused(409, "An update of this device is already under way")
    return await manager.ota.request(device_id, node_id, checked, context, remote)


async def post_command(request: web.Request) -> web.Response:
    """POST /api/v1/devices/{id}/commands."""
    try:
        req = await device_request(request, allowed=can_control, forbidden="read-only users cannot send commands")
    except Refused as refused:
        return refused.response()
    hub, user, manager, device_id, body = req.hub, req.user, req.manager, req.device_id, req.body
    known = (*COMMANDS, *ENTITY_COMMANDS, OTA)
    if not isinstance(body, dict) or body.get("command") not in known:
        return json_message(f"Expected {{\"command\": one of {', '.join(known)}, \"parameters\": {{...}}}}", 400)
    parameters = body.get("parameters", {})
    if not isinstance(parameters, dict):
        return json_message("Field 'parameters' must be a JSON object", 400)
    for name in ("relay", "entity_id"):
        if not isinstance(parameters.get(name, ""), str):
            return json_message(f"parameters.{name} must be a string", 400)
    if (limited := rate_limited(request, manager, device_id, body["command"])) is not None:
        return limited
    context = Context(user_id=user.id)
    try:
        if body["command"] in COMMANDS:
            cmd = await _relay_command(manager, device_id, body["command"], parameters, context, request.remote)
        elif body["command"] == OTA:
            cmd = await _ota_command(hub, manager, device_id, parameters, context, request.remote)
        else:
            cmd = _entity_command(hub, manager, device_id, body["command"], parameters, context, request.remote)
    except Refused as refused:
        return refused.response()
    return await answer(manager, cmd, req.wait)


def rate_limited(request: web.Request, manager: RelayManager, device_id: str, command: str) -> web.Response | None:
    """Spend the user's and the device's tokens, or return (and audit) the 429 answer."""
    user = request[USER_KEY]
    limited = manager.rate_limits.check(user.id, device_id)
    if limited is not None:
        hub = request.app[HUB_KEY]
        hub.require_auth().audit.record(user, "device_command", f"device={device_id} {command}", "refused",
                                        request.remote, reason="rate limit")
    return limited


async def answer(manager: RelayManager, cmd: RelayCommand, wait: float) -> web.Response:
    """202 with the command, or with ?wait, 200 {success, newState, command} once it is final."""
    if wait <= 0:
        return _json(cmd.as_dict(), 202)
    cmd = await manager.wait(cmd, wait)
    result = {"success": cmd.status in SUCCESS, "newState": cmd.new_state, "command": cmd.as_dict()}
    return _json(result, 200 if cmd.done else 202)


def _row(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("created_at", "sent_at", "confirmed_at"):
        row[key] = row[key].isoformat() if row[key] is not None else None
    return row


async def list_commands(request: web.Request) -> web.Response:
    """GET /api/v1/devices/{id}/commands?limit=: the newest first."""
    try:
        req = await device_request(request, body=False)
    except Refused as refused:
        return refused.response()
    try:
        limit = int(request.query.get("limit", "50"))
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIST:
        return json_message(f"Query 'limit' must be a whole number from 1 to {MAX_LIST}", 400)
    rows = await req.manager.store.recent(device_id=req.device_id, limit=limit)
    return _json([_row(row) for row in rows])


async def get_command(request: web.Request) -> web.Response:
    """GET /api/v1/devices/{id}/commands/{cmd_id}."""
    hub = request.app[HUB_KEY]
    manager = manager_of(hub)
    device_id = request.match_info["device_id"]
    row = await manager.store.get(request.match_info["command_id"]) if manager is not None else None
    if row is None or row["device_id"] != device_id:
        return json_message("Command not found.", 404)
    return _json(_row(row))


def add_routes(app: web.Application) -> None:
    """Add the command routes."""
    app.router.add_post("/api/v1/devices/{device_id}/commands", post_command)
    app.router.add_get("/api/v1/devices/{device_id}/commands", list_commands)
    app.router.add_get("/api/v1/devices/{device_id}/commands/{command_id}", get_command)
    describe(app, PATHS, schemas=SCHEMAS)


_COMMAND_REF = {"$ref": "#/components/schemas/DeviceCommand"}
WAIT_PARAMETER = {"name": "wait", "in": "query", "required": False,
         "schema": {"type": "number", "minimum": 0, "maximum": MAX_WAIT},
         "description": "Seconds to hold the answer until the command is final (confirmed, failed, timed_out, expired)"}
_WAITED = {**ok("The command reached a final status within ?wait",
                {"$ref": "#/components/schemas/DeviceCommandResult"}),
           "202": {"description": "Accepted: the command as it is now (with ?wait: still pending when the wait ended)",
                   "content": {"application/json": {"schema": {"oneOf": [
                       _COMMAND_REF, {"$ref": "#/components/schemas/DeviceCommandResult"}]}}}}}
SCHEMAS: dict[str, Any] = {
    "DeviceCommand": {
        "type": "object",
        "required": ["id", "entity_id", "device_id", "command", "status", "created_at"],
        "properties": {
            "id": {"type": "string"},
            "entity_id": {"type": "string"},
            "device_id": {"type": ["string", "null"]},
            "command": {"type": "string"},
            "status": {"type": "string", "enum": ["queued", "sent", "acknowledged", "confirmed", "failed", "timed_out", "expired"]},
            "user_id": {"type": ["string", "null"]},
            "context_id": {"type": ["string", "null"]},
            "created_at": {"type": "string", "format": "date-time"},
            "sent_at": {"type": ["string", "null"], "format": "date-time"},
            "confirmed_at": {"type": ["string", "null"], "format": "date-time"},
            "error": {"type": ["string", "null"]},
            "parameters": {"type": ["object", "null"]},
            "new_state": {"type": ["string", "null"]},
            "relay": {"type": "string"},
        },
    },
    "DeviceCommandRequest": {
        "type": "object",
        "required": ["command"],
        "properties": {
            "command": {"type": "string", "enum": [*COMMANDS, *ENTITY_COMMANDS, OTA]},
            "parameters": {"type": "object", "description": "relay or entity_id (which one, when the device has several); "
                                                           "value (set_value), option (select_option); "
                                                           "url, size, hmac (ota, nodes running our firmware)"},
        },
    },
    "DeviceCommandResult": {
        "type": "object",
        "required": ["success", "newState", "command"],
        "properties": {"success": {"type": "boolean"}, "newState": {"type": ["string", "null"]}, "command": _COMMAND_REF},
    },
}
_COMMAND_ID = {"name": "command_id", "in": "path", "required": True, "schema": {"type": "string"}}
PATHS: dict[str, Any] = {
    "/api/v1/devices/{device_id}/command": {
        "post": {
            "summary": "Switch a relay of the device (on, off, toggle), as switch.turn_on does",
            "operationId": "switchRelay",
            "tags": ["commands"],
            "parameters": [DEVICE_ID, WAIT_PARAMETER],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["command"],
                "properties": {"command": {"enum": list(COMMANDS)}, "relay": {"type": "string"}}}}}},
            "responses": {**_WAITED, **errors(400, 403, 404, 409, 429)},
        },
    },
    "/api/v1/devices/{device_id}/commands": {
        "post": {
            "summary": "Send any command the device declares (see its capabilities)",
            "operationId": "sendCommand",
            "tags": ["commands"],
            "parameters": [DEVICE_ID, WAIT_PARAMETER],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/DeviceCommandRequest"}}}},
            "responses": {**_WAITED, **errors(400, 403, 404, 409, 429)},
        },
        "get": {
            "summary": "The device's commands, newest first",
            "operationId": "listCommands",
            "tags": ["commands"],
            "parameters": [DEVICE_ID, {"name": "limit", "in": "query", "required": False,
                                       "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIST, "default": 50}}],
            "responses": {**ok("Commands", {"type": "array", "items": _COMMAND_REF}), **errors(400, 404)},
        },
    },
    "/api/v1/devices/{device_id}/commands/{command_id}": {
        "get": {
            "summary": "One command and how far it got",
            "operationId": "getCommand",
            "tags": ["commands"],
            "parameters": [DEVICE_ID, _COMMAND_ID],
            "responses": {**ok("The command", _COMMAND_REF), **errors(404)},
        },
    },
}


__all__ = ["QUEUED", "Refused", "add_routes", "answer", "rate_limited"]
