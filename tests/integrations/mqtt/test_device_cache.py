"""Validated device blocks are shared between configs; broken ones are refused, never raised."""

from __future__ import annotations

import pytest
import voluptuous as vol

from integrations.mqtt.schemas import DEVICE_CACHE, SCHEMAS, _valid_devices, device


def nested(depth: int) -> list[object]:
    root: list[object] = []
    current = root
    for _ in range(depth):
        inner: list[object] = []
        current.append(inner)
        current = inner
    return root


def test_equal_device_blocks_are_validated_once_and_shared() -> None:
    first = SCHEMAS["sensor"]({"state_topic": "a/1", "device": {"identifiers": ["n1"], "name": "Node 1", "sw_version": 2}})
    second = SCHEMAS["sensor"]({"state_topic": "a/2", "device": {"sw_version": 2, "name": "Node 1", "identifiers": ["n1"]}})
    assert first["device"] is second["device"]
    assert first["device"] == {"identifiers": ["n1"], "name": "Node 1", "sw_version": "2"}
    # Equal as Python values but not as JSON: 1 and True are told apart.
    assert device({"identifiers": ["n1"], "name": 1})["name"] == "1"
    assert device({"identifiers": ["n1"], "name": True})["name"] == "True"


@pytest.mark.parametrize("bad", [
    {"identifiers": nested(5000)},
    {"identifiers": ["n"], "name": {"x": nested(900)}},
    {"name": "no identifiers"},
])
def test_a_broken_device_block_is_an_invalid_config_not_an_error(bad: dict[str, object]) -> None:
    with pytest.raises(vol.Invalid):
        SCHEMAS["sensor"]({"state_topic": "a/1", "device": bad})


def test_the_device_cache_is_bounded() -> None:
    for n in range(DEVICE_CACHE + 100):
        device({"identifiers": [f"bounded{n}"]})
    assert len(_valid_devices) == DEVICE_CACHE
