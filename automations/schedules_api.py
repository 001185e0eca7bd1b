"""Schedules over the device API: /api/v1/schedules, Home Assistant's weekly schedules.

    GET    /api/v1/schedules                 every schedule (any role)
    POST   /api/v1/schedules                 add a weekly schedule (admins), 201
    GET    /api/v1/schedules/{id}            one schedule (any role)
    PUT    /api/v1/schedules/{id}            change a stored one (admins)
    DELETE /api/v1/schedules/{id}            remove a stored one (admins)
    POST   /api/v1/schedules/{id}/enable     switch it on again (every role but read-only), audited
    POST   /api/v1/schedules/{id}/disable    switch it off: a weekly one stays off, a cron one does not run

Bodies are Home Assistant's schedule shape: `{name, icon, monday: [{from, to, data}], ...}`.
Schedules from configuration.yaml are listed (`source: yaml`, `editable: false`) and can be
switched off and on, not edited here. The hub's cron schedules show as `kind: cron`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from automations.api_v1 import (
    ERROR_SCHEMA,
    BodyError,
    allowed,
    answer,
    audit,
    hub_of,
    read_object,
    refuse,
    responses,
)
from automations.schedule_store import STORE, ScheduleNotEditable, ScheduleStore
from automations.weekly_schedule import DAYS, WeeklyScheduleEntity, format_time
from hub.api.openapi import describe

if TYPE_CHECKING:
    from hub.core.hub import Hub


def _store(hub: Hub) -> ScheduleStore | None:
    return hub.runtime.get(STORE)


def schedule_as_dict(hub: Hub, schedule_id: str, entity: Any, store: ScheduleStore) -> dict[str, Any]:
    """A schedule as the API shows it."""
    state = hub.states.get(entity.entity_id)
    out: dict[str, Any] = {
        "id": schedule_id,
        "entity_id": entity.entity_id,
        "name": entity.name,
        "icon": entity.icon,
        "kind": "weekly" if isinstance(entity, WeeklyScheduleEntity) else "cron",
        "source": "storage" if schedule_id in store.stored else "yaml",
        "editable": schedule_id in store.stored,
        "enabled": entity.enabled,
        "state": state.state if state is not None else None,
    }
    if isinstance(entity, WeeklyScheduleEntity):
        out["next_event"] = entity.next_event.isoformat() if entity.next_event else None
        for day in DAYS:
            out[day] = [{"from": format_time(b["from"]), "to": format_time(b["to"]),
                         **({"data": b["data"]} if "data" in b else {})} for b in entity.blocks[day]]
    else:
        out["next_event"] = entity.next_run.isoformat() if entity.next_run else None
        out["cron"] = entity.cron
        out["interval"] = entity.interval.total_seconds() if entity.interval is not None else None
    return out


def _not_set_up() -> web.Response:
    return refuse("The schedule integration is not set up: add `schedule:` to configuration.yaml", 404)


async def list_schedules(request: web.Request) -> web.Response:
    """GET /api/v1/schedules."""
    hub = hub_of(request)
    store = _store(hub)
    if store is None:
        return answer([])
    return answer([schedule_as_dict(hub, i, e, store) for i, e in sorted(store.all().items())])


async def get_schedule(request: web.Request) -> web.Response:
    """GET /api/v1/schedules/{id}."""
    hub = hub_of(request)
    store = _store(hub)
    schedule_id = request.match_info["schedule_id"]
    if store is None or schedule_id not in store.all():
        return refuse("Schedule not found.", 404)
    return answer(schedule_as_dict(hub, schedule_id, store.all()[schedule_id], store))


async def create_schedule(request: web.Request) -> web.Response:
    """POST /api/v1/schedules (admins)."""
    hub = hub_of(request)
    if not allowed(request, "schedule/create", "", admin=True):
        return refuse("Unauthorized", 401)
    store = _store(hub)
    if store is None:
        return _not_set_up()
    try:
        entity = await store.create(await read_object(request))
    except BodyError as err:
        taken = any(e.pointer == "/id" and "exists" in e.message for e in err.errors)
        return refuse(f"Invalid schedule: {err}", 409 if taken else 400, err.errors)
    audit(request, "schedule/create", entity.entity_id, "ok")
    return answer(schedule_as_dict(hub, entity.schedule_id, entity, store), 201)


async def update_schedule(request: web.Request) -> web.Response:
    """PUT /api/v1/schedules/{id} (admins)."""
    hub = hub_of(request)
    schedule_id = request.match_info["schedule_id"]
    if not allowed(request, "schedule/update", schedule_id, admin=True):
        return refuse("Unauthorized", 401)
    store = _store(hub)
    if store is None or schedule_id not in store.all():
        return refuse("Schedule not found.", 404)
    try:
        entity = await store.update(schedule_id, await read_object(request))
    except ScheduleNotEditable as err:
        return refuse(str(err), 409)
    except BodyError as err:
        return refuse(f"Invalid schedule: {err}", 400, err.errors)
    audit(request, "schedule/update", entity.entity_id, "ok")
    return answer(schedule_as_dict(hub, schedule_id, entity, store))


async def delete_schedule(request: web.Request) -> web.Response:
    """DELETE /api/v1/schedules/{id} (admins)."""
    hub = hub_of(request)
    schedule_id = request.match_info["schedule_id"]
    if not allowed(request, "schedule/delete", schedule_id, admin=True):
        return refuse("Unauthorized", 401)
    store = _store(hub)
    if store is None or schedule_id not in store.all():
        return refuse("Schedule not found.", 404)
    try:
        await store.delete(schedule_id)
    except ScheduleNotEditable as err:
        return refuse(str(err), 409)
    audit(request, "schedule/delete", f"schedule.{schedule_id}", "ok")
    return web.Response(status=204)


async def _switch(request: web.Request, enabled: bool) -> web.Response:
    hub = hub_of(request)
    schedule_id = request.match_info["schedule_id"]
    action = f"schedule/{'enable' if enabled else 'disable'}"
    if not allowed(request, action, f"schedule.{schedule_id}", admin=False):
        return refuse("Unauthorized", 401)
    store = _store(hub)
    if store is None or schedule_id not in store.all():
        return refuse("Schedule not found.", 404)
    entity = await store.set_enabled(schedule_id, enabled)
    audit(request, action, str(entity.entity_id), "ok")
    return answer(schedule_as_dict(hub, schedule_id, entity, store))


async def enable_schedule(request: web.Request) -> web.Response:
    """POST /api/v1/schedules/{id}/enable (control roles)."""
    return await _switch(request, True)


async def disable_schedule(request: web.Request) -> web.Response:
    """POST /api/v1/schedules/{id}/disable (control roles)."""
    return await _switch(request, False)


_BLOCK = {
    "type": "object",
    "required": ["from", "to"],
    "additionalProperties": False,
    "properties": {
        "from": {"type": "string", "pattern": r"^\d{1,2}:\d{2}(:\d{2})?$", "examples": ["07:00:00"]},
        "to": {"type": "string", "pattern": r"^\d{1,2}:\d{2}(:\d{2})?$", "examples": ["09:30:00", "24:00:00"]},
        "data": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}},
    },
}
_DAYS = {day: {"type": "array", "items": {"$ref": "#/components/schemas/ScheduleBlock"}} for day in DAYS}
SCHEDULE_SCHEMA = {
    "type": "object",
    "required": ["id", "entity_id", "name", "kind", "source", "editable", "enabled"],
    "properties": {
        "id": {"type": "string"},
        "entity_id": {"type": "string", "examples": ["schedule.heating"]},
        "name": {"type": "string"},
        "icon": {"type": ["string", "null"]},
        "kind": {"enum": ["weekly", "cron"]},
        "source": {"enum": ["storage", "yaml"]},
        "editable": {"type": "boolean"},
        "enabled": {"type": "boolean"},
        "state": {"type": ["string", "null"], "description": "on/off (weekly) or the next run (cron)"},
        "next_event": {"type": ["string", "null"], "format": "date-time"},
        "cron": {"type": ["string", "null"]},
        "interval": {"type": ["number", "null"], "description": "seconds"},
        **_DAYS,
    },
}
SCHEDULE_INPUT_SCHEMA = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "pattern": "^[a-z0-9_]+$", "description": "POST only; made from the name when absent"},
        "name": {"type": "string", "minLength": 1, "maxLength": 255},
        "icon": {"type": ["string", "null"]},
        **_DAYS,
    },
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def register_schedule_routes(app: web.Application) -> None:
    """Add the /api/v1/schedules routes and describe them in the OpenAPI document."""
    app.router.add_get("/api/v1/schedules", list_schedules)
    app.router.add_post("/api/v1/schedules", create_schedule)
    app.router.add_get("/api/v1/schedules/{schedule_id}", get_schedule)
    app.router.add_put("/api/v1/schedules/{schedule_id}", update_schedule)
    app.router.add_delete("/api/v1/schedules/{schedule_id}", delete_schedule)
    app.router.add_post("/api/v1/schedules/{schedule_id}/enable", enable_schedule)
    app.router.add_post("/api/v1/schedules/{schedule_id}/disable", disable_schedule)
    ref = {"$ref": "#/components/schemas/Schedule"}
    param = [{"name": "schedule_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    body = {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ScheduleInput"}}}}
    one = _json(ref, "The schedule")
    tags = ["schedules"]
    describe(app, {
        "/api/v1/schedules": {
            "get": {"operationId": "listSchedules", "summary": "List schedules", "tags": tags,
                    "responses": responses({"200": _json({"type": "array", "items": ref}, "Every schedule")}, 401)},
            "post": {"operationId": "createSchedule", "summary": "Add a weekly schedule (admins)", "tags": tags, "requestBody": body,
                     "responses": responses({"201": _json(ref, "The new schedule")}, 400, 401, 404, 409)},
        },
        "/api/v1/schedules/{schedule_id}": {
            "get": {"operationId": "getSchedule", "summary": "One schedule", "tags": tags, "parameters": param,
                    "responses": responses({"200": one}, 401, 404)},
            "put": {"operationId": "replaceSchedule", "summary": "Change a stored schedule (admins)", "tags": tags, "parameters": param,
                    "requestBody": body, "responses": responses({"200": one}, 400, 401, 404, 409)},
            "delete": {"operationId": "deleteSchedule", "summary": "Remove a stored schedule (admins)", "tags": tags, "parameters": param,
                       "responses": responses({"204": {"description": "Removed"}}, 401, 404, 409)},
        },
        "/api/v1/schedules/{schedule_id}/enable": {
            "post": {"operationId": "enableSchedule", "summary": "Switch a schedule on again; audited", "tags": tags, "parameters": param,
                     "responses": responses({"200": one}, 401, 404)},
        },
        "/api/v1/schedules/{schedule_id}/disable": {
            "post": {"operationId": "disableSchedule", "summary": "Switch a schedule off (a weekly one stays off, a cron one does not run); audited",
                     "tags": tags, "parameters": param, "responses": responses({"200": one}, 401, 404)},
        },
    }, schemas={"Schedule": SCHEDULE_SCHEMA, "ScheduleInput": SCHEDULE_INPUT_SCHEMA, "ScheduleBlock": _BLOCK,
                "ErrorWithFields": ERROR_SCHEMA})
