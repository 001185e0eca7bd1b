"""The EasySmart-style topic layout and payloads, without the hub: topics, discovery, values.

    {root}devices/{id}/discovery         device -> hub, retained: the device and its entities
    {root}devices/{id}/status            device -> hub, retained: online | offline (or {"status": ...})
    {root}devices/{id}/{entity}/state    device -> hub: a value, or {"value": ..., "ts": ...}
    {root}devices/{id}/{entity}/set      hub -> device: ON/OFF, a number, an option
    {root}devices/{id}/telemetry         device -> hub: one reading {"ts", field: value, ...},
                                         or a batch {"readings": [...]}

docs/easysmart.md describes each payload; every refusal names the topic's field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from hub.exceptions import HubError

KINDS = ("sensor", "binary_sensor", "switch", "number", "select")
ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ENTITY_ID = re.compile(r"^[a-z0-9_]{1,64}$")
RESERVED_ENTITY_IDS = ("discovery", "status", "telemetry")
ON_WORDS = {"on", "true", "1", "yes", "open", "online"}
OFF_WORDS = {"off", "false", "0", "no", "closed", "offline"}


class PayloadError(HubError, ValueError):
    """A payload that does not follow the format; the message names the field."""


@dataclass(frozen=True, slots=True)
class Topics:
    """The topics under one root (`""` or e.g. `home1/`, ending in `/`)."""

    root: str = ""

    @property
    def base(self) -> str:
        """The common prefix of every device topic."""
        return f"{self.root}devices/"

    def discovery(self, device_id: str = "+") -> str:
        return f"{self.base}{device_id}/discovery"

    def status(self, device_id: str = "+") -> str:
        return f"{self.base}{device_id}/status"

    def state(self, device_id: str = "+", entity: str = "+") -> str:
        return f"{self.base}{device_id}/{entity}/state"

    def set(self, device_id: str, entity: str) -> str:
        return f"{self.base}{device_id}/{entity}/set"

    def telemetry(self, device_id: str = "+") -> str:
        return f"{self.base}{device_id}/telemetry"

    def parts(self, topic: str) -> list[str] | None:
        """The levels after `devices/` ([id, "status"], [id, entity, "state"] ...), or None."""
        if not topic.startswith(self.base):
            return None
        return topic[len(self.base):].split("/")


@dataclass(frozen=True, slots=True)
class EntitySpec:
    """One entity a device announced."""

    key: str
    kind: str
    name: str
    icon: str | None = None
    unit: str | None = None
    device_class: str | None = None
    state_class: str | None = None
    precision: int | None = None
    minimum: float = 0.0
    maximum: float = 100.0
    step: float = 1.0
    options: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """A device as its discovery payload describes it."""

    device_id: str
    name: str
    manufacturer: str | None = None
    model: str | None = None
    firmware: str | None = None
    hardware: str | None = None
    entities: tuple[EntitySpec, ...] = field(default=())


def _text(data: dict[str, Any], key: str, where: str, *, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool) or not str(value).strip():
        message = f"{where}{key}: expected {'a non-empty' if required else 'a'} string, got {value!r}"
        raise PayloadError(message)
    return str(value)[:255]


def _number(data: dict[str, Any], key: str, where: str, default: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        message = f"{where}{key}: expected a number, got {value!r}"
        raise PayloadError(message)
    return float(value)


def parse_entity(data: Any, where: str) -> EntitySpec:
    """One item of `entities`."""
    if not isinstance(data, dict):
        message = f"{where}: expected an object with id and type"
        raise PayloadError(message)
    key = data.get("id")
    if not isinstance(key, str) or not ENTITY_ID.match(key) or key in RESERVED_ENTITY_IDS:
        message = (f"{where}.id: expected 1-64 lowercase letters, digits or _ (not discovery, status or "
                   f"telemetry), got {key!r}")
        raise PayloadError(message)
    kind = data.get("type", "sensor")
    if kind not in KINDS:
        message = f"{where}.type: expected one of {', '.join(KINDS)}, got {kind!r}"
        raise PayloadError(message)
    prefix = f"{where}."
    spec = EntitySpec(
        key=key,
        kind=kind,
        name=_text(data, "name", prefix) or key.replace("_", " ").capitalize(),
        icon=_text(data, "icon", prefix),
        unit=_text(data, "unit", prefix),
        device_class=_text(data, "device_class", prefix),
        state_class=_text(data, "state_class", prefix),
        precision=int(_number(data, "precision", prefix, -1)) if "precision" in data else None,
        minimum=_number(data, "min", prefix, 0.0),
        maximum=_number(data, "max", prefix, 100.0),
        step=_number(data, "step", prefix, 1.0),
    )
    if kind == "number" and not spec.minimum < spec.maximum:
        message = f"{where}.max: must be above min ({spec.minimum:g})"
        raise PayloadError(message)
    if kind == "select":
        options = data.get("options")
        if not isinstance(options, list) or not options or not all(isinstance(o, str) and o for o in options):
            message = f"{where}.options: expected a non-empty list of strings, got {options!r}"
            raise PayloadError(message)
        spec = EntitySpec(**{**{s: getattr(spec, s) for s in spec.__slots__}, "options": tuple(options)})
    return spec


def parse_discovery(topic_device_id: str, payload: bytes) -> DeviceSpec:
    """The device in a discovery payload sent on devices/<topic_device_id>/discovery.

    Raises:
        PayloadError: not JSON, or a field that is wrong (named).
    """
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as err:
        message = f"not JSON: {err}"
        raise PayloadError(message) from None
    if not isinstance(data, dict):
        message = "expected a JSON object with device and entities"
        raise PayloadError(message)
    device = data.get("device", data)
    if not isinstance(device, dict):
        message = "device: expected an object"
        raise PayloadError(message)
    device_id = device.get("id", topic_device_id)
    if device_id != topic_device_id:
        message = f"device.id: {device_id!r} is not the topic's {topic_device_id!r}"
        raise PayloadError(message)
    entities = data.get("entities")
    if not isinstance(entities, list) or not entities:
        message = "entities: expected a non-empty list"
        raise PayloadError(message)
    specs = [parse_entity(item, f"entities[{index}]") for index, item in enumerate(entities)]
    seen: set[str] = set()
    for index, spec in enumerate(specs):
        if spec.key in seen:
            message = f"entities[{index}].id: {spec.key!r} is announced twice"
            raise PayloadError(message)
        seen.add(spec.key)
    return DeviceSpec(
        device_id=topic_device_id,
        name=_text(device, "name", "device.") or topic_device_id,
        manufacturer=_text(device, "manufacturer", "device."),
        model=_text(device, "model", "device."),
        firmware=_text(device, "firmware", "device."),
        hardware=_text(device, "hardware", "device."),
        entities=tuple(specs),
    )


def parse_status(payload: bytes) -> bool:
    """Whether a status payload says online.

    Raises:
        PayloadError: neither online nor offline.
    """
    text = payload.decode("utf-8", "replace").strip()
    if text.startswith("{"):
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            data = None
        text = str(data.get("status", "")) if isinstance(data, dict) else ""
    word = text.lower()
    if word in ("online", "on", "1", "true"):
        return True
    if word in ("offline", "off", "0", "false"):
        return False
    message = f"expected online or offline, got {text[:40]!r}"
    raise PayloadError(message)


def parse_value(payload: bytes) -> tuple[Any, Any]:
    """Return (value, its own time or None) of a state payload: a bare value or {"value", "ts"}."""
    text = payload.decode("utf-8", "replace").strip()
    if text[:1] in ("{", "[", '"') or text in ("true", "false", "null") or _is_number(text):
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return text, None
        if isinstance(data, dict):
            if "value" not in data:
                message = "expected a value, or an object with value (and ts or timestamp)"
                raise PayloadError(message)
            stamp = data.get("ts", data.get("timestamp"))
            return data["value"], stamp
        return data, None
    return text, None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def to_bool(value: Any) -> bool | None:
    """on/off of a switch or binary sensor value, or None when it is neither."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in ON_WORDS:
        return True
    if word in OFF_WORDS:
        return False
    return None


def to_float(value: Any) -> float | None:
    """A number, or None."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None
