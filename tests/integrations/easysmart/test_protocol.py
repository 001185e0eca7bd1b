"""The EasySmart-style payloads on their own: values, status words, times, refusals naming the field."""

from __future__ import annotations

import pytest

from hub.reading_time import Skew, parse_reading_time
from integrations.easysmart.protocol import PayloadError, Topics, parse_discovery, parse_status, parse_value

NOW = 1_733_212_800.0  # 2024-12-03T08:00:00Z


@pytest.mark.parametrize(("value", "expected"), [
    (NOW, NOW), (int(NOW * 1000), NOW), ("2024-12-03T08:00:00Z", NOW), ("2024-12-03T09:00:00+01:00", NOW),
    ("2024-12-03T08:00:00", NOW), ("yesterday", None), (True, None), (None, None), (float("nan"), None),
])
def test_reading_times_in_seconds_milliseconds_and_iso(value: object, expected: float | None) -> None:
    assert parse_reading_time(value) == expected


def test_the_skew_bounds_what_is_believed() -> None:
    skew = Skew(max_age=3600, max_ahead=60)
    assert skew.when(NOW - 3599, NOW) == (NOW - 3599, None)
    when, why = skew.when(NOW - 3601, NOW)
    assert when == NOW and "3600 s before" in (why or "")
    when, why = skew.when(NOW + 61, NOW)
    assert when == NOW and "60 s after" in (why or "")


@pytest.mark.parametrize(("payload", "expected"), [
    (b"230.5", (230.5, None)), (b"ON", ("ON", None)), (b"true", (True, None)), (b'"auto"', ("auto", None)),
    (b'{"value": 5, "ts": 1733212800}', (5, 1733212800)), (b'{"value": "x", "timestamp": "2024-12-03"}', ("x", "2024-12-03")),
])
def test_state_values(payload: bytes, expected: tuple[object, object]) -> None:
    assert parse_value(payload) == expected


def test_status_words() -> None:
    assert parse_status(b"online") is True and parse_status(b'{"status": "offline"}') is False
    with pytest.raises(PayloadError, match="expected online or offline"):
        parse_status(b"sleepy")


@pytest.mark.parametrize(("payload", "message"), [
    (b"[]", "expected a JSON object"),
    (b'{"device": {"id": "other"}, "entities": [{"id": "p"}]}', r"device.id: 'other' is not the topic's 'd1'"),
    (b'{"entities": []}', "entities: expected a non-empty list"),
    (b'{"entities": [{"id": "Power"}]}', r"entities\[0\].id"),
    (b'{"entities": [{"id": "status"}]}', r"entities\[0\].id"),
    (b'{"entities": [{"id": "p", "type": "light"}]}', r"entities\[0\].type: expected one of"),
    (b'{"entities": [{"id": "n", "type": "number", "min": 5, "max": 1}]}', r"entities\[0\].max: must be above min"),
    (b'{"entities": [{"id": "p"}, {"id": "p"}]}', r"entities\[1\].id: 'p' is announced twice"),
    (b'{"device": {"name": ["x"]}, "entities": [{"id": "p"}]}', "device.name: expected a string"),
])
def test_a_bad_discovery_names_the_field(payload: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        parse_discovery("d1", payload)


def test_topics_under_a_root() -> None:
    topics = Topics("home1/")
    assert topics.state("d1", "relay") == "home1/devices/d1/relay/state"
    assert topics.set("d1", "relay") == "home1/devices/d1/relay/set"
    assert topics.parts("home1/devices/d1/status") == ["d1", "status"]
    assert topics.parts("devices/d1/status") is None
