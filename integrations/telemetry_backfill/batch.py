"""Parse and check a node's offline batch: {"node_id", "readings": [{"ts": epoch, "power": ...}]}.

Protocol code only: no hub imports but the exception root, so it is tested on payloads alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import orjson

from hub.exceptions import HubError

FIELDS = ("power", "energy", "voltage", "current", "frequency", "power_factor")
# Readings older than this are refused: a node with an unset clock reports 1970 or 2000.
OLDEST = 1_577_836_800  # 2020-01-01
FUTURE_SLACK = 86_400.0


class BatchError(HubError, ValueError):
    """The payload is not a valid telemetry batch; the message names the field."""


@dataclass(frozen=True, slots=True)
class TelemetryBatch:
    """Points of one node, per field: {"power": [(ts, value), ...], ...}."""

    node_id: str
    points: dict[str, list[tuple[float, float]]]
    count: int
    first_ts: float
    last_ts: float


def parse(topic_node_id: str, payload: bytes, now: float | None = None) -> TelemetryBatch:
    """Return the batch in payload, sent on [<root>]devices/<topic_node_id>/telemetry.

    Raises:
        BatchError: bad JSON, a node_id that differs from the topic's, or a bad reading.
    """
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as err:
        raise BatchError(f"not JSON: {err}") from None
    if not isinstance(data, dict):
        raise BatchError("expected a JSON object with node_id and readings")
    node_id = data.get("node_id", topic_node_id)
    if node_id != topic_node_id:
        raise BatchError(f"node_id {node_id!r} does not match the topic's {topic_node_id!r}")
    readings = data.get("readings")
    if not isinstance(readings, list):
        raise BatchError("'readings' must be a list")
    latest = (now if now is not None else time.time()) + FUTURE_SLACK
    points: dict[str, list[tuple[float, float]]] = {}
    stamps: list[float] = []
    for index, reading in enumerate(readings):
        if not isinstance(reading, dict):
            raise BatchError(f"readings[{index}] must be an object")
        ts = reading.get("ts")
        if isinstance(ts, bool) or not isinstance(ts, (int, float)) or not OLDEST <= ts <= latest:
            raise BatchError(f"readings[{index}].ts must be a Unix time between 2020 and now, got {ts!r}")
        stamps.append(float(ts))
        for field in FIELDS:
            value = reading.get(field)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise BatchError(f"readings[{index}].{field} must be a number, got {value!r}")
            points.setdefault(field, []).append((float(ts), float(value)))
    return TelemetryBatch(node_id, points, len(readings), min(stamps, default=0.0), max(stamps, default=0.0))
