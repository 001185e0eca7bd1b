"""Voluptuous schemas for discovery payloads (after abbreviation expansion), per component."""

from __future__ import annotations

import codecs
import re
from typing import Any

import orjson
import voluptuous as vol

from integrations.mqtt.fast_schema import FastDictSchema
from integrations.mqtt.subscriptions import valid_filter, valid_publish_topic

PAYLOAD_NONE = "None"


def string(value: Any) -> str:
    """Accept strings and scalars (Home Assistant's cv.string: `true` becomes "True")."""
    if value is None or isinstance(value, (list, dict)):
        message = "expected a string"
        raise vol.Invalid(message)
    return str(value)


def encoding(value: Any) -> str:
    """A codec Python knows ("" hands the payload on as bytes, as in Home Assistant)."""
    name = string(value)
    if name:
        try:
            codecs.lookup(name)
        except LookupError as err:
            message = f"unknown encoding {name[:50]!r}"
            raise vol.Invalid(message) from err
    return name


def boolean(value: Any) -> bool:
    """Accept JSON booleans and the usual words and numbers for them."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "on", "enable"):
            return True
        if lowered in ("0", "false", "no", "off", "disable"):
            return False
    elif isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    message = f"invalid boolean value {value!r}"
    raise vol.Invalid(message)


def subscribe_topic(value: Any) -> str:
    """A topic or filter to subscribe to."""
    topic = string(value)
    if not valid_filter(topic):
        message = f"invalid subscribe topic {topic!r}"
        raise vol.Invalid(message)
    return topic


def publish_topic(value: Any) -> str:
    """A topic to publish to: no wildcards."""
    topic = string(value)
    if not valid_publish_topic(topic):
        message = f"invalid publish topic {topic!r}: wildcards are not allowed"
        raise vol.Invalid(message)
    return topic


def template(value: Any) -> str:
    """A template source; compiled later, once per entity config."""
    return string(value)


def regex(value: Any) -> str:
    """A regular expression that compiles."""
    pattern = string(value)
    try:
        re.compile(pattern)
    except re.error as err:
        message = f"invalid regular expression {pattern!r}: {err}"
        raise vol.Invalid(message) from err
    return pattern


def _identifiers(value: Any) -> list[str]:
    if isinstance(value, list):
        return [string(item) for item in value]
    return [string(value)]


def _connections(value: Any) -> list[list[str]]:
    if not isinstance(value, list):
        message = "expected a list of [type, id] pairs"
        raise vol.Invalid(message)
    pairs = []
    for item in value:
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            message = f"expected a [type, id] pair, got {item!r}"
            raise vol.Invalid(message)
        pairs.append([string(item[0]), string(item[1])])
    return pairs


def _require_device_id(device: dict[str, Any]) -> dict[str, Any]:
    if not device.get("identifiers") and not device.get("connections"):
        message = "Device must have at least one identifying value in 'identifiers' and/or 'connections'"
        raise vol.Invalid(message)
    return device


# Every schema below is a vol.Schema at its top: one compiled once. A bare vol.All called
# directly compiles its sub-schemas again at every call (voluptuous), ~20 % of a config's validation.
DEVICE_SCHEMA = vol.Schema(vol.All(
    vol.Schema(
        {
            vol.Optional("identifiers"): _identifiers,
            vol.Optional("connections"): _connections,
            vol.Optional("name"): vol.Any(string, None),
            vol.Optional("manufacturer"): string,
            vol.Optional("model"): string,
            vol.Optional("model_id"): string,
            vol.Optional("sw_version"): string,
            vol.Optional("hw_version"): string,
            vol.Optional("serial_number"): string,
            vol.Optional("suggested_area"): string,
            vol.Optional("configuration_url"): string,
            vol.Optional("via_device"): string,
        },
        extra=vol.REMOVE_EXTRA,
    ),
    _require_device_id,
))


# Validated device blocks kept for reuse: a device's entities (ten on a PZEM node, dozens on a
# Zigbee2MQTT device) carry equal blocks, validated once and shared (read-only) by their configs.
# Bounded: past this many distinct blocks the oldest is dropped (validated again if it comes back).
DEVICE_CACHE = 1024
_valid_devices: dict[Any, dict[str, Any]] = {}


def frozen(value: Any) -> str:
    """Return a JSON value as a hashable key, equal only for equal values of the same types.

    Canonical JSON (keys sorted): 1, 1.0, true and "1" stay apart; ~20 times cheaper than a
    nested tuple of the value. Decoded to a str: orjson's bytes keep a 4 KiB buffer each.

    Raises:
        TypeError: the value is not JSON (or nested too deep for a key).
    """
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def device(value: Any) -> dict[str, Any]:
    """A discovery config's `device` block (DEVICE_SCHEMA), validated once per distinct block."""
    try:
        key = frozen(value)
        cached = _valid_devices.get(key)
    except TypeError:  # not JSON after all, or nested deep: validate without the cache
        return DEVICE_SCHEMA(value)  # type: ignore[no-any-return]
    if cached is None:
        cached = DEVICE_SCHEMA(value)
        if len(_valid_devices) >= DEVICE_CACHE:
            del _valid_devices[next(iter(_valid_devices))]
        _valid_devices[key] = cached
    return cached


def valid_device(block: dict[str, Any]) -> dict[str, Any]:
    """A device block DEVICE_SCHEMA returned before (a cached config's), shared with its equals, not validated again.

    DEVICE_SCHEMA gives a valid block back unchanged (equal), so the block is the validated form
    of itself: kept under its own key, `device` finds it for an equal block from the broker.

    Raises:
        TypeError: the block is not JSON.
    """
    key = frozen(block)
    cached = _valid_devices.get(key)
    if cached is None:
        if len(_valid_devices) >= DEVICE_CACHE:
            del _valid_devices[next(iter(_valid_devices))]
        _valid_devices[key] = cached = block
    return cached


ORIGIN_SCHEMA = vol.Schema(
    {
        vol.Required("name"): string,
        vol.Optional("sw_version"): string,
        vol.Optional("support_url"): string,
    },
    extra=vol.REMOVE_EXTRA,
)

AVAILABILITY_ITEM = vol.Schema(
    {
        vol.Required("topic"): subscribe_topic,
        vol.Optional("payload_available", default="online"): string,
        vol.Optional("payload_not_available", default="offline"): string,
        vol.Optional("value_template"): template,
    },
    extra=vol.REMOVE_EXTRA,
)

COMMON = {
    vol.Optional("platform"): string,
    vol.Optional("name"): vol.Any(string, None),
    vol.Optional("unique_id"): string,
    vol.Optional("object_id"): string,
    vol.Optional("default_entity_id"): string,
    vol.Optional("icon"): string,
    vol.Optional("entity_picture"): string,
    vol.Optional("device_class"): vol.Any(string, None),
    vol.Optional("entity_category"): vol.Any(vol.In(["config", "diagnostic"]), None),
    vol.Optional("enabled_by_default", default=True): boolean,
    vol.Optional("encoding", default="utf-8"): vol.Any(encoding, None),
    # No default: state topics are subscribed at QoS 1 and commands published at QoS 0 unless a
    # config asks for one (integrations/mqtt/entity.py, STATE_QOS).
    vol.Optional("qos"): vol.All(vol.Coerce(int), vol.In([0, 1, 2])),
    vol.Optional("availability_topic"): subscribe_topic,
    vol.Optional("availability_template"): template,
    vol.Optional("payload_available", default="online"): string,
    vol.Optional("payload_not_available", default="offline"): string,
    vol.Optional("availability"): [AVAILABILITY_ITEM],
    vol.Optional("availability_mode", default="latest"): vol.In(["all", "any", "latest"]),
    vol.Optional("json_attributes_topic"): subscribe_topic,
    vol.Optional("json_attributes_template"): template,
    vol.Optional("device"): device,
    vol.Optional("origin"): ORIGIN_SCHEMA,
}

_STATE = {
    vol.Optional("state_topic"): subscribe_topic,
    vol.Optional("value_template"): template,
}
_COMMAND = {
    vol.Required("command_topic"): publish_topic,
    vol.Optional("command_template"): template,
    vol.Optional("retain", default=False): boolean,
    vol.Optional("optimistic"): boolean,
}


def _exclusive_availability(config: dict[str, Any]) -> dict[str, Any]:
    if "availability" in config and "availability_topic" in config:
        message = "use either 'availability' or 'availability_topic', not both"
        raise vol.Invalid(message, path=["availability"])
    return config


def _check_range(low: str, high: str) -> Any:
    def check(config: dict[str, Any]) -> dict[str, Any]:
        if config[low] > config[high]:
            message = f"'{low}' ({config[low]}) must not be greater than '{high}' ({config[high]})"
            raise vol.Invalid(message, path=[low])
        return config

    return check


def _schema(specific: dict[Any, Any], *checks: Any) -> FastDictSchema:
    # A config's common case without voluptuous's key matching; the rest, errors included, by voluptuous.
    return FastDictSchema({**COMMON, **specific}, _exclusive_availability, *checks)


SCHEMAS: dict[str, FastDictSchema] = {
    "sensor": _schema(
        {
            vol.Required("state_topic"): subscribe_topic,
            vol.Optional("value_template"): template,
            vol.Optional("unit_of_measurement"): vol.Any(string, None),
            vol.Optional("state_class"): vol.Any(
                None, vol.In(["measurement", "measurement_angle", "total", "total_increasing"])
            ),
            vol.Optional("expire_after"): vol.All(vol.Coerce(int), vol.Range(min=0)),
            vol.Optional("force_update", default=False): boolean,
            vol.Optional("suggested_display_precision"): vol.All(vol.Coerce(int), vol.Range(min=0)),
            vol.Optional("options"): [string],
            vol.Optional("last_reset_value_template"): template,
        }
    ),
    "binary_sensor": _schema(
        {
            vol.Required("state_topic"): subscribe_topic,
            vol.Optional("value_template"): template,
            vol.Optional("payload_on", default="ON"): string,
            vol.Optional("payload_off", default="OFF"): string,
            vol.Optional("off_delay"): vol.All(vol.Coerce(int), vol.Range(min=0)),
            vol.Optional("expire_after"): vol.All(vol.Coerce(int), vol.Range(min=0)),
            vol.Optional("force_update", default=False): boolean,
        }
    ),
    "switch": _schema(
        {
            **_STATE,
            **_COMMAND,
            vol.Optional("payload_on", default="ON"): string,
            vol.Optional("payload_off", default="OFF"): string,
            vol.Optional("state_on"): string,
            vol.Optional("state_off"): string,
        }
    ),
    "number": _schema(
        {
            **_STATE,
            **_COMMAND,
            vol.Optional("min", default=1.0): vol.Coerce(float),
            vol.Optional("max", default=100.0): vol.Coerce(float),
            vol.Optional("step", default=1.0): vol.All(vol.Coerce(float), vol.Range(min=1e-3)),
            vol.Optional("mode", default="auto"): vol.In(["auto", "box", "slider"]),
            vol.Optional("payload_reset", default=PAYLOAD_NONE): string,
            vol.Optional("unit_of_measurement"): vol.Any(string, None),
        },
        _check_range("min", "max"),
    ),
    "select": _schema(
        {
            **_STATE,
            **_COMMAND,
            vol.Required("options"): [string],
        }
    ),
    "text": _schema(
        {
            **_STATE,
            **_COMMAND,
            vol.Optional("min", default=0): vol.All(vol.Coerce(int), vol.Range(min=0)),
            vol.Optional("max", default=255): vol.All(vol.Coerce(int), vol.Range(min=0, max=255)),
            vol.Optional("mode", default="text"): vol.In(["text", "password"]),
            vol.Optional("pattern"): regex,
        },
        _check_range("min", "max"),
    ),
    "button": _schema(
        {
            vol.Required("command_topic"): publish_topic,
            vol.Optional("command_template"): template,
            vol.Optional("retain", default=False): boolean,
            vol.Optional("payload_press", default="PRESS"): string,
        }
    ),
    "light": _schema(
        {
            **_STATE,
            **_COMMAND,
            vol.Optional("schema", default="basic"): vol.In(["basic", "default", "json"]),
            vol.Optional("state_value_template"): template,
            vol.Optional("payload_on", default="ON"): string,
            vol.Optional("payload_off", default="OFF"): string,
            vol.Optional("on_command_type", default="last"): vol.In(["last", "first", "brightness"]),
            vol.Optional("brightness"): boolean,
            vol.Optional("brightness_command_topic"): publish_topic,
            vol.Optional("brightness_command_template"): template,
            vol.Optional("brightness_state_topic"): subscribe_topic,
            vol.Optional("brightness_value_template"): template,
            vol.Optional("brightness_scale", default=255): vol.All(vol.Coerce(int), vol.Range(min=1)),
            vol.Optional("supported_color_modes"): [string],
        }
    ),
}

DEVICE_DISCOVERY_SCHEMA = vol.Schema(
    {
        vol.Required("device"): DEVICE_SCHEMA,
        vol.Required("origin"): ORIGIN_SCHEMA,
        vol.Required("components"): vol.Schema({str: vol.Schema({vol.Required("platform"): string}, extra=vol.ALLOW_EXTRA)}),
    },
    extra=vol.ALLOW_EXTRA,
)


def humanize(err: vol.Invalid) -> str:
    """Return every schema problem as `<reason> @ data['key']`, the form Home Assistant logs."""
    errors = err.errors if isinstance(err, vol.MultipleInvalid) else [err]
    parts = []
    for error in errors:
        path = "".join(f"[{item!r}]" for item in error.path)
        message = error.msg
        if message == "expected dict":
            message = "expected a dictionary"
        parts.append(f"{message} @ data{path}" if path else message)
    return "; ".join(parts)
