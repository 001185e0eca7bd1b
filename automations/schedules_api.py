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
    BodyError,
    Items,
    Refusal,
    allowed,
    answer,
    audit,
    hub_of,
    read_object,
    refuse,
)
from automations.schedule_store import STORE, ScheduleNotEditable, ScheduleStore
from automations.weekly_schedule import DAYS, WeeklyScheduleEntity, format_time

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


def _find(hub: Hub, schedule_id: str) -> Any:
    store = _store(hub)
    return store.all().get(schedule_id) if store is not None else None


SCHEDULES: Items[Any] = Items("schedule", "schedules", _find, target=lambda schedule_id: f"schedule.{schedule_id}",
                              conflicts=(ScheduleNotEditable,))


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

    async def update(schedule_id: str, _entity: Any, body: dict[str, Any]) -> web.Response:
        store = _store(hub)
        assert store is not None  # SCHEDULES found the schedule in it
        entity = await store.update(schedule_id, body)
        return answer(schedule_as_dict(hub, schedule_id, entity, store))

    return await SCHEDULES.change(request, "update", update)


async def delete_schedule(request: web.Request) -> web.Response:
    """DELETE /api/v1/schedules/{id} (admins)."""
    hub = hub_of(request)

    async def delete(schedule_id: str, _entity: Any, _body: dict[str, Any]) -> web.Response:
        store = _store(hub)
        assert store is not None  # SCHEDULES found the schedule in it
        await store.delete(schedule_id)
        return web.Response(status=204)

    return await SCHEDULES.change(request, "delete", delete, body=False)


async def _switch(request: web.Request, enabled: bool) -> web.Response:
    hub = hub_of(request)
    action = "enable" if enabled else "disable"
    try:
        schedule_id, _ = SCHEDULES.opening(request, action, admin=False)
    except Refusal as refusal:
        return refusal.response()
    store = _store(hub)
    assert store is not None  # SCHEDULES found the schedule in it
    entity = await store.set_enabled(schedule_id, enabled)
    audit(request, f"schedule/{action}", str(entity.entity_id), "ok")
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


def register_schedule_routes(app: web.Application) -> None:
    """Add the /api/v1/schedules routes and describe them in the OpenAPI document."""
    app.router.add_get("/api/v1/schedules", list_schedules)
    app.router.add_post("/api/v1/schedules", create_schedule)
    app.router.add_get("/api/v1/schedules/{schedule_id}", get_schedule)
    app.router.add_put("/api/v1/schedules/{schedule_id}", update_schedule)
    app.router.add_delete("/api/v1/schedules/{schedule_id}", delete_schedule)
    app.router.add_post("/api/v1/schedules/{schedule_id}/enable", enable_schedule)
    app.router.add_post("/api/v1/schedules/{schedule_id}/disable", disable_schedule)
    SCHEDULES.describe(
        app, schemas={"Schedule": SCHEDULE_SCHEMA, "ScheduleInput": SCHEDULE_INPUT_SCHEMA, "ScheduleBlock": _BLOCK},
        summaries={"list": "List schedules", "create": "Add a weekly schedule (admins)", "get": "One schedule",
                   "replace": "Change a stored schedule (admins)", "delete": "Remove a stored schedule (admins)"},
        create_errors=(400, 401, 404, 409), delete_errors=(401, 404, 409),
        actions={"enable": "Switch a schedule on again; audited",
                 "disable": "Switch a schedule off (a weekly one stays off, a cron one does not run); audited"})
