"""POST /api/v1/devices/{id}/command: switch a device's relay through the same path as switch.turn_on."""

from __future__ import annotations

from aiohttp import web

from hub.api.http import json_message
from hub.api.permissions import can_control
from hub.api.ws_messages import dumps
from hub.core.context import Context
from hub.exceptions import ServiceValidationError
from integrations.relay.commands_http import add_routes as add_command_routes
from integrations.relay.commands_http import answer, rate_limited
from integrations.relay.config_http import add_routes as add_config_routes
from integrations.relay.device_request import Refused, device_request


async def device_command(request: web.Request) -> web.Response:
    """Accept `{"command": "on"|"off"|"toggle", "relay": name?}`; answer 202 with the command.

    The answer carries the command's id and status (sent, acknowledged, queued while the
    device is offline); a safety limit's refusal is a 409 with its reason, the rate limit's a 429.
    `?wait=<seconds>` answers {success, newState, command} once the device confirmed.
    """
    try:
        req = await device_request(request, allowed=can_control, forbidden="read-only users cannot switch relays")
    except Refused as refused:
        return refused.response()
    manager, device_id, body = req.manager, req.device_id, req.body
    if not isinstance(body, dict) or body.get("command") not in ("on", "off", "toggle"):
        return json_message("Expected {\"command\": \"on\" | \"off\" | \"toggle\", \"relay\": name (optional)}", 400)
    relay = body.get("relay")
    if relay is not None and not isinstance(relay, str):
        return json_message("Field 'relay' must be a relay name", 400)
    relays = manager.for_device(device_id)
    if not relays:
        return json_message("This device has no relays under command control.", 404)
    if relay is None:
        if len(relays) > 1:
            names = ", ".join(c.name for c in relays)
            return json_message(f"This device has several relays ({names}); name one in 'relay'", 400)
        controller = relays[0]
    else:
        matches = [c for c in relays if relay in (c.name, c.entity_id)]
        if not matches:
            names = ", ".join(c.name for c in relays)
            return json_message(f"No relay {relay!r} on this device; it has: {names}", 404)
        controller = matches[0]
    if (limited := rate_limited(request, manager, device_id, body["command"])) is not None:
        return limited
    try:
        command = await controller.request(body["command"], Context(user_id=req.user.id), request.remote)
    except ServiceValidationError as err:
        return json_message(str(err), 409)
    if req.wait > 0:
        return await answer(manager, command, req.wait)
    data = {**command.as_dict(), "relay": controller.name}
    return web.Response(body=dumps(data), status=202, content_type="application/json")


def add_routes(app: web.Application) -> None:
    """Add the device command routes."""
    app.router.add_post("/api/v1/devices/{device_id}/command", device_command)
    add_command_routes(app)
    add_config_routes(app)
