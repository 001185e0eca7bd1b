"""Seeded broken MQTT payloads: discovery configs and state payloads, for the fuzz test and its bench.

Every value is one a real device or a broken one could send: numbers out of range (inf, NaN,
1e999, 400-digit integers), wrong types, text over 255 characters, JSON nested 10,000 deep,
bytes that are not UTF-8, a 1 MB payload. `campaign(seed, configs)` gives the configs to publish
and then the state payloads, always the same for a seed.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

COMPONENTS = ("sensor", "binary_sensor", "switch", "number", "select", "text", "button", "light")
DEEP = 10_000

# Values for any field of a config: sensible ones and broken ones.
NASTY: list[object] = [
    float("inf"), float("-inf"), float("nan"), 1e308, -1e308, 10**400, -(10**20), 0, -1, 2**63, True, False, None,
    "", "x" * 300, "é" * 5000, [], {}, [1, [2, [3]]], {"a": {"b": 1}}, "{{ value_json.a.b.c }}", "{{ value | float }}",
    "{{ value_json }}", "{{ (value | float) * 1e308 * 10 }}", "{{ value_json.x | int }}", "{{ 'y' * 1000 }}",
    "{{ value_json[0] }}", "{% for i in value_json %}{{ i }}{% endfor %}", "\x00", "a/#", "+", "🙂" * 100,
]

# Raw state payloads.
PAYLOADS: list[bytes] = [
    b"", b"ON", b"OFF", b"online", b"offline", b"12.5", b"nan", b"NaN", b"inf", b"-inf", b"1e999", b"-1e999",
    b"9" * 5000, b"\xff\xfe\xfd", b"\xc3\x28", b"\xed\xa0\x80", b"\x00\x01\x02", b"[" * DEEP + b"]" * DEEP,
    b'{"a":' * DEEP + b"1" + b"}" * DEEP, b"a" * 1_000_000, b'{"a": NaN, "b": Infinity}', b'{"x": 1e999}',
    b'{"a": {"b": {"c": "' + b"z" * 400 + b'"}}}', b"[1, 2, 3]", b'"text"', b"true", b"null", b"{", b"x" * 300,
    b'{"brightness": 1e999, "state": "ON"}', b'{"state": 5}', b"-0", b"18446744073709551616",
]


@dataclass
class Campaign:
    configs: list[tuple[str, bytes]]  # (discovery topic, payload)
    states: list[tuple[str, bytes]]  # (topic, payload)


def _value(rng: random.Random, sensible: object) -> object:
    return sensible if rng.random() < 0.85 else rng.choice(NASTY)


def _config(rng: random.Random, component: str, index: int, base: str) -> dict[str, object]:
    topics = {key: f"{base}/{index}/{key}" for key in ("state", "command", "attr", "avail", "bri_state", "bri_cmd")}
    config: dict[str, object] = {
        "name": _value(rng, f"Fuzz {index}"),
        "unique_id": f"fuzz_{base}_{index}",  # unique: every config is its own entity
        "state_topic": topics["state"],
        "json_attributes_topic": topics["attr"],
        "availability_topic": topics["avail"],
    }
    if component in ("switch", "number", "select", "text", "button", "light"):
        config["command_topic"] = topics["command"]
    optional: dict[str, object] = {
        "value_template": "{{ value_json.v }}",
        "json_attributes_template": "{{ value_json.attrs | tojson }}",
        "unit_of_measurement": "W",
        "device_class": "power",
        "state_class": "measurement",
        "suggested_display_precision": 2,
        "expire_after": 60,
        "force_update": True,
        "payload_on": "ON",
        "payload_off": "OFF",
        "min": 0,
        "max": 100,
        "step": 1,
        "options": ["a", "b"],
        "brightness_scale": 255,
        "brightness_state_topic": topics["bri_state"],
        "brightness_command_topic": topics["bri_cmd"],
        "brightness_value_template": "{{ value_json.brightness }}",
        "qos": 1,
        "encoding": "utf-8",
        "icon": "mdi:flash",
        "device": {"identifiers": [f"fuzzdev_{index % 50}"], "name": "Fuzz device"},
        "availability": [{"topic": topics["avail"]}],
        "off_delay": 5,
        "pattern": "[a-z]*",
    }
    for key, sensible in optional.items():
        if rng.random() < 0.25:
            config[key] = _value(rng, sensible)
    return config


def campaign(seed: int, configs: int, states_per_config: int = 4, base: str = "fz") -> Campaign:
    """Return `configs` discovery configs (most of them valid) and the state payloads that follow."""
    rng = random.Random(seed)
    out = Campaign([], [])
    for index in range(configs):
        component = COMPONENTS[index % len(COMPONENTS)]
        config = _config(rng, component, index, base)
        payload = json.dumps(config, allow_nan=True).encode()
        if rng.random() < 0.05:  # some not JSON objects at all
            payload = rng.choice(PAYLOADS[:30])
        out.configs.append((f"{{prefix}}/{component}/fuzz_{base}_{index}/config", payload))
        for _ in range(states_per_config):
            key = rng.choice(("state", "state", "attr", "avail", "bri_state", "command"))
            if rng.random() < 0.7:
                body = rng.choice(PAYLOADS)
            else:
                body = json.dumps({"v": rng.choice(NASTY), "attrs": rng.choice(NASTY), "brightness": rng.choice(NASTY)},
                                  allow_nan=True).encode()
            out.states.append((f"{base}/{index}/{key}", body))
    rng.shuffle(out.states)
    return out
