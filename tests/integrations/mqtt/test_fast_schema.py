"""The discovery schemas' fast path answers exactly as voluptuous does: same config out, same error.

Real payloads (tests/integrations/mqtt/fixtures) and seeded mutations of them: keys dropped,
values swapped for other JSON types, wildcards in topics, unknown keys, conflicting options.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import orjson
import pytest
import voluptuous as vol

from integrations.mqtt.abbreviations import expand_base_topic, expand_component
from integrations.mqtt.fast_schema import FastDictSchema
from integrations.mqtt.schemas import SCHEMAS, humanize

FIXTURES = Path(__file__).parent / "fixtures"
ODD_VALUES: list[Any] = [None, True, False, 0, 1, 2, -1, 3.5, "", "x", "a/+/b", "a/#", "#", "ON", "1", "on", "nope",
                         [], ["a"], [1, 2], {}, {"topic": "t"}, {"ids": ["n"]}, "utf-8", "no-such-codec", "[", 1e300]
EXTRA_KEYS = ["availability", "availability_topic", "qos", "min", "max", "options", "state_class", "entity_category",
              "encoding", "device", "origin", "unknown_key", "command_topic", "state_topic", "step", "pattern", "mode"]


def real_configs() -> list[tuple[str, dict[str, Any]]]:
    """Every entity config of the real payload fixtures, expanded as discovery expands it."""
    found = []
    for path in sorted(FIXTURES.glob("*.json")):
        for topic, payload in json.loads(path.read_text())["messages"]:
            component = topic.split("/")[1]
            if not topic.endswith("/config") or component not in SCHEMAS or not payload:
                continue
            data = json.loads(payload)
            found.append((component, expand_base_topic(expand_component(data))))
    return found


@pytest.fixture
def mqtt_client_backend() -> str:
    """No broker here: once, not once per client backend."""
    return "none"


def outcome(schema: Any, config: dict[str, Any]) -> tuple[str, str]:
    """What a schema makes of a config (as canonical JSON: 1, 1.0 and true stay apart), or its error.

    Key order is not compared: voluptuous adds defaults in the order of a set of its markers,
    which changes with the process's string hashing.
    """
    try:
        return "ok", orjson.dumps(schema(config), option=orjson.OPT_SORT_KEYS).decode()
    except vol.Invalid as err:
        return "invalid", humanize(err)


def mutations(config: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    mutated = dict(config)
    for _ in range(rng.randint(1, 3)):
        action = rng.random()
        if action < 0.3 and mutated:
            del mutated[rng.choice(list(mutated))]
        elif action < 0.7 and mutated:
            mutated[rng.choice(list(mutated))] = rng.choice(ODD_VALUES)
        else:
            mutated[rng.choice(EXTRA_KEYS)] = rng.choice(ODD_VALUES)
    return mutated


def test_the_fixtures_give_configs_of_every_common_component():
    assert {component for component, _ in real_configs()} >= {"sensor", "binary_sensor", "switch", "light", "number"}


@pytest.mark.parametrize(("component", "config"), real_configs())
def test_a_real_config_validates_on_the_fast_path_as_voluptuous_validates_it(component, config):
    schema = SCHEMAS[component]
    assert outcome(schema, config) == outcome(schema.slow, config)
    assert outcome(schema, config)[0] == "ok"


def test_mutated_configs_give_the_same_result_or_the_same_error():
    rng = random.Random(23)
    configs = real_configs()
    seen = {"ok": 0, "invalid": 0}
    for _ in range(3000):
        component, config = rng.choice(configs)
        mutated = mutations(config, rng)
        schema = SCHEMAS[component]
        fast, slow = outcome(schema, mutated), outcome(schema.slow, mutated)
        assert fast == slow, (component, mutated)
        seen[fast[0]] += 1
    assert seen["ok"] > 500 and seen["invalid"] > 500  # both paths were walked


def test_an_invalid_config_gets_voluptuous_error_with_its_path():
    with pytest.raises(vol.Invalid) as caught:
        SCHEMAS["sensor"]({"state_topic": "a/#/b", "name": "x"})
    assert humanize(caught.value) == "invalid subscribe topic 'a/#/b' @ data['state_topic']"
    with pytest.raises(vol.Invalid) as caught:
        SCHEMAS["switch"]({"state_topic": "a/b"})
    assert humanize(caught.value) == "required key not provided @ data['command_topic']"


def test_defaults_are_filled_and_unknown_keys_dropped():
    validated = SCHEMAS["sensor"]({"state_topic": "a/b", "whatever": 1})
    assert validated["enabled_by_default"] is True and validated["encoding"] == "utf-8"
    assert validated["availability_mode"] == "latest" and "whatever" not in validated


def test_a_mutable_default_is_not_shared_between_configs():
    schema = FastDictSchema({vol.Optional("items", default=list): [str], vol.Required("a"): str})
    first, second = schema({"a": "x"}), schema({"a": "y"})
    first["items"].append("z")
    assert second["items"] == []


def test_only_string_keys_with_markers_are_taken():
    with pytest.raises(TypeError, match="Required/Optional string keys"):
        FastDictSchema({str: str})
