"""Parse and check a node's offline batch: {"node_id", "readings": [{"ts": epoch, "power": ...}]}.

Every field of a reading is kept: numbers as numbers, text as text, booleans as on/off. A
reading's time is `ts` or `timestamp`, in epoch seconds, epoch milliseconds or ISO 8601. What
cannot be kept (a null, a list or an object, a field name that cannot be part of an entity
id, fields past the 64th) is listed in `dropped`, so the caller can say so.

Protocol code only: no hub imports but the exception root and the reading-time parser, so it
is tested on payloads alone.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import orjson

from hub.exceptions import HubError
from hub.reading_time import own_time, parse_reading_time

# The meter's fields, which must be numbers (a text here is a broken node, not a new field).
FIELDS = ("power", "energy", "voltage", "current", "frequency", "power_factor")
MAX_FIELDS = 64
_FIELD_NAME = re.compile(r"^[a-z0-9_]{1,64}$")
# Readings older than this are refused: a node with an unset clock reports 1970 or 2000.
OLDEST = 1_577_836_800  # 2020-01-01
FUTURE_SLACK = 86_400.0

Value = float | str


class BatchError(HubError, ValueError):
    """The payload is not a valid telemetry batch; the message names the field."""


@dataclass(frozen=True, slots=True)
class TelemetryBatch:
    """Points of one node, per field: {"power": [(ts, value), ...], ...}, and what was dropped."""

    node_id: str
    points: dict[str, list[tuple[float, Value]]]
    count: int
    first_ts: float
    last_ts: float
    dropped: dict[str, str] = field(default_factory=dict)
    """Field name -> why it was not kept."""


def reading_values(reading: dict[str, object], where: str, points_of: set[str],
                   dropped: dict[str, str]) -> dict[str, Value]:
    """Return the fields of one reading that can be kept, noting the others in dropped.

    Raises:
        BatchError: a meter field (power, energy ...) is not a number.
    """
    values: dict[str, Value] = {}
    for name, value in reading.items():
        if name in ("ts", "timestamp"):
            continue
        if name in FIELDS:
            if isinstance(value, bool) or not isinstance(value, int | float):
                if value is None:
                    continue
                message = f"{where}.{name} must be a number, got {value!r}"
                raise BatchError(message)
        if not _FIELD_NAME.match(name):
            dropped[name] = "not a field name (lowercase letters, digits and _)"
            continue
        if isinstance(value, bool):
            kept: Value = "on" if value else "off"
        elif isinstance(value, int | float):
            kept = float(value)
        elif isinstance(value, str) and len(value) <= 255:
            kept = value
        else:
            dropped[name] = "null, a list or an object" if not isinstance(value, str) else "longer than 255 characters"
            continue
        if name not in points_of and len(points_of) >= MAX_FIELDS:
            dropped[name] = f"more than {MAX_FIELDS} fields"
            continue
        points_of.add(name)
        values[name] = kept
    return values


def parse(topic_node_id: str, payload: bytes, now: float | None = None) -> TelemetryBatch:
    """Return the batch in payload, sent on devices/<topic_node_id>/telemetry.

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
    points: dict[str, list[tuple[float, Value]]] = {}
    dropped: dict[str, str] = {}
    stamps: list[float] = []
    for index, reading in enumerate(readings):
        if not isinstance(reading, dict):
            raise BatchError(f"readings[{index}] must be an object")
        found = own_time(reading)
        ts = parse_reading_time(found[1]) if found else None
        if ts is None or not OLDEST <= ts <= latest:
            key = found[0] if found else "ts"
            raise BatchError(f"readings[{index}].{key} must be a Unix time (s or ms) or ISO 8601 between 2020 and now, "
                             f"got {found[1] if found else None!r}")
        stamps.append(ts)
        for name, value in reading_values(reading, f"readings[{index}]", set(points), dropped).items():
            points.setdefault(name, []).append((ts, value))
    return TelemetryBatch(node_id, points, len(readings), min(stamps, default=0.0), max(stamps, default=0.0), dropped)
