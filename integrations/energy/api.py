"""The energy API the web UI uses: WebSocket commands and their /api/v1 equivalents.

- `energy/report` (`view`, `date`, `device_id`), `GET /api/v1/energy/report?view=&date=&device_id=`:
  a day, week, month or year in bars per device, its totals, time-of-use bands, and the same
  point of the previous period.
- `energy/budgets`, `GET /api/v1/energy/budgets`: every budget's use so far, limit, projected
  end-of-period use and cost, and how the projection was made.
- `energy/info`, `GET /api/v1/energy/info`: meters, current prices, utility meters, budgets.
- `energy/usage` (`start`, `end`, `group_by`, `period`, `entity_ids`): kWh and cost per device
  or entity and hour, day, week, month or year between two times.

Reports come from the recorder's hour tier (raw points for the hours it does not hold yet);
see docs/energy.md for every field.
"""

from __future__ import annotations

import time
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import voluptuous as vol
from aiohttp import web

from hub.api.openapi import errors, json_body
from hub.api.ws_messages import dumps
from hub.exceptions import HubError
from hub.recorder.api import parse_time
from integrations.energy import catalog, projection, report
from integrations.energy import usage as usage_query
from integrations.energy.cycles import cycle_start

if TYPE_CHECKING:
    from hub.core.hub import Hub
    from hub.recorder import Recorder
    from integrations.energy.accounting import EnergyManager


class EnergyQueryError(HubError):
    """A query the energy API cannot answer; `code` is the WebSocket error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _parts(hub: Hub) -> tuple[EnergyManager, Recorder]:
    from hub.recorder import get_recorder
    from integrations.energy import manager_of

    manager = manager_of(hub)
    recorder = get_recorder(hub)
    if manager is None or recorder is None:
        raise EnergyQueryError("not_found", "Energy reports need the energy and recorder integrations (energy:, recorder:)")
    return manager, recorder


def parse_date(value: str | None, manager: EnergyManager) -> float:
    """Return the time a `date` parameter names: a local date (2024-05-14), an ISO 8601 time, or now."""
    if value is None or value == "":
        return manager.clock.time()
    text = str(value).strip()
    if len(text) == 10:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            pass
        else:
            return datetime(day.year, day.month, day.day, tzinfo=manager.zone).timestamp()
    found = parse_time(text)
    if found is None:
        raise EnergyQueryError("invalid_format", f"Invalid date {value!r}: expected a date like 2024-05-14 or an ISO 8601 time")
    return found


async def energy_report(hub: Hub, view: str, when: str | None = None, device_id: str | None = None) -> dict[str, Any]:
    """Return the report of a view ("day", "week", "month", "year") holding `when`, for all devices or one.

    Raises:
        EnergyQueryError: no energy or recorder integration, or a bad date or view.
    """
    manager, recorder = _parts(hub)
    if view not in report.VIEWS:
        raise EnergyQueryError("invalid_format", f"Invalid view {view!r}: expected one of {', '.join(report.VIEWS)}")
    at = parse_date(when, manager)
    meters = catalog.meters(hub, manager)
    if device_id:
        meters = {e: m for e, m in meters.items() if m.device_id == device_id}
    await recorder.flush_pending()
    began = time.perf_counter()
    bands: list[str] = []
    for tariff in manager.tariffs.values():
        bands += [band for band in tariff.bands() if band not in bands]
    found = await report.build(recorder.backend, meters, view, at, manager.clock.time(), manager.zone,
                               tier_until=recorder.hour_tier_until(), band_order=bands)
    found["currency"] = manager.currency
    found["device_id"] = device_id
    found["source"]["ms"] = round((time.perf_counter() - began) * 1000, 2)
    return found


async def energy_budgets(hub: Hub) -> list[dict[str, Any]]:
    """Return every budget with its use so far and its projection.

    Raises:
        EnergyQueryError: no energy or recorder integration.
    """
    manager, recorder = _parts(hub)
    meters = catalog.meters(hub, manager)
    await recorder.flush_pending()
    return await projection.budgets(hub, manager, meters, recorder.backend, recorder.hour_tier_until(),
                                    manager.clock.time())


def energy_info(hub: Hub) -> dict[str, Any]:
    """Return meters, prices, utility meters, budgets, and today's and this month's start.

    Raises:
        EnergyQueryError: the energy integration is not set up.
    """
    from integrations.energy import manager_of

    manager = manager_of(hub)
    if manager is None:
        raise EnergyQueryError("not_found", "The energy integration is not set up")
    now = manager.clock.time()
    info = manager.info()
    info["today_start"] = datetime.fromtimestamp(cycle_start(now, "daily", manager.zone), manager.zone).isoformat()
    info["month_start"] = datetime.fromtimestamp(cycle_start(now, "monthly", manager.zone), manager.zone).isoformat()
    return info


# -- WebSocket

REPORT_SCHEMA: dict[Any, Any] = {
    vol.Required("view"): vol.In(tuple(report.VIEWS)),
    vol.Optional("date"): vol.Any(None, str),
    vol.Optional("device_id"): vol.Any(None, str),
}

USAGE_SCHEMA: dict[Any, Any] = {
    vol.Required("start"): str,
    vol.Optional("end"): str,
    vol.Optional("group_by", default="device"): vol.In(("device", "entity")),
    vol.Optional("period", default="day"): vol.In(tuple(usage_query.PERIODS)),
    vol.Optional("entity_ids"): [str],
}


async def ws_report(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
    """Answer energy/report."""
    try:
        result = await energy_report(hub, msg["view"], msg.get("date"), msg.get("device_id"))
    except EnergyQueryError as err:
        connection.send_error(msg["id"], err.code, str(err))
        return
    connection.send_result(msg["id"], result)


async def ws_budgets(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
    """Answer energy/budgets."""
    try:
        result = await energy_budgets(hub)
    except EnergyQueryError as err:
        connection.send_error(msg["id"], err.code, str(err))
        return
    connection.send_result(msg["id"], result)


async def ws_info(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
    """Answer energy/info."""
    try:
        connection.send_result(msg["id"], energy_info(hub))
    except EnergyQueryError as err:
        connection.send_error(msg["id"], err.code, str(err))


async def ws_usage(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
    """Answer energy/usage: kWh and cost per device or entity and period between start and end."""
    try:
        manager, recorder = _parts(hub)
    except EnergyQueryError as err:
        connection.send_error(msg["id"], err.code, str(err))
        return
    start = parse_time(msg["start"])
    end = parse_time(msg["end"]) if msg.get("end") else hub.clock.time()
    if start is None:
        connection.send_error(msg["id"], "invalid_format", "Invalid start: expected an ISO 8601 time")
        return
    if end is None or end <= start:
        connection.send_error(msg["id"], "invalid_format", "Invalid end: expected an ISO 8601 time after start")
        return
    meters = catalog.meters(hub, manager)
    wanted = msg.get("entity_ids")
    if wanted is not None:
        meters = {e: m for e, m in meters.items() if e in wanted}
    await recorder.flush_pending()
    begun = time.perf_counter()
    found = await usage_query.usage(recorder.backend, {e: m.spec for e, m in meters.items()}, start, end,
                                    msg["period"], manager.zone, tier_until=recorder.hour_tier_until(),
                                    now=hub.clock.time())
    by_device = msg["group_by"] == "device"
    groups = {e: ((m.device_id, m.device_name or m.name) if by_device and m.device_id else (e, m.name))
              for e, m in meters.items()}
    result, total = usage_query.grouped(found, groups, manager.zone)
    connection.send_result(msg["id"], {
        "currency": manager.currency,
        "period": msg["period"],
        "group_by": msg["group_by"],
        "start": datetime.fromtimestamp(start, manager.zone).isoformat(),
        "end": datetime.fromtimestamp(end, manager.zone).isoformat(),
        "groups": result,
        "total": total,
        "source": {"hour_rows": found.hour_rows, "raw_points": found.raw_points,
                   "raw_from": datetime.fromtimestamp(found.raw_from, manager.zone).isoformat() if found.raw_from else None,
                   "ms": round((time.perf_counter() - begun) * 1000, 2)},
    })


def register_commands(register: Any) -> None:
    """Register the energy WebSocket commands."""
    register("energy/report", ws_report, REPORT_SCHEMA)
    register("energy/budgets", ws_budgets, {})
    register("energy/info", ws_info, {})
    register("energy/usage", ws_usage, USAGE_SCHEMA)


# -- REST (/api/v1)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=dumps(data), status=status, content_type="application/json")


def _error(err: EnergyQueryError) -> web.Response:
    return _json({"message": str(err), "code": err.code}, 404 if err.code == "not_found" else 400)


def http_routes(hub: Hub) -> list[tuple[str, Any]]:
    """Return the GET routes of the energy API under /api/v1/energy."""

    async def get_report(request: web.Request) -> web.Response:
        query = request.query
        try:
            return _json(await energy_report(hub, query.get("view", "month"), query.get("date"), query.get("device_id")))
        except EnergyQueryError as err:
            return _error(err)

    async def get_budgets(request: web.Request) -> web.Response:
        try:
            return _json(await energy_budgets(hub))
        except EnergyQueryError as err:
            return _error(err)

    async def get_info(request: web.Request) -> web.Response:
        try:
            return _json(energy_info(hub))
        except EnergyQueryError as err:
            return _error(err)

    return [("/api/v1/energy/report", get_report), ("/api/v1/energy/budgets", get_budgets),
            ("/api/v1/energy/info", get_info)]


def _energy_errors(*codes: int) -> dict[str, Any]:
    responses = errors(*codes, schema="EnergyError")
    if "404" in responses:
        responses["404"]["description"] = "No `energy:` or `recorder:` in the configuration"
    return responses


OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/energy/report": {"get": {
        "operationId": "energyReport", "tags": ["energy"], "summary": "A day, week, month or year of energy per device",
        "description": "As the `energy/report` WebSocket command; every field is in docs/energy.md.",
        "parameters": [
            {"name": "view", "in": "query", "schema": {"type": "string", "enum": list(report.VIEWS), "default": "month"}},
            {"name": "date", "in": "query", "description": "A local date or an ISO 8601 time inside the period (default now)",
             "schema": {"type": "string"}},
            {"name": "device_id", "in": "query", "description": "One device's meters only", "schema": {"type": "string"}},
        ],
        "responses": {"200": json_body({"type": "object", "required": ["view", "start", "end", "bars", "devices", "totals"]},
                                       "The report"), **_energy_errors(400, 401, 404)},
    }},
    "/api/v1/energy/budgets": {"get": {
        "operationId": "energyBudgets", "tags": ["energy"], "summary": "Every budget's use, limit and projection",
        "responses": {"200": json_body({"type": "array", "items": {"type": "object"}}, "The budgets"),
                      **_energy_errors(401, 404)},
    }},
    "/api/v1/energy/info": {"get": {
        "operationId": "energyInfo", "tags": ["energy"], "summary": "Meters, current prices, utility meters, budgets",
        "responses": {"200": json_body({"type": "object"}, "The energy configuration"), **_energy_errors(401, 404)},
    }},
}
OPENAPI_SCHEMAS: dict[str, Any] = {"EnergyError": {
    "type": "object", "required": ["message"],
    "properties": {"message": {"type": "string"}, "code": {"type": "string", "enum": ["invalid_format", "not_found"]}},
}}
