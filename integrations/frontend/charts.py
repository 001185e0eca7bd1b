"""Saved history charts, shared by everyone who uses this hub, kept in its database."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import voluptuous as vol
from sqlalchemy import delete, select, update

from hub.storage.models import table_of, utcnow
from hub.util import new_ulid
from integrations.frontend.models import SavedChartRow

if TYPE_CHECKING:
    from hub.core.hub import Hub

CHARTS = table_of(SavedChartRow)
RANGES = ("1h", "6h", "24h", "7d", "30d", "custom")
AGGREGATIONS = ("auto", "raw", "5minute", "hour", "day", "week", "month")  # auto: history/chart buckets
GROUPINGS = ("unit", "entity", "single")

# What a chart is; validated here so a bad client can never store something the UI cannot show.
CHART_CONFIG = vol.Schema(
    {
        vol.Required("entity_ids"): vol.All([vol.All(str, vol.Length(min=3, max=255))], vol.Length(min=1, max=50)),
        vol.Required("range"): vol.In(RANGES),
        vol.Optional("start"): vol.Any(None, str),
        vol.Optional("end"): vol.Any(None, str),
        vol.Required("aggregation"): vol.In(AGGREGATIONS),
        vol.Required("grouping"): vol.In(GROUPINGS),
        vol.Required("refresh_seconds"): vol.All(int, vol.Range(min=0, max=86400)),
    }
)
NAME = vol.All(str, vol.Strip, vol.Length(min=1, max=255))


def _chart(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "config": row.config,
        "created_by": row.created_by,
        "updated_at": row.updated_at.isoformat(),
    }


async def list_charts(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
    """Answer frontend/charts/list."""
    async with hub.require_db()() as session:
        rows = (await session.execute(select(SavedChartRow).order_by(SavedChartRow.name))).scalars().all()
    connection.send_result(msg["id"], [_chart(row) for row in rows])


async def save_chart(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
    """Answer frontend/charts/save: create, or replace the chart with the same id or name."""
    now = utcnow()
    name, config = msg["name"], msg["config"]
    async with hub.require_db()() as session, session.begin():
        query = select(SavedChartRow)
        if msg.get("chart_id"):
            query = query.where(SavedChartRow.id == msg["chart_id"])
        else:
            query = query.where(SavedChartRow.name == name)
        existing = (await session.execute(query)).scalar_one_or_none()
        if existing is None and msg.get("chart_id"):
            connection.send_error(msg["id"], "not_found", "Chart not found.")
            return
        clash = (
            await session.execute(select(SavedChartRow.id).where(SavedChartRow.name == name))
        ).scalar_one_or_none()
        if clash is not None and (existing is None or clash != existing.id):
            connection.send_error(msg["id"], "invalid_format", f"A chart named {name!r} already exists.")
            return
        if existing is None:
            row = SavedChartRow(
                id=new_ulid(), name=name, config=config, created_by=getattr(connection.user, "id", None),
                created_at=now, updated_at=now,
            )
            session.add(row)
        else:
            await session.execute(
                update(CHARTS).where(CHARTS.c.id == existing.id).values(name=name, config=config, updated_at=now)
            )
            row = SavedChartRow(id=existing.id, name=name, config=config, created_by=existing.created_by,
                                created_at=existing.created_at, updated_at=now)
    connection.send_result(msg["id"], _chart(row))


async def delete_chart(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
    """Answer frontend/charts/delete."""
    async with hub.require_db()() as session, session.begin():
        result = await session.execute(delete(CHARTS).where(CHARTS.c.id == msg["chart_id"]))
    if result.rowcount == 0:  # type: ignore[attr-defined]  # a DML statement's result is a CursorResult; AsyncSession.execute() is typed as returning Result
        connection.send_error(msg["id"], "not_found", "Chart not found.")
        return
    connection.send_result(msg["id"], None)


def _refuse_read_only(handler: Any) -> Any:
    """Saving and deleting change the hub's configuration, which read-only users may not."""

    async def guarded(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
        if getattr(connection.user, "role", None) == "read-only":
            connection.send_error(msg["id"], "unauthorized", "Unauthorized")
            return
        await handler(hub, connection, msg)

    return guarded


def register_commands(register: Any) -> None:
    """Register the chart commands."""
    register("frontend/charts/list", list_charts, {})
    register(
        "frontend/charts/save",
        _refuse_read_only(save_chart),
        {vol.Optional("chart_id"): str, vol.Required("name"): NAME, vol.Required("config"): CHART_CONFIG},
    )
    register("frontend/charts/delete", _refuse_read_only(delete_chart), {vol.Required("chart_id"): str})
