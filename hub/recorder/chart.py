"""WebSocket `history/chart`: history decimated on the hub to the points a chart can draw.

    {"id": 7, "type": "history/chart", "entity_ids": ["sensor.power"],
     "start_time": "2026-01-01T00:00:00Z", "end_time": "2026-01-02T00:00:00Z", "points": 300}

answers with min, max and time-weighted mean per bucket, column by column:

    {"bucket": 300, "start": 1767225600, "end": 1767312000, "source": "five_minute",
     "series": {"sensor.power": {"t": [...], "min": [...], "max": [...], "mean": [...], "last": [...]}}}

`t` holds bucket starts (Unix seconds, multiples of `bucket` since the epoch); `bucket` is the
smallest of a few widths (1 s ... 1 week) giving at most `points` buckets, widened where only the
tiers still hold the range. Entities without numeric history are left out (a text entity's
timeline still comes from history/history_during_period). A hub command beside Home
Assistant's, whose shapes stay as they are; the definitions are hub.recorder.buckets'.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import orjson
import voluptuous as vol

from hub.recorder.api import QueryError, entity_ids_of, parse_time
from hub.recorder.buckets import coverage_of, query_buckets, width_for

if TYPE_CHECKING:
    from hub.core.hub import Hub
    from hub.recorder.backends.base import HistoryBackend
    from hub.recorder.buckets import Coverage
    from hub.recorder.recorder import Recorder

DEFAULT_POINTS = 300
MAX_POINTS = 2000
CHART_SCHEMA: dict[Any, Any] = {
    vol.Required("entity_ids"): [str],
    vol.Required("start_time"): str,
    vol.Optional("end_time"): str,
    vol.Optional("points", default=DEFAULT_POINTS): vol.All(int, vol.Range(min=2, max=MAX_POINTS)),
}


async def chart_json(
    backend: HistoryBackend, coverage: Coverage, entity_ids: list[str], start: float, end: float, points: int
) -> bytes:
    """Return the decimated history of entities over [start, end) as the command's JSON bytes."""
    found = await query_buckets(backend, entity_ids, start, end, width_for(start, end, points), coverage, deltas=False)
    series = {
        entity_id: {
            "t": [r.start for r in rows],
            "min": [r.min for r in rows],
            "max": [r.max for r in rows],
            "mean": [r.mean for r in rows],
            "last": [r.last for r in rows],
        }
        for entity_id, rows in found.series.items()
    }
    answer = {"bucket": found.width, "start": found.start, "end": found.end, "source": found.source, "series": series}
    return orjson.dumps(answer)


def chart_handler(recorder: Recorder) -> Any:
    """Return the `history/chart` WebSocket handler."""

    async def history_chart(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
        now = time.time()
        try:
            entity_ids = entity_ids_of(msg)
            start = parse_time(msg["start_time"])
            if start is None:
                raise QueryError("invalid_start_time", "Invalid start_time")
            end = parse_time(msg.get("end_time")) if msg.get("end_time") else now
            if end is None or end < start:
                raise QueryError("invalid_end_time", "Invalid end_time: expected an ISO 8601 time after start_time")
        except QueryError as err:
            connection.send_error(msg["id"], err.code, str(err))
            return
        await recorder.flush_pending()
        coverage = coverage_of(recorder.plan, recorder.tiers, now)
        result = await chart_json(recorder.backend, coverage, entity_ids, start, min(end, now), msg["points"])
        connection.send_result(msg["id"], orjson.Fragment(result))

    return history_chart
