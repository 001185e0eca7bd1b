"""The telemetry body: measurements by name, each a number, text, boolean or JSON, with an optional time.

    {"device": "garden",                         # optional: must be the key's device when given
     "ts": 1700000000.0,                         # optional default time (Unix seconds or ISO 8601)
     "measurements": {
        "temperature": 21.5,                     # -> sensor.garden_temperature
        "door_open": true,                       # -> binary_sensor.garden_door_open
        "status": "ok",                          # text
        "position": {"lat": 1.5, "lon": 2.5},    # JSON: state is the JSON text, keys become attributes
        "power": {"value": 120.5, "unit": "W", "device_class": "power",
                  "state_class": "measurement", "ts": 1700000000, "attributes": {"phase": "L1"}}}}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from hub.exceptions import HubError
from hub.util import slugify

MAX_MEASUREMENTS = 500
MAX_TIMESTAMP = 4_102_444_800.0  # 2100-01-01: later (or non-finite) is no reading's time
_META_KEYS = {"value", "unit", "device_class", "state_class", "ts", "attributes", "name"}


class PayloadError(HubError, ValueError):
    """The body does not fit; the message names the field."""


@dataclass(slots=True)
class Measurement:
    """One value for one entity of the device.

    `entity_id` is set once the key's device has been checked (integrations.http_ingest.ownership):
    a body names measurements, never entity ids.
    """

    domain: str
    name: str  # the measurement's name as sent, for messages and the unique id
    state: str
    attributes: dict[str, Any] = field(default_factory=dict)
    ts: float | None = None
    numeric: bool = False
    entity_id: str = ""

    @property
    def where(self) -> str:
        """The body field this measurement came from, for messages."""
        return f"measurements.{self.name}"


def _timestamp(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise PayloadError(f"{where}: expected Unix seconds or an ISO 8601 time")
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:  # an int beyond any float
            raise PayloadError(f"{where}: not a time between 1970 and 2100") from None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise PayloadError(f"{where}: {value!r} is not an ISO 8601 time") from None
        if parsed.tzinfo is None:
            raise PayloadError(f"{where}: {value!r} has no time zone")
        return parsed.timestamp()
    raise PayloadError(f"{where}: expected Unix seconds or an ISO 8601 time")


def parse(body: Any) -> list[Measurement]:
    """Return the measurements of a telemetry body.

    Raises:
        PayloadError: the body is not a JSON object with `measurements`, or a field is wrong;
            nothing is written then.
    """
    if not isinstance(body, dict) or not isinstance(body.get("measurements"), dict):
        raise PayloadError('expected a JSON object with "measurements": {name: value, ...}')
    measurements = body["measurements"]
    if not measurements or len(measurements) > MAX_MEASUREMENTS:
        raise PayloadError(f"measurements: between 1 and {MAX_MEASUREMENTS} entries")
    device = body.get("device")
    if device is not None and (not isinstance(device, str) or not slugify(device, fallback="")):
        raise PayloadError("device: expected a name with letters or digits")
    default_ts = _timestamp(body["ts"], "ts") if body.get("ts") is not None else None
    result = []
    for name, raw in measurements.items():
        where = f"measurements.{name}"
        if not slugify(name, fallback=""):
            raise PayloadError(f"{where}: the name needs letters or digits")
        spec: dict[str, Any] = raw if isinstance(raw, dict) and "value" in raw else {"value": raw}
        unknown = set(spec) - _META_KEYS
        if unknown:
            raise PayloadError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
        attributes: dict[str, Any] = {}
        extra = spec.get("attributes")
        if extra is not None:
            if not isinstance(extra, dict):
                raise PayloadError(f"{where}.attributes: expected a JSON object")
            attributes.update(extra)
        for key in ("unit", "device_class", "state_class"):
            if spec.get(key) is not None:
                if not isinstance(spec[key], str):
                    raise PayloadError(f"{where}.{key}: expected text")
                attributes["unit_of_measurement" if key == "unit" else key] = spec[key]
        attributes["friendly_name"] = spec.get("name") or f"{device} {name}" if device else spec.get("name") or name
        value = spec["value"]
        domain, numeric = "sensor", False
        if isinstance(value, bool):
            domain, state = "binary_sensor", "on" if value else "off"
        elif isinstance(value, (int, float)):
            if value != value or value in (float("inf"), float("-inf")):
                raise PayloadError(f"{where}: not a finite number")
            state, numeric = repr(value) if isinstance(value, float) else str(value), True
        elif isinstance(value, str):
            state = value
        elif isinstance(value, (dict, list)):
            state = orjson.dumps(value).decode()
            if isinstance(value, dict):
                attributes = {**value, **attributes}
        elif value is None:
            state = "unknown"
        else:
            raise PayloadError(f"{where}: expected a number, text, boolean or JSON")
        if len(state) > 255:
            raise PayloadError(f"{where}: the state is longer than 255 characters")
        ts = _timestamp(spec["ts"], f"{where}.ts") if spec.get("ts") is not None else default_ts
        if ts is not None and not 0 <= ts <= MAX_TIMESTAMP:  # NaN fails this too
            raise PayloadError(f"{where}.ts: not a time between 1970 and 2100")
        result.append(Measurement(domain, name, state, attributes, ts, numeric))
    return result


def device_of(body: Any) -> str | None:
    """Return the slug of the device a (parsed) body names, None when it names none."""
    device = body.get("device") if isinstance(body, dict) else None
    return slugify(device, fallback="") or None if isinstance(device, str) else None
