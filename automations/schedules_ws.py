"""Home Assistant's WebSocket commands for schedule helpers: schedule/list, create, update, delete.

The shapes of HA's storage-collection commands, so its frontend and clients manage the hub's
schedules: `schedule/create {name, icon, monday: [{from, to}], ...}` answers the stored item,
`schedule/update {schedule_id, ...}` merges the given fields into it, `schedule/delete
{schedule_id}`. Listing is open to every user; changes are for admins (as in HA). The same
store as /api/v1/schedules and the UI (schedule_store.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automations.api_v1 import BodyError
from automations.schedule_store import STORE, ScheduleNotEditable, vars_of
from automations.weekly_schedule import as_stored

if TYPE_CHECKING:
    from hub.core.hub import Hub

_ENVELOPE = ("id", "type")


def _fields(msg: dict[str, Any], *skip: str) -> dict[str, Any]:
    return {k: v for k, v in msg.items() if k not in _ENVELOPE and k not in skip}


def _refused(connection: Any, msg_id: int, err: BodyError) -> None:
    connection.send_error(msg_id, "invalid_format", str(err))


async def ws_list(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
    """schedule/list: the stored schedules (HA lists its storage collection, not YAML)."""
    store = hub.runtime[STORE]
    connection.send_result(msg["id"], [as_stored(vars_of(e), i) for i, e in store.stored.items()])


async def ws_create(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
    """schedule/create."""
    try:
        entity = await hub.runtime[STORE].create(_fields(msg))
    except BodyError as err:
        _refused(connection, msg["id"], err)
        return
    _audit(hub, connection, "schedule/create", entity.entity_id)
    connection.send_result(msg["id"], as_stored(vars_of(entity), entity.schedule_id))


async def ws_update(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
    """schedule/update: the given fields replace those of the stored item."""
    store = hub.runtime[STORE]
    schedule_id = msg["schedule_id"]
    if schedule_id not in store.all():
        connection.send_error(msg["id"], "not_found", f"Unable to find schedule_id {schedule_id}")
        return
    try:
        current = {k: v for k, v in as_stored(vars_of(store.stored[schedule_id]), schedule_id).items() if k != "id"} \
            if schedule_id in store.stored else {}
        entity = await store.update(schedule_id, {**current, **_fields(msg, "schedule_id")})
    except ScheduleNotEditable as err:
        connection.send_error(msg["id"], "home_assistant_error", str(err))
        return
    except BodyError as err:
        _refused(connection, msg["id"], err)
        return
    _audit(hub, connection, "schedule/update", entity.entity_id)
    connection.send_result(msg["id"], as_stored(vars_of(entity), schedule_id))


async def ws_delete(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
    """schedule/delete."""
    store = hub.runtime[STORE]
    schedule_id = msg["schedule_id"]
    if schedule_id not in store.all():
        connection.send_error(msg["id"], "not_found", f"Unable to find schedule_id {schedule_id}")
        return
    try:
        await store.delete(schedule_id)
    except ScheduleNotEditable as err:
        connection.send_error(msg["id"], "home_assistant_error", str(err))
        return
    _audit(hub, connection, "schedule/delete", f"schedule.{schedule_id}")
    connection.send_result(msg["id"])


def _audit(hub: Hub, connection: Any, action: str, target: str) -> None:
    if hub.auth is not None:
        hub.auth.audit.record(connection.user, action, target, "ok")


def register(register_command: Any) -> None:
    """Add the four commands (their bodies are checked by the store, errors naming the field)."""
    register_command("schedule/list", ws_list, None)
    register_command("schedule/create", ws_create, None, admin_only=True)
    register_command("schedule/update", ws_update, None, admin_only=True)
    register_command("schedule/delete", ws_delete, None, admin_only=True)
