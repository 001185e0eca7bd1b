"""History over the API: WebSocket commands, REST /api/history/period and a CSV export."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
import voluptuous as vol
from aiohttp import web

from hub.core.states import valid_entity_id
from hub.exceptions import HubError
from hub.recorder import chunked, compressed, history
from hub.recorder.history_cache import cached_history

if TYPE_CHECKING:
    from hub.core.hub import Hub
    from hub.recorder.recorder import Recorder

HISTORY_SCHEMA: dict[Any, Any] = {
    vol.Required("start_time"): str,
    vol.Optional("end_time"): str,
    vol.Required("entity_ids"): [str],
    vol.Optional("include_start_time_state", default=True): bool,
    vol.Optional("significant_changes_only", default=True): bool,
    vol.Optional("minimal_response", default=False): bool,
    vol.Optional("no_attributes", default=False): bool,
}
STATISTICS_SCHEMA: dict[Any, Any] = {
    vol.Required("start_time"): str,
    vol.Optional("end_time"): str,
    vol.Optional("statistic_ids"): [str],
    vol.Required("period"): vol.Any(*history.PERIODS),
    vol.Optional("units"): dict,
    vol.Optional("types"): [vol.Any(*history.STAT_TYPES)],
}


def parse_time(value: str | None) -> float | None:
    """Return epoch seconds of an ISO 8601 time (naive means UTC), or None when unparsable."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


class QueryError(HubError, ValueError):
    """A history request a client got wrong: code and message as Home Assistant sends them."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _span(msg: dict[str, Any]) -> tuple[float, float]:
    start = parse_time(msg.get("start_time"))
    if start is None:
        raise QueryError("invalid_start_time", "Invalid start_time")
    end = time.time()
    if msg.get("end_time"):
        parsed = parse_time(msg["end_time"])
        if parsed is None:
            raise QueryError("invalid_end_time", "Invalid end_time")
        end = parsed
    if end < start:
        raise QueryError("invalid_end_time", "end_time must be after start_time")
    return start, end


def entity_ids_of(msg: dict[str, Any]) -> list[str]:
    """Return a command's entity_ids, lower case and without repeats, or raise QueryError."""
    entity_ids = msg["entity_ids"]
    if not entity_ids or not all(valid_entity_id(e) for e in entity_ids):
        raise QueryError("invalid_entity_ids", "Invalid entity_ids")
    return list(dict.fromkeys(e.lower() for e in entity_ids))


async def history_json(recorder: Recorder, msg: dict[str, Any], start: float, end: float) -> bytes:
    """Return {entity_id: [compressed states]} in [start, end) as JSON bytes, encoded once."""
    entity_ids = entity_ids_of(msg)
    await recorder.flush_pending()
    minimal = msg.get("minimal_response", False)
    significant = msg.get("significant_changes_only", True)
    include_start = msg.get("include_start_time_state", True)
    now = time.time()
    plan = recorder.plan
    if minimal and (plan is None or start >= now - plan.default["raw"]):
        # The charts' query, all in raw retention: past five-minute spans come encoded from the cache.
        attributes = None
        if not msg.get("no_attributes", False):
            attributes = await recorder.backend.read_attributes(entity_ids, start, end)
        return await cached_history(
            recorder.history_cache, recorder.backend, entity_ids, start, end, now, attributes, include_start=include_start
        )
    # One entity read and encoded at a time: a day of 1 Hz points of every entity never sits in memory at once.
    return await compressed.history_bytes(
        recorder.backend,
        plan,
        entity_ids,
        start,
        end,
        include_start=include_start,
        significant_changes_only=significant,
        minimal_response=minimal,
        no_attributes=msg.get("no_attributes", False),
        now=now,
    )


async def history_command(recorder: Recorder, msg: dict[str, Any]) -> orjson.Fragment:
    """Answer `history/history_during_period`: {entity_id: [compressed states]}, pre-encoded."""
    start, end = _span(msg)
    entity_ids = entity_ids_of(msg)
    if start > time.time():
        return orjson.Fragment(b"{}")
    return orjson.Fragment(await history_json(recorder, {**msg, "entity_ids": entity_ids}, start, end))


async def statistics_command(recorder: Recorder, msg: dict[str, Any], time_zone: str) -> dict[str, Any]:
    """Answer `recorder/statistics_during_period`."""
    start, end = _span(msg)
    ids = msg.get("statistic_ids")
    if ids is None:
        ids = [s.entity_id for s in recorder.hub.states.all() if "state_class" in s.attributes]
    return await history.statistics_during_period(
        recorder.backend,
        ids,
        start,
        end,
        msg["period"],
        msg.get("types") or history.STAT_TYPES,
        time_zone,
    )


def websocket_commands(recorder: Recorder) -> list[tuple[str, Any, dict[Any, Any]]]:
    """Return (type, handler, schema) for each history command the recorder answers."""

    async def history_during_period(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
        try:
            result = await history_command(recorder, msg)
        except QueryError as err:
            connection.send_error(msg["id"], err.code, str(err))
            return
        connection.send_result(msg["id"], result)

    async def statistics_during_period(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
        try:
            result = await statistics_command(recorder, msg, hub.config.time_zone)
        except QueryError as err:
            connection.send_error(msg["id"], err.code, str(err))
            return
        connection.send_result(msg["id"], result)

    return [
        ("history/history_during_period", history_during_period, HISTORY_SCHEMA),
        ("recorder/statistics_during_period", statistics_during_period, STATISTICS_SCHEMA),
    ]


def _flag(request: web.Request, name: str) -> bool:
    value = request.query.get(name)
    return value is not None and value.lower() not in ("0", "false", "no")


def _query_span(request: web.Request) -> tuple[float, float]:
    raw_start = request.match_info.get("datetime") or request.query.get("start")
    if raw_start:
        start = parse_time(raw_start)
        if start is None:
            raise web.HTTPBadRequest(text='{"message": "Invalid datetime"}', content_type="application/json")
    else:
        start = time.time() - 86400
    end = start + 86400
    raw_end = request.query.get("end_time") or request.query.get("end")
    if raw_end:
        parsed = parse_time(raw_end)
        if parsed is None:
            raise web.HTTPBadRequest(text='{"message": "Invalid end_time"}', content_type="application/json")
        end = parsed
    return start, end


def _entity_ids(request: web.Request, key: str) -> list[str]:
    ids = [e.strip().lower() for e in request.query.get(key, "").split(",") if e.strip()]
    if not ids:
        message = f'{{"message": "{key} is missing"}}'
        raise web.HTTPBadRequest(text=message, content_type="application/json")
    if not all(valid_entity_id(e) for e in ids):
        raise web.HTTPBadRequest(text='{"message": "Invalid filter_entity_id"}', content_type="application/json")
    return ids


def http_routes(recorder: Recorder) -> list[tuple[str, Any]]:
    """Return (path, handler) pairs for GET routes."""

    async def period(request: web.Request) -> web.StreamResponse:
        start, end = _query_span(request)
        ids = _entity_ids(request, "filter_entity_id")
        if start > time.time():
            return web.json_response([])
        await recorder.flush_pending()
        # Written as it is read (chunked): a month of 1 Hz points never sits in memory at once.
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        parts = chunked.history_parts(
            recorder.backend,
            recorder.plan,
            ids,
            start,
            end,
            include_start=not _flag(request, "skip_initial_state"),
            significant_changes_only=_flag(request, "significant_changes_only"),
            minimal_response=_flag(request, "minimal_response"),
            no_attributes=_flag(request, "no_attributes"),
            now=time.time(),
        )
        pending: list[bytes] = []
        size = 0
        async for piece in parts:
            pending.append(piece)
            size += len(piece)
            if size >= 65536:
                await response.write(b"".join(pending))
                pending, size = [], 0
        await response.write(b"".join(pending))
        await response.write_eof()
        return response

    async def export_csv(request: web.Request) -> web.StreamResponse:
        start, end = _query_span(request)
        ids = _entity_ids(request, "entity_id")
        await recorder.flush_pending()
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": 'attachment; filename="history.csv"',
            }
        )
        await response.prepare(request)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["entity_id", "time", "state"])
        now = time.time()
        for entity_id in ids:
            # Read a window at a time, as /api/history/period: a year of points never sits in memory.
            windows = chunked.sample_windows(recorder.backend, recorder.plan, entity_id, start, end, include_start=False, now=now)
            async for _begin, _finish, samples in windows:
                for sample in samples:
                    writer.writerow([entity_id, history.iso_utc(max(sample.ts, start)), history.state_text(sample)])
                if buffer.tell() > 65536:
                    await response.write(buffer.getvalue().encode())
                    buffer.seek(0)
                    buffer.truncate()
        await response.write(buffer.getvalue().encode())
        await response.write_eof()
        return response

    return [
        ("/api/history/period", period),
        ("/api/history/period/{datetime}", period),
        ("/api/history/export.csv", export_csv),
    ]
