"""Seeded generators of hostile inputs: MQTT discovery configs and states, WebSocket commands, HTTP requests.

Each generator takes a `random.Random` and yields cases forever; the CI suite
(tests/security/test_fuzz.py) takes ~2,000 of each with a fixed seed, bench/fuzz.py takes as
many as it is told with any seed. A case is built from the shapes that real clients send,
then broken: wrong types, missing and unknown keys, huge and tiny numbers, long, empty and
non-UTF-8 strings, deep nesting, templates that fail or try to run long.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

COMPONENTS = ("sensor", "binary_sensor", "switch", "number", "select", "text", "button", "light", "climate", "device")
DISCOVERY_KEYS = (
    "name", "unique_id", "object_id", "state_topic", "command_topic", "value_template", "json_attributes_topic",
    "json_attributes_template", "availability_topic", "availability", "payload_on", "payload_off", "device_class",
    "unit_of_measurement", "state_class", "min", "max", "step", "options", "qos", "retain", "expire_after",
    "force_update", "device", "dev", "origin", "o", "cmps", "components", "platform", "p", "stat_t", "cmd_t",
    "val_tpl", "command_template", "brightness_command_topic", "brightness_state_topic", "schema", "icon",
    "entity_category", "enabled_by_default", "encoding", "suggested_display_precision", "~",
)
TEMPLATES = (
    "{{ value_json.x }}", "{{ value }}", "{{ value_json.a.b[0] }}", "{{ value | float * 2 }}", "{{ value_json }}",
    "{{ ", "{% for %}", "{{ value_json.x | int(0) / 0 }}", "{{ states('sensor.x') }}", "{{ now() }}",
    "{% for i in range(10**5) %}{% for j in range(10**5) %}{% endfor %}{% endfor %}", "{{ 'a' * 10**9 }}",
    "{{ value.__class__.__mro__ }}", "{{ ''.__class__.__subclasses__() }}", "{{ cycler.__init__.__globals__ }}",
    "{{ (value_json.x ~ 'x') * 1000 }}", "{{ value_json | tojson | length }}", "{% raw %}", "{{ x.y.z() }}",
)
WS_TYPES = (
    "ping", "get_states", "get_config", "get_services", "subscribe_events", "unsubscribe_events", "call_service",
    "fire_event", "subscribe_entities", "render_template", "auth/current_user", "auth/refresh_tokens",
    "auth/long_lived_access_token", "auth/delete_refresh_token", "audit/list", "supported_features",
    "http_ingest/apikey/list", "system_log/list", "frontend/automation/validate", "nope", "", "x" * 300,
)
# Services a fuzzer must not call: they stop the hub under test (a legitimate call, not a bug).
FORBIDDEN_SERVICES = {("homeassistant", "stop"), ("homeassistant", "restart"), ("hub", "stop"), ("hub", "restart")}
REST_PATHS = (
    "/api/", "/api/config", "/api/states", "/api/states/{id}", "/api/services", "/api/services/{domain}/{service}",
    "/api/events", "/api/events/{word}", "/api/components", "/api/v1/telemetry", "/api/v1/devices",
    "/api/v1/devices/{word}", "/api/v1/devices/{word}/command", "/api/v1/apikeys", "/api/v1/apikeys/{word}",
    "/auth/token", "/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/logout", "/assets/{word}", "/",
    "/{word}", "/api/{word}", "/api/states/{word}/{word}",
)
CONTENT_TYPES = (
    "application/json", "application/json; charset=latin-1", "text/plain", "application/x-www-form-urlencoded",
    "multipart/form-data", "multipart/form-data; boundary=xyz", "application/octet-stream", "", "../../etc/passwd",
    "application/json; charset=utf-16", "text/html; charset=\x7f",
)


def text(rng: random.Random) -> str:
    """A string: ordinary, empty, long, odd Unicode, control characters, or path- and template-like."""
    kind = rng.randrange(10)
    if kind == 0:
        return ""
    if kind == 1:
        return rng.choice(string.ascii_letters) * rng.choice((256, 5000, 70_000))
    if kind == 2:
        return "".join(chr(rng.randrange(0x20, 0x10FFFF)) for _ in range(rng.randrange(1, 20))).replace("\ud800", "?")
    if kind == 3:
        return "".join(chr(rng.randrange(0, 32)) for _ in range(rng.randrange(1, 10)))
    if kind == 4:
        return rng.choice(("../../etc/passwd", "%00", "sensor.", ".x", "a.b.c", "sensor.ok", "switch.test_relay",
                           "+/#", "$SYS/x", "NaN", "Infinity", "-0", "1e309", "null", "true"))
    if kind == 5:
        return rng.choice(TEMPLATES)
    return "".join(rng.choice(string.ascii_letters + string.digits + "_-. /") for _ in range(rng.randrange(1, 24)))


def scalar(rng: random.Random) -> Any:
    """A JSON scalar of any type, with edge values."""
    return rng.choice((
        lambda: text(rng), lambda: rng.randrange(-(2**70), 2**70), lambda: rng.choice((0, -1, 1, 2**31, 2**63, -(2**63))),
        lambda: rng.uniform(-1e308, 1e308), lambda: rng.choice((True, False)), lambda: None, lambda: 0.5,
    ))()


def value(rng: random.Random, depth: int = 0) -> Any:
    """Any JSON value, nested up to a few levels (sometimes very deep)."""
    roll = rng.random()
    if depth > 3 or roll < 0.6:
        return scalar(rng)
    if roll < 0.75:
        return [value(rng, depth + 1) for _ in range(rng.randrange(0, 5))]
    if roll < 0.78:
        deep: Any = 1
        for _ in range(rng.choice((50, 500, 5000))):
            deep = [deep]
        return deep
    return {text(rng)[:40]: value(rng, depth + 1) for _ in range(rng.randrange(0, 5))}


def encode(rng: random.Random, data: Any) -> bytes:
    """JSON bytes, sometimes broken: truncated, not UTF-8, with garbage appended, or not JSON at all."""
    try:
        raw = json.dumps(data).encode()
    except (ValueError, RecursionError):
        raw = b"[]"
    roll = rng.random()
    if roll < 0.08:
        return raw[: rng.randrange(0, max(len(raw), 1))]
    if roll < 0.12:
        return raw + bytes([rng.randrange(0x80, 0x100)])
    if roll < 0.15:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
    if roll < 0.17:
        return b"\xff\xfe" + raw.decode().encode("utf-16-le")
    return raw


@dataclass(frozen=True, slots=True)
class MqttCase:
    """One message for the hub: a topic and a payload."""

    topic: str
    payload: bytes


def discovery_config(rng: random.Random) -> dict[str, Any]:
    """A discovery config: some real keys with right or wrong values, sometimes unknown keys."""
    config: dict[str, Any] = {}
    if rng.random() < 0.7:
        config["state_topic"] = f"fuzz/{rng.randrange(8)}/state"
    if rng.random() < 0.4:
        config["command_topic"] = f"fuzz/{rng.randrange(8)}/set"
    if rng.random() < 0.5:
        config["value_template"] = rng.choice(TEMPLATES)
    for _ in range(rng.randrange(0, 6)):
        config[rng.choice(DISCOVERY_KEYS)] = value(rng) if rng.random() < 0.6 else text(rng)
    if rng.random() < 0.1:
        config[text(rng)[:30]] = value(rng)
    if rng.random() < 0.8:
        config["unique_id"] = f"fuzz_{rng.randrange(40)}"
    return config


def mqtt_cases(rng: random.Random, prefix: str) -> Iterator[MqttCase]:
    """Discovery configs (and their removal) and state payloads for the topics they use."""
    while True:
        if rng.random() < 0.5:
            component = rng.choice(COMPONENTS) if rng.random() < 0.9 else text(rng)[:20]
            object_id = rng.choice((f"obj{rng.randrange(40)}", text(rng)[:30] or "x"))
            topic = f"{prefix}/{component}/{object_id}/config"
            payload = b"" if rng.random() < 0.05 else encode(rng, discovery_config(rng))
        else:
            topic = f"fuzz/{rng.randrange(8)}/state"
            payload = encode(rng, rng.choice(({"x": value(rng)}, value(rng), text(rng))))
            if rng.random() < 0.3:
                payload = rng.choice((b"ON", b"OFF", b"", b"nan", b"1e999", b"-", b"\x00\xff", b"12.5", b"None"))
        # A broker drops a client that publishes to a topic with wildcards or NUL: such a topic
        # never reaches the hub, so it is not a case.
        # Control characters and non-characters too (Mosquitto checks the UTF-8).
        clean = "".join(c for c in topic if c not in "+#" and c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF
                        and ord(c) < 0xFFFE)
        yield MqttCase(clean[:2000], payload)


def ws_messages(rng: random.Random, first_id: int = 1) -> Iterator[str | bytes]:
    """WebSocket frames after auth: commands with right and wrong fields, ids and types; some not JSON."""
    msg_id = first_id
    while True:
        roll = rng.random()
        if roll < 0.05:
            yield rng.choice(("", "{", "[]", "[1,2]", "null", "1", '"x"', "{" * 10_000, "[" * 100_000))
            continue
        msg_id += rng.randrange(1, 3)
        msg: dict[str, Any] = {"id": msg_id, "type": rng.choice(WS_TYPES)}
        if rng.random() < 0.05:
            msg["id"] = rng.choice((msg_id - 5, str(msg_id), None, 1.5, 2**70, -1))
        if rng.random() < 0.05:
            del msg["type"]
        kind = msg.get("type")
        if kind == "call_service":
            domain = rng.choice(("switch", "light", "mqtt", "persistent_notification", "testdevices", "automation",
                                 "recorder", text(rng)[:20]))
            service = rng.choice(("turn_on", "turn_off", "toggle", "publish", "create", "echo", "fail", "reload",
                                  text(rng)[:20]))
            if (domain, service) in FORBIDDEN_SERVICES:
                service = "turn_on"
            msg.update(domain=domain, service=service)
            if rng.random() < 0.7:
                msg["service_data"] = {rng.choice(("entity_id", "topic", "payload", "message", "brightness", "text")):
                                       value(rng) for _ in range(rng.randrange(0, 4))}
            if rng.random() < 0.4:
                msg["target"] = {"entity_id": rng.choice((value(rng), "switch.test_relay", ["sensor.x", 1]))}
        elif kind == "render_template":
            msg["template"] = rng.choice(TEMPLATES) if rng.random() < 0.8 else value(rng)
        elif kind == "subscribe_events" and rng.random() < 0.7:
            msg["event_type"] = rng.choice(("state_changed", value(rng), "x" * 1000))
        elif kind == "unsubscribe_events":
            msg["subscription"] = rng.choice((msg_id - 1, value(rng)))
        for _ in range(rng.randrange(0, 3)):
            msg[text(rng)[:20]] = value(rng)
        try:
            yield json.dumps(msg)
        except (ValueError, RecursionError):
            yield "{}"


@dataclass(frozen=True, slots=True)
class HttpCase:
    """One HTTP request: method, path (with query), headers, body."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


def _path(rng: random.Random) -> str:
    template = rng.choice(REST_PATHS)

    def word() -> str:
        return rng.choice(("sensor.power", "switch.test_relay", "x", "%2e%2e", "..", "a" * 5000, "%ff%fe", "%00",
                           "light.x", "sensor..x", "é", "x;y", "x?y=1", text(rng)[:40].replace("/", "") or "z"))

    path = template.format(id=word(), domain=word(), service=word(), word=word())
    if rng.random() < 0.2:
        path += rng.choice(("?return_response", "?a=%ff", "?" + "a=1&" * 200, "?filter_entity_id=" + word()))
    return path


def http_cases(rng: random.Random) -> Iterator[HttpCase]:
    """Requests with bad bodies, paths and content types, authenticated or not (the caller adds tokens)."""
    while True:
        method = rng.choice(("GET", "POST", "POST", "POST", "DELETE", "PUT", "PATCH", "OPTIONS", "HEAD"))
        path = _path(rng)
        headers = {"Content-Type": rng.choice(CONTENT_TYPES)}
        if rng.random() < 0.1:
            headers[rng.choice(("X-Forwarded-For", "X-API-Key", "Origin", "Accept-Encoding", "Range"))] = (
                text(rng).encode("ascii", "replace").decode()[:200] or "x")
        roll = rng.random()
        if roll < 0.5:
            body = encode(rng, value(rng))
        elif roll < 0.7:
            body = encode(rng, {rng.choice(("state", "attributes", "entity_id", "grant_type", "username", "password",
                                            "refresh_token", "measurements", "readings", "device", "name")):
                                value(rng) for _ in range(rng.randrange(1, 5))})
        elif roll < 0.8:
            body = b"grant_type=" + text(rng).encode("utf-8", "replace")[:100] + b"&code=%ff"
        elif roll < 0.85:
            body = b"--xyz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n" + bytes([rng.randrange(256)]) * 10
        else:
            body = b""
        yield HttpCase(method, path, headers, body)
