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


def _kept(name: str, value: object, where: str) -> Value | str | None:
    """The value to keep of one field (a number, on/off or a text), or None when it cannot be kept.

    Raises:
        BatchError: a meter field (power, energy ...) is not a number.
    """
    kind = type(value)
    if kind is float or kind is int:
        return float(value)  # type: ignore[arg-type]  # checked just above
    if name in FIELDS:
        message = f"{where}.{name} must be a number, got {value!r}"
        raise BatchError(message)
    if kind is bool:
        return "on" if value else "off"
    if kind is str and len(value) <= 255:  # type: ignore[arg-type]  # a str
        return value  # type: ignore[return-value]  # a str
    return None


_WHY = {True: "longer than 255 characters", False: "null, a list or an object"}


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
    points: dict[str, list[tuple[float, Value]]] = {}
    dropped: dict[str, str] = {}
    stamps: list[float] = []
    good_names: set[str] = set()
    for index, reading in enumerate(readings):
        if not isinstance(reading, dict):
            raise BatchError(f"readings[{index}] must be an object")
        raw = reading.get("ts")
        ts: float | None
        if (type(raw) is int or type(raw) is float) and OLDEST <= raw <= latest:
            ts = float(raw)  # the usual case: epoch seconds, checked without a call
            found: tuple[str, object] | None = ("ts", raw)
        else:
            found = own_time(reading)
            ts = parse_reading_time(found[1]) if found else None
        if ts is None or not OLDEST <= ts <= latest:
            key = found[0] if found else "ts"
            raise BatchError(f"readings[{index}].{key} must be a Unix time (s or ms) or ISO 8601 between 2020 and now, "
                             f"got {found[1] if found else None!r}")
        stamps.append(ts)
        for name, value in reading.items():
            if name == "ts" or name == "timestamp" or (value is None and name in FIELDS):
                continue
            if name not in good_names:
                if not _FIELD_NAME.match(name):
                    dropped[name] = "not a field name (lowercase letters, digits and _)"
                    continue
                if len(good_names) >= MAX_FIELDS:
                    dropped[name] = f"more than {MAX_FIELDS} fields"
                    continue
            kept = _kept(name, value, f"readings[{index}]")
            if kept is None:
                dropped[name] = _WHY[isinstance(value, str)]
                continue
            good_names.add(name)
            series = points.get(name)
            if series is None:
                series = points[name] = []
            series.append((ts, kept))
    return TelemetryBatch(node_id, points, len(readings), min(stamps, default=0.0), max(stamps, default=0.0), dropped)
