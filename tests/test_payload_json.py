"""hub.payload_json: device JSON parsed with a depth bound, so no payload makes the hub recurse deep."""

from __future__ import annotations

import json

import orjson
import pytest

from hub import payload_json
from hub.payload_json import MAX_DEPTH


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_the_usual_payloads_parse_as_orjson_does() -> None:
    text = '{"ENERGY": {"Power": 150, "Today": 1.5}, "list": [1, [2, [3]]]}'
    assert payload_json.loads(text) == orjson.loads(text)
    assert payload_json.loads(text.encode()) == orjson.loads(text)
    assert payload_json.loads(b"12.5") == 12.5


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1_000, 1_024, 10_000])
def test_nested_deeper_than_the_bound_is_invalid_json(depth: int) -> None:
    with pytest.raises(orjson.JSONDecodeError):
        payload_json.loads(nested(depth))
    with pytest.raises(ValueError, match="nested deeper than|depth limit"):
        payload_json.loads(('{"a":' * depth + "1" + "}" * depth).encode())


def test_the_bound_itself_parses() -> None:
    assert payload_json.deeper_than(payload_json.loads(nested(MAX_DEPTH)), MAX_DEPTH - 1)
    assert not payload_json.deeper_than(payload_json.loads(memoryview(nested(MAX_DEPTH).encode())), MAX_DEPTH)


def test_many_brackets_side_by_side_are_not_deep() -> None:
    wide = json.dumps([{"v": [n]} for n in range(10_000)])
    assert len(payload_json.loads(wide)) == 10_000


def test_nan_and_infinity_are_not_json_as_in_home_assistant() -> None:
    for text in ('{"a": NaN}', "Infinity", "[-Infinity]"):
        with pytest.raises(ValueError):
            payload_json.loads(text)
