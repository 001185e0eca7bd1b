"""POST /api/v1/devices/{id}/command: switch a device's relay through the same path as switch.turn_on."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub.api.http import HUB_KEY, USER_KEY, json_message
from hub.api.permissions import can_control
from hub.api.ws_messages import dumps, loads
from hub.core.context import Context
from hub.exceptions import ServiceValidationError
from integrations.relay.commands_http import Refused, answer, rate_limited, wait_seconds
from integrations.relay.commands_http import add_routes as add_command_routes
from integrations.relay.config_http import add_routes as add_config_routes
from integrations.relay.manager import manager_of


async def device_command(request: web.Request) -> web.Response:
    """Accept `{"command": "on"|"off"|"toggle", "relay": name?}`; answer 202 with the command.

    The answer carries the command's id and status (sent, acknowledged, queued while the
    device is offline); a safety limit's refusal is a 409 with its reason, the rate limit's a 429.
    `?wait=<seconds>` answers {success, newState, command} once the device confirmed.
    """
    hub = request.app[HUB_KEY]
    user = request[USER_KEY]
    if not can_control(user):
        return json_message("403: Forbidden (read-only users cannot switch relays)", 403)
    device_id = request.match_info["device_id"]
    if hub.device_registry is None or hub.device_registry.get(device_id) is None:
        return json_message("Device not found.", 404)
    try:
        wait = wait_seconds(request)
        body: Any = loads(await request.read())
    except ValueError:
        return json_message("Invalid JSON specified.", 400)
    except Refused as refused:
        return json_message(str(refused), refused.status)
    if not isinstance(body, dict) or body.get("command") not in ("on", "off", "toggle"):
        return json_message("Expected {\"command\": \"on\" | \"off\" | \"toggle\", \"relay\": name (optional)}", 400)
    relay = body.get("relay")
    if relay is not None and not isinstance(relay, str):
        return json_message("Field 'relay' must be a relay name", 400)
    manager = manager_of(hub)
    relays = manager.for_device(device_id) if manager is not None else []
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
    if manager is not None and (limited := rate_limited(request, manager, device_id, body["command"])) is not None:
        return limited
    try:
        command = await controller.request(body["command"], Context(user_id=user.id), request.remote)
    except ServiceValidationError as err:
        return json_message(str(err), 409)
    if wait > 0 and manager is not None:
        return await answer(manager, command, wait)
    data = {**command.as_dict(), "relay": controller.name}
    return web.Response(body=dumps(data), status=202, content_type="application/json")


def add_routes(app: web.Application) -> None:
    """Add the device command routes."""
    app.router.add_post("/api/v1/devices/{device_id}/command", device_command)
    add_command_routes(app)
    add_config_routes(app)
