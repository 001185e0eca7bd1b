"""HTTP: POST /api/v1/telemetry for devices (API key), and /api/v1/apikeys for admins (Bearer)."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from hub.api.auth_middleware import device_key
from hub.api.keys import HUB_KEY, USER_KEY
from hub.api.openapi import describe, errors, json_body, ref
from hub.api.responses import json_message
from hub.api.ws_messages import dumps, loads
from hub.core.context import Context
from hub.tenancy.limits import PlanLimitError
from integrations.http_ingest.keys import DEFAULT_BACKFILL_DAYS
from integrations.http_ingest.ownership import Forbidden
from integrations.http_ingest.payload import PayloadError, device_of, parse

if TYPE_CHECKING:
    from integrations.http_ingest import Ingest

_LOGGER = logging.getLogger(__name__)
INGEST_KEY: web.AppKey[Any] = web.AppKey("http_ingest", object)
MAX_BACKFILL_DAYS = 3650
MAX_EXPIRES_DAYS = 36500  # a hundred years; later is no expiry date a datetime can hold


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=dumps(data), status=status, content_type="application/json", headers=headers)


async def post_telemetry(request: web.Request) -> web.Response:
    """Write a device's measurements as entity states (history at their own time when stamped): 201."""
    ingest: Ingest = request.app[INGEST_KEY]
    raw = device_key(request)
    key = await ingest.keys.check(raw) if raw else None
    if key is None:
        ingest.rejected(request.remote, "missing" if raw is None else "wrong, expired or revoked")
        return json_message("401: Unauthorized (send a valid device key in X-API-Key)", 401)
    wait = ingest.limiter.take(key.id)
    if wait:
        return _json({"message": f"Too many requests for key {key.name!r}; retry later"}, 429,
                     {"Retry-After": ingest.limiter.retry_after(wait)})
    try:
        body = loads(await request.read())
        measurements = parse(body)
    except ValueError as err:  # PayloadError and malformed JSON alike
        text = str(err) if isinstance(err, PayloadError) else "Invalid JSON specified."
        return json_message(text, 400)
    try:
        result = await ingest.write(measurements, key, device_of(body), Context())
    except Forbidden as err:
        ingest.forbidden(key, request.remote, str(err))
        return json_message(f"403: Forbidden: {err}", 403)
    except PlanLimitError as err:  # a new device or entity past the home's plan
        ingest.forbidden(key, request.remote, str(err))
        return _json(err.as_dict(), 403)
    return _json(result, 201)  # the readings are stored: created, as the device API's contract says


def _admin(request: web.Request) -> Any:
    user = request[USER_KEY]
    return user if user is not None and user.is_admin else None


async def create_key(request: web.Request) -> web.Response:
    """POST /api/v1/apikeys {name, expires_days?}: the raw key is in this answer only."""
    ingest: Ingest = request.app[INGEST_KEY]
    user = _admin(request)
    if user is None:
        return json_message("401: Unauthorized (admins only)", 401)
    try:
        body = loads(await request.read())
    except ValueError:
        return json_message("Invalid JSON specified.", 400)
    fields = body if isinstance(body, dict) else {}
    name, days, device = fields.get("name"), fields.get("expires_days"), fields.get("device")
    backfill = fields.get("backfill_days", DEFAULT_BACKFILL_DAYS)
    if not isinstance(name, str) or not 1 <= len(name) <= 100:
        return json_message("Field 'name' must be text of 1-100 characters", 400)
    if days is not None and (not _positive(days) or days > MAX_EXPIRES_DAYS):
        return json_message(f"Field 'expires_days' must be a positive number of days, at most {MAX_EXPIRES_DAYS}", 400)
    if device is not None and (not isinstance(device, str) or not 1 <= len(device) <= 100):
        return json_message("Field 'device' must be text of 1-100 characters", 400)
    if not _positive(backfill) or backfill > MAX_BACKFILL_DAYS:
        return json_message(f"Field 'backfill_days' must be a number of days, at most {MAX_BACKFILL_DAYS}", 400)
    audit = request.app[HUB_KEY].require_auth().audit
    try:
        raw, key = await ingest.keys.create(name, days, user.id, device=device, backfill_days=backfill)
    except ValueError as err:
        return json_message(f"Field 'device': {err}", 400)
    audit.record(user, "create_api_key", f"{key.id} {key.prefix} device={key.device}", "ok", request.remote)
    return _json({**key.as_dict(), "key": raw}, 201)


def _positive(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and value > 0 and value == value


async def list_keys(request: web.Request) -> web.Response:
    """GET /api/v1/apikeys: every key without its secret."""
    if _admin(request) is None:
        return json_message("401: Unauthorized (admins only)", 401)
    ingest: Ingest = request.app[INGEST_KEY]
    return _json([key.as_dict() for key in await ingest.keys.list()])


async def revoke_key(request: web.Request) -> web.Response:
    """DELETE /api/v1/apikeys/{id}: the key stops working at once."""
    user = _admin(request)
    if user is None:
        return json_message("401: Unauthorized (admins only)", 401)
    ingest: Ingest = request.app[INGEST_KEY]
    audit = request.app[HUB_KEY].require_auth().audit
    key_id = request.match_info["key_id"]
    if not await ingest.keys.revoke(key_id):
        return json_message("No live key with this id.", 404)
    audit.record(user, "revoke_api_key", key_id, "ok", request.remote)
    return _json({"id": key_id, "revoked": True})


def add_routes(app: web.Application, ingest: Ingest) -> None:
    """Add the telemetry and key routes."""
    app[INGEST_KEY] = ingest
    app.router.add_post("/api/v1/telemetry", post_telemetry)
    app.router.add_post("/api/v1/apikeys", create_key)
    app.router.add_get("/api/v1/apikeys", list_keys)
    app.router.add_delete("/api/v1/apikeys/{key_id}", revoke_key)
    describe(app, OPENAPI_PATHS, schemas=OPENAPI_SCHEMAS)


_KEY_ID = {"name": "key_id", "in": "path", "required": True, "schema": {"type": "string"}}
OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/telemetry": {"post": {
        "operationId": "postTelemetry", "tags": ["telemetry"], "summary": "Send a device's measurements (device API key)",
        "description": "Each measurement becomes an entity of the key's device; a reading stamped earlier than "
                       "now goes to history at its own time (within the key's backfill days).",
        "security": [{"deviceKey": []}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": ref("TelemetryRequest")}}},
        "responses": {"201": json_body(ref("TelemetryResult"), "Stored: live states, and history at each reading's own time"),
                      **errors(400, 401, 403, 429)},
    }},
    "/api/v1/apikeys": {
        "get": {"operationId": "listApiKeys", "tags": ["telemetry"], "summary": "Every device API key (admins)",
                "responses": {"200": json_body({"type": "array", "items": ref("ApiKey")}, "The keys, without their secret"),
                              **errors(401)}},
        "post": {"operationId": "createApiKey", "tags": ["telemetry"], "summary": "Make a device API key (admins)",
                 "requestBody": {"required": True, "content": {"application/json": {"schema": ref("ApiKeyRequest")}}},
                 "responses": {"201": json_body({"allOf": [ref("ApiKey"), {
                     "type": "object", "required": ["key"],
                     "properties": {"key": {"type": "string", "description": "The secret: shown in this answer only"}}}]},
                     "The key"), **errors(400, 401)}},
    },
    "/api/v1/apikeys/{key_id}": {"delete": {
        "operationId": "revokeApiKey", "tags": ["telemetry"], "summary": "Revoke a device API key at once (admins)",
        "parameters": [_KEY_ID],
        "responses": {"200": json_body({"type": "object", "required": ["id", "revoked"], "properties": {
            "id": {"type": "string"}, "revoked": {"const": True}}}, "Revoked"), **errors(401, 404)},
    }},
}
OPENAPI_SCHEMAS: dict[str, Any] = {
    "TelemetryRequest": {
        "type": "object", "required": ["measurements"],
        "properties": {
            "device": {"type": ["string", "null"], "description": "Optional: must be the key's device when given"},
            "ts": {"type": ["number", "string", "null"], "description": "The readings' time: Unix seconds or ISO 8601"},
            "measurements": {
                "type": "object", "minProperties": 1, "maxProperties": 500,
                "description": "By name: a number, text, boolean, a JSON object, or "
                               "`{value, unit, device_class, state_class, ts, attributes, name}`",
                "additionalProperties": True,
            },
        },
        "example": {"device": "garden", "measurements": {"temperature": 21.5, "power": {"value": 120.5, "unit": "W"}}},
    },
    "TelemetryResult": {
        "type": "object", "required": ["written", "backfilled", "entities"],
        "properties": {"written": {"type": "integer"}, "backfilled": {"type": "integer"},
                       "entities": {"type": "array", "items": {"type": "string"}}},
    },
    "ApiKeyRequest": {
        "type": "object", "required": ["name"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 100},
            "expires_days": {"type": ["number", "null"], "exclusiveMinimum": 0, "maximum": MAX_EXPIRES_DAYS,
                             "description": "Lifetime in days (null or left out: no expiry)"},
            "device": {"type": ["string", "null"], "minLength": 1, "maxLength": 100,
                       "description": "Bind the key to this device: it writes that device's entities only"},
            "backfill_days": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_BACKFILL_DAYS},
        },
    },
    "ApiKey": {
        "type": "object", "required": ["id", "name", "prefix", "created_at"],
        "properties": {
            "id": {"type": "string"}, "name": {"type": "string"}, "prefix": {"type": "string"},
            "created_by": {"type": ["string", "null"]}, "created_at": {"type": "string"},
            "expires_at": {"type": ["string", "null"]}, "last_used_at": {"type": ["string", "null"]},
            "usage_count": {"type": "integer"}, "revoked_at": {"type": ["string", "null"]},
            "device": {"type": ["string", "null"]}, "backfill_days": {"type": "number"},
        },
    },
}


def log_rejection(remote: str | None, why: str, last: list[float]) -> None:
    """Log a refused request at most once a minute (a misconfigured device retries forever)."""
    now = time.monotonic()
    if now - last[0] >= 60:
        last[0] = now
        _LOGGER.warning("Refused telemetry from %s: %s", remote, why)
