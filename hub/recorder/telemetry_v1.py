"""GET /api/v1/telemetry and GET /api/v1/telemetry/{device_id}: a device's history, paginated, JSON or CSV.

    GET /api/v1/telemetry?device_id=&entity_id=&metric=&start=&end=&aggregate=raw|1m|5m|1h|1d
                         &fn=mean|min|max|last|sum|count&limit=&cursor=&format=json|csv

Answered by the recorder (so on every history backend) through hub.recorder.telemetry.
A user's token (JWT or long-lived) reads any device; a device's API key (X-API-Key, or
Bearer) reads its own device only: anything else is 403 naming both devices. Errors are 400
with a message naming the parameter. The route lives with the recorder, beside
/api/history/period, because it is a history query that must work whether or not the HTTP
ingest integration (which issues device keys, through hub.api.device_keys) is enabled.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from hub.api.auth_middleware import bearer_token, device_key, resolve_token
from hub.api.device_keys import DEVICE_KEYS
from hub.api.keys import HUB_KEY
from hub.api.openapi import describe
from hub.api.ws_messages import dumps
from hub.core.states import valid_entity_id
from hub.exceptions import HubError
from hub.recorder.api import parse_time
from hub.recorder.buckets import coverage_of
from hub.recorder.telemetry import AGGREGATES, FUNCTIONS, MAX_LIMIT, CursorError, TelemetryQuery, decode_cursor, run_query
from hub.util import slugify

if TYPE_CHECKING:
    from hub.core.hub import Hub
    from hub.recorder.recorder import Recorder
    from hub.registry.entities import EntityEntry

PARAMETERS = ("device_id", "entity_id", "metric", "start", "end", "aggregate", "fn", "limit", "cursor", "format")
DEFAULT_SPAN = 86400.0
DEFAULT_LIMIT = 1000
MAX_TIME = 4_102_444_800.0  # 2100-01-01: later is no reading's time


class BadRequest(HubError):
    """A request to answer with status and message (the message names the parameter)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Series:
    """One entity the query reads, as the answer describes it."""

    entity_id: str
    metric: str
    device_id: str | None
    unit: str | None


def _error(status: int, message: str) -> web.Response:
    return web.Response(body=dumps({"message": message}), status=status, content_type="application/json")


def _time(request: web.Request, name: str) -> float | None:
    text = request.query.get(name)
    if text is None or text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        parsed = parse_time(text)
        if parsed is None:
            message = f"{name}: expected an ISO 8601 time or Unix seconds, got {text!r}"
            raise BadRequest(400, message) from None
        return _in_range(name, parsed)
    if value != value or value in (float("inf"), float("-inf")):
        message = f"{name}: expected an ISO 8601 time or Unix seconds, got {text!r}"
        raise BadRequest(400, message)
    return _in_range(name, value)


def _in_range(name: str, value: float) -> float:
    if not 0 <= value <= MAX_TIME:
        message = f"{name}: expected a time between 1970 and 2100, got {value!r}"
        raise BadRequest(400, message)
    return value


def _choice(request: web.Request, name: str, choices: Sequence[str], default: str) -> str:
    value = request.query.get(name, default)
    if value not in choices:
        message = f"{name}: expected one of {', '.join(choices)}, got {value!r}"
        raise BadRequest(400, message)
    return value


def _listed(request: web.Request, name: str) -> list[str]:
    return [part.strip() for value in request.query.getall(name, []) for part in value.split(",") if part.strip()]


def metric_of(hub: Hub, entry: EntityEntry) -> str:
    """Return an entity's metric name: the ingest measurement, else its object id without the device's name."""
    if entry.platform == "http_ingest" and ":" in entry.unique_id:
        return entry.unique_id.partition(":")[2]
    object_id = entry.entity_id.partition(".")[2]
    device = hub.device_registry.get(entry.device_id) if hub.device_registry and entry.device_id else None
    prefix = slugify(device.display_name, fallback="") + "_" if device is not None and device.display_name else ""
    return object_id[len(prefix) :] if prefix and object_id.startswith(prefix) and len(object_id) > len(prefix) else object_id


def _device_name(hub: Hub, device_id: str | None) -> str:
    device = hub.device_registry.get(device_id) if hub.device_registry and device_id else None
    return (device.display_name if device is not None else None) or device_id or "none"


async def _caller_device(request: web.Request, hub: Hub) -> tuple[bool, str | None, str]:
    """Return (a device key?, its device id, its device's name); a user token gives (False, None, "")."""
    raw = request.headers.get("X-API-Key", "").strip()
    token = bearer_token(request)
    if token and not raw and hub.auth is not None and await resolve_token(hub, token) is not None:
        return False, None, ""
    check = hub.runtime.get(DEVICE_KEYS)
    key = device_key(request)
    credential = await check(key) if check is not None and key else None
    if credential is None:
        raise BadRequest(401, "401: Unauthorized (send a user's token, or the device's API key in X-API-Key)")
    return True, credential.device_id, credential.device


def _series(request: web.Request, hub: Hub, device_id: str | None, by_key: bool, key_device: tuple[str | None, str]) -> list[Series]:
    registry = hub.require_entity_registry()
    entity_ids = [e.lower() for e in _listed(request, "entity_id")]
    for entity_id in entity_ids:
        if not valid_entity_id(entity_id):
            message = f"entity_id: {entity_id!r} is not an entity id (domain.object_id)"
            raise BadRequest(400, message)
    if by_key:
        own_id, own_name = key_device
        if device_id is not None and device_id != own_id:
            message = (f"device_id: this key belongs to device '{own_name}'; it may not read device "
                       f"'{_device_name(hub, device_id)}'")
            raise BadRequest(403, message)
        device_id = own_id
        if device_id is None:
            return []  # the key's device has sent nothing yet
    if device_id is None and not entity_ids:
        raise BadRequest(400, "device_id or entity_id: give a device, or one or more entity ids")
    if device_id is not None:
        if hub.require_device_registry().get(device_id) is None:
            message = f"device_id: no device {device_id!r}"
            raise BadRequest(404, message)
        entries = {e.entity_id: e for e in registry.entries_for_device(device_id)}
        for entity_id in entity_ids:
            if entity_id not in entries:
                status = 403 if by_key else 400
                message = f"entity_id: {entity_id} is not an entity of device '{_device_name(hub, device_id)}'"
                raise BadRequest(status, message)
        chosen = [entries[e] for e in entity_ids] if entity_ids else sorted(entries.values(), key=lambda e: e.entity_id)
        found = [Series(e.entity_id, metric_of(hub, e), device_id, _unit(hub, e)) for e in chosen]
    else:
        found = []
        for entity_id in entity_ids:
            entry = registry.get(entity_id)
            if entry is None:
                found.append(Series(entity_id, entity_id.partition(".")[2], None, _unit(hub, None, entity_id)))
            else:
                found.append(Series(entity_id, metric_of(hub, entry), entry.device_id, _unit(hub, entry)))
    metrics = {slugify(m, fallback="") for m in _listed(request, "metric")}
    if metrics:
        found = [s for s in found if s.metric in metrics or _device_class(hub, s.entity_id) in metrics]
    return found


def _unit(hub: Hub, entry: EntityEntry | None, entity_id: str | None = None) -> str | None:
    state = hub.states.get(entry.entity_id if entry is not None else entity_id or "")
    unit = state.attributes.get("unit_of_measurement") if state is not None else None
    return unit if isinstance(unit, str) else None


def _device_class(hub: Hub, entity_id: str) -> str | None:
    state = hub.states.get(entity_id)
    value = state.attributes.get("device_class") if state is not None else None
    return value if isinstance(value, str) else None


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


async def answer(request: web.Request, recorder: Recorder, device_id: str | None) -> web.Response:
    """Answer a telemetry query (device_id from the path, or None to read it from the query)."""
    hub = request.app[HUB_KEY]
    try:
        unknown = sorted(set(request.query) - set(PARAMETERS))
        if unknown:
            message = f"{unknown[0]}: unknown parameter; known: {', '.join(PARAMETERS)}"
            raise BadRequest(400, message)
        by_key, own_id, own_name = await _caller_device(request, hub)
        if device_id is None:
            device_id = request.query.get("device_id") or None
        series = _series(request, hub, device_id, by_key, (own_id, own_name))
        query = _query(request, [s.entity_id for s in series])
        fmt = _format(request)
    except BadRequest as err:
        return _error(err.status, str(err))
    await recorder.flush_pending()
    now = time.time()
    page = await run_query(recorder.backend, coverage_of(recorder.plan, recorder.tiers, now), query) if series else None
    rows = page.rows if page is not None else []
    metrics = {s.entity_id: s.metric for s in series}
    headers = {}
    if page is not None and page.next_cursor is not None:
        headers["X-Next-Cursor"] = page.next_cursor
        headers["Link"] = f'<{request.rel_url.update_query(cursor=page.next_cursor)}>; rel="next"'
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["time", "entity_id", "metric", "value"])
        writer.writerows((_iso(ts), e, metrics[e], "" if v is None else v) for ts, e, v in rows)
        return web.Response(text=buffer.getvalue(), content_type="text/csv", charset="utf-8", headers=headers)
    body = {
        "device_id": device_id if not by_key else own_id,
        "start": _iso(query.start),
        "end": _iso(query.end),
        "aggregate": query.aggregate,
        "fn": None if query.aggregate == "raw" else query.fn,
        "bucket_seconds": None if page is None or query.aggregate == "raw" else page.width or AGGREGATES[query.aggregate],
        "series": [{"entity_id": s.entity_id, "metric": s.metric, "device_id": s.device_id, "unit": s.unit} for s in series],
        "data": [{"time": _iso(ts), "ts": ts, "entity_id": e, "metric": metrics[e], "value": v} for ts, e, v in rows],
        "next_cursor": page.next_cursor if page is not None else None,
    }
    return web.Response(body=dumps(body), content_type="application/json", headers=headers)


def _format(request: web.Request) -> str:
    if "format" in request.query:
        return _choice(request, "format", ("json", "csv"), "json")
    return "csv" if "text/csv" in request.headers.get("Accept", "") else "json"


def _query(request: web.Request, entity_ids: list[str]) -> TelemetryQuery:
    aggregate = _choice(request, "aggregate", tuple(AGGREGATES), "raw")
    fn = _choice(request, "fn", FUNCTIONS, "mean")
    limit_text = request.query.get("limit", str(DEFAULT_LIMIT))
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LIMIT:
        message = f"limit: expected a whole number from 1 to {MAX_LIMIT}, got {limit_text!r}"
        raise BadRequest(400, message)
    start, end = _time(request, "start"), _time(request, "end")
    after = None
    cursor = request.query.get("cursor")
    if cursor:
        try:
            ts, entity_id, cursor_start, cursor_end, fingerprint = decode_cursor(cursor)
        except CursorError as err:
            raise BadRequest(400, f"cursor: {err}") from None
        for value in (ts, cursor_start, cursor_end):
            _in_range("cursor", value)
        start = cursor_start if start is None else start
        end = cursor_end if end is None else end
        after = (ts, entity_id)
    end = time.time() if end is None else end
    start = end - DEFAULT_SPAN if start is None else start
    if end < start:
        message = f"end: {_iso(end)} is before start {_iso(start)}"
        raise BadRequest(400, message)
    query = TelemetryQuery(entity_ids, start, end, aggregate, fn, int(limit_text), after)
    if cursor and fingerprint != query.fingerprint():
        raise BadRequest(400, "cursor: it belongs to another query (keep the other parameters as they were)")
    return query


def add_routes(app: web.Application, recorder: Recorder) -> None:
    """Add the two GET routes and describe them in the OpenAPI document."""

    async def by_query(request: web.Request) -> web.Response:
        return await answer(request, recorder, None)

    async def by_device(request: web.Request) -> web.Response:
        return await answer(request, recorder, request.match_info["device_id"])

    app.router.add_get("/api/v1/telemetry", by_query)
    app.router.add_get("/api/v1/telemetry/{device_id}", by_device)
    describe(app, OPENAPI_PATHS, schemas=OPENAPI_SCHEMAS)


def _parameter(name: str, description: str, schema: dict[str, Any], where: str = "query") -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path", "description": description, "schema": schema}


_COMMON = [
    _parameter("entity_id", "Entity ids to read (comma-separated or repeated); all of the device's when left out.",
               {"type": "string"}),
    _parameter("metric", "Metric names (a measurement's name, or a device_class such as power).", {"type": "string"}),
    _parameter("start", "ISO 8601 or Unix seconds; default end minus 24 hours. Buckets start at the bucket "
               "boundary at or before it (multiples of the width since the epoch, UTC).", {"type": "string"}),
    _parameter("end", "ISO 8601 or Unix seconds; default now.", {"type": "string"}),
    _parameter("aggregate", "raw points, or buckets of a minute, 5 minutes, an hour or a day (read from the matching "
               "tier where the downsampler has filled it, else from raw points: the same numbers).",
               {"type": "string", "enum": list(AGGREGATES), "default": "raw"}),
    _parameter("fn", "Per bucket: time-weighted mean, min, max, last value, sum (the increase of a counter, "
               "resets counted as new use), or count of points.",
               {"type": "string", "enum": list(FUNCTIONS), "default": "mean"}),
    _parameter("limit", "Rows per page.", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}),
    _parameter("cursor", "next_cursor of the page before (opaque).", {"type": "string"}),
    _parameter("format", "json (default) or csv; an Accept: text/csv header also asks for CSV.",
               {"type": "string", "enum": ["json", "csv"]}),
    _parameter("X-API-Key", "A device's API key instead of a user's token: it reads its own device only.",
               {"type": "string"}, "header"),
]
_MESSAGE = {"application/json": {"schema": {"$ref": "#/components/schemas/TelemetryMessage"}}}
_ERRORS = {
    "400": {"description": "A parameter is wrong; the message names it.", "content": _MESSAGE},
    "401": {"description": "No valid user token or device key.", "content": _MESSAGE},
    "403": {"description": "A device key asked for another device's data; the message names both.", "content": _MESSAGE},
    "404": {"description": "No such device.", "content": _MESSAGE},
}
_OK = {
    "description": "One page of telemetry, oldest first; next_cursor (also X-Next-Cursor and Link: rel=next) reads on.",
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/TelemetryPage"}},
        "text/csv": {"schema": {"type": "string", "description": "time,entity_id,metric,value rows"}},
    },
}
_SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {"deviceKey": []}]
OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/telemetry": {
        "get": {
            "summary": "Query telemetry: raw points or bucket aggregates, paginated",
            "operationId": "queryTelemetry",
            "tags": ["telemetry"],
            "security": _SECURITY,
            "parameters": [_parameter("device_id", "The device (registry id); a device key reads its own.", {"type": "string"}), *_COMMON],
            "responses": {"200": _OK, **_ERRORS},
        }
    },
    "/api/v1/telemetry/{device_id}": {
        "get": {
            "summary": "Query one device's telemetry",
            "operationId": "queryDeviceTelemetry",
            "tags": ["telemetry"],
            "security": _SECURITY,
            "parameters": [_parameter("device_id", "The device (registry id).", {"type": "string"}, "path"), *_COMMON],
            "responses": {"200": _OK, **_ERRORS},
        }
    },
}
OPENAPI_SCHEMAS: dict[str, Any] = {
    "TelemetryMessage": {"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]},
    "TelemetryPage": {
        "type": "object",
        "required": ["device_id", "start", "end", "aggregate", "fn", "bucket_seconds", "series", "data", "next_cursor"],
        "properties": {
            "device_id": {"type": ["string", "null"]},
            "start": {"type": "string", "format": "date-time"},
            "end": {"type": "string", "format": "date-time"},
            "aggregate": {"type": "string", "enum": list(AGGREGATES)},
            "fn": {"type": ["string", "null"], "enum": [*FUNCTIONS, None]},
            "bucket_seconds": {"type": ["number", "null"], "description": "The width used (wider than asked for "
                               "where only the tiers still hold the range)."},
            "series": {"type": "array", "items": {"type": "object", "properties": {
                "entity_id": {"type": "string"}, "metric": {"type": "string"},
                "device_id": {"type": ["string", "null"]}, "unit": {"type": ["string", "null"]}}}},
            "data": {"type": "array", "items": {"type": "object", "required": ["time", "ts", "entity_id", "metric", "value"],
                     "properties": {"time": {"type": "string", "format": "date-time"}, "ts": {"type": "number"},
                                    "entity_id": {"type": "string"}, "metric": {"type": "string"},
                                    "value": {"type": ["number", "string", "null"]}}}},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
}
