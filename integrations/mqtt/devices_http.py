"""POST /api/v1/devices (register a device, answer with its MQTT configuration) and
DELETE /api/v1/devices/{id} (revoke its account at once), for admins."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from hub.api.devices_openapi import DEVICE_ID, errors, ok
from hub.api.keys import HUB_KEY, USER_KEY
from hub.api.openapi import describe
from hub.api.responses import json_message
from hub.api.ws_messages import dumps, loads
from hub.exceptions import HubError
from hub.tenancy.limits import PlanLimitError
from integrations.mqtt.provisioning import KINDS, ProvisioningError

if TYPE_CHECKING:
    from integrations.mqtt.provisioner import Provisioner

FIELDS = ("node_id", "name", "location", "kind")


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=dumps(data), status=status, content_type="application/json",
                        headers={"Cache-Control": "no-store"})


def add_routes(app: web.Application, provisioner: Provisioner) -> None:
    """Add the routes (GET and PATCH of /api/v1/devices are the core's)."""

    async def create(request: web.Request) -> web.Response:
        hub = request.app[HUB_KEY]
        user = request[USER_KEY]
        audit = hub.require_auth().audit
        if not user.is_admin:
            audit.record(user, "device.create", None, "refused", request.remote, reason="not an admin")
            return json_message("401: Unauthorized", 401)
        try:
            body = loads(await request.read())
        except ValueError:
            return json_message("Invalid JSON specified.", 400)
        if not isinstance(body, dict):
            return json_message("Expected a JSON object with node_id, name, location and kind", 400)
        unknown = sorted(set(body) - set(FIELDS))
        if unknown:
            return json_message(f"Unknown field(s) {', '.join(unknown)}; expected {', '.join(FIELDS)}", 400)
        node_id = body.get("node_id")
        try:
            provisioner.store.check(node_id, body.get("name"), body.get("kind"), body.get("location"))
            entry = None
            if hub.device_registry is not None:
                # The identifiers MQTT discovery gives our firmware's node: its entities join this device.
                entry = await hub.device_registry.get_or_create(
                    integration="mqtt", identifiers=[("mqtt", str(node_id))], name=body.get("name") or str(node_id),
                    suggested_area=body.get("location"),
                )
                if body.get("location") and entry.location is None:
                    entry = await hub.device_registry.update(entry.id, location=body["location"])
            answer = await provisioner.add(node_id, body.get("name"), body.get("kind"), body.get("location"),
                                           entry.id if entry is not None else None)
        except ProvisioningError as err:
            return json_message(str(err), 400)
        except PlanLimitError as err:  # the home's plan allows no more devices
            audit.record(user, "device.create", str(node_id), "refused", request.remote, reason=str(err))
            return _json(err.as_dict(), 403)
        except HubError as err:
            return json_message(str(err), 503)
        audit.record(user, "device.create", f"{answer['node_id']} ({answer['kind']})", "ok", request.remote)
        return _json(answer, 201)

    async def delete(request: web.Request) -> web.Response:
        hub = request.app[HUB_KEY]
        user = request[USER_KEY]
        audit = hub.require_auth().audit
        device_id = request.match_info["device_id"]
        if not user.is_admin:
            audit.record(user, "device.delete", device_id, "refused", request.remote, reason="not an admin")
            return json_message("401: Unauthorized", 401)
        device = provisioner.store.by_device_id(device_id)
        if device is None:
            return json_message("No provisioned device with this id.", 404)
        try:
            await provisioner.remove(device)
        except HubError as err:
            return json_message(f"The broker did not remove the device's account, which is kept: {err}. Try again.", 503)
        audit.record(user, "device.delete", device.node_id, "ok", request.remote)
        return _json({"id": device_id, "node_id": device.node_id, "revoked": True})

    app.router.add_post("/api/v1/devices", create)
    app.router.add_delete("/api/v1/devices/{device_id}", delete)
    describe(app, PATHS, schemas=SCHEMAS)


_NULLABLE_TEXT = {"type": ["string", "null"]}
SCHEMAS: dict[str, Any] = {
    "DeviceProvisionRequest": {
        "type": "object",
        "required": ["node_id", "kind"],
        "additionalProperties": False,
        "properties": {
            "node_id": {"type": "string", "description": "Letters, digits, _ and -; the device's MQTT username and topic word"},
            "name": {"type": "string"},
            "location": {"type": "string"},
            "kind": {"type": "string", "enum": list(KINDS)},
        },
    },
    "DeviceProvisioned": {
        "type": "object",
        "required": ["id", "node_id", "kind", "mqtt", "topics", "setup"],
        "properties": {
            "id": {"type": "string"},
            "node_id": {"type": "string"},
            "name": _NULLABLE_TEXT,
            "location": _NULLABLE_TEXT,
            "kind": {"type": "string"},
            "mqtt": {"type": "object", "description": "host, port, tls_port, fingerprints, username, password (shown once), client_id"},
            "topics": {"type": "object", "properties": {"publish": {"type": "array", "items": {"type": "string"}},
                                                          "subscribe": {"type": "array", "items": {"type": "string"}}}},
            "setup": {"type": "object", "description": "What to type into the device, in its kind's form (config.json for ours)"},
        },
    },
}
PATHS: dict[str, Any] = {
    "/api/v1/devices": {
        "post": {
            "summary": "Provision a device: create it and its MQTT account (admins); the password is shown once",
            "operationId": "provisionDevice",
            "tags": ["devices"],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/DeviceProvisionRequest"}}}},
            "responses": {**ok("The device and how it connects", {"$ref": "#/components/schemas/DeviceProvisioned"}, 201),
                          **errors(400, 403, 503)},
        },
    },
    "/api/v1/devices/{device_id}": {
        "delete": {
            "summary": "Revoke a provisioned device's MQTT account at once (admins)",
            "operationId": "revokeDevice",
            "tags": ["devices"],
            "parameters": [DEVICE_ID],
            "responses": {**ok("Revoked", {"type": "object", "required": ["id", "node_id", "revoked"], "properties": {
                "id": {"type": "string"}, "node_id": {"type": "string"}, "revoked": {"const": True}}}),
                **errors(404, 503)},
        },
    },
}
