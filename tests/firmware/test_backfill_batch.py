"""The hub side of the offline buffer: telemetry batches are checked before they reach history."""

from __future__ import annotations

import json

import pytest

from integrations.telemetry_backfill.batch import BatchError, parse

NOW = 1_800_000_000.0


def payload(**data: object) -> bytes:
    return json.dumps(data).encode()


def test_batch_becomes_points_per_field() -> None:
    batch = parse("kitchen-1", payload(node_id="kitchen-1", readings=[
        {"ts": NOW - 20, "power": 100.5, "energy": 1.25, "voltage": 230.1},
        {"ts": NOW - 10, "power": 0, "energy": 1.26},
    ]), now=NOW)
    assert batch.count == 2 and (batch.first_ts, batch.last_ts) == (NOW - 20, NOW - 10)
    assert batch.points["power"] == [(NOW - 20, 100.5), (NOW - 10, 0.0)]
    assert batch.points["voltage"] == [(NOW - 20, 230.1)]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "not JSON"),
        (b"[]", "JSON object"),
        (payload(node_id="other", readings=[]), "does not match the topic"),
        (payload(node_id="kitchen-1", readings={}), "'readings' must be a list"),
        (payload(node_id="kitchen-1", readings=[5]), r"readings\[0\] must be an object"),
        (payload(node_id="kitchen-1", readings=[{"power": 1}]), r"readings\[0\].ts"),
        (payload(node_id="kitchen-1", readings=[{"ts": 86400, "power": 1}]), "between 2020 and now"),
        (payload(node_id="kitchen-1", readings=[{"ts": NOW + 7 * 86400, "power": 1}]), "between 2020 and now"),
        (payload(node_id="kitchen-1", readings=[{"ts": NOW, "power": "high"}]), r"readings\[0\].power must be a number"),
    ],
)
def test_bad_batches_are_refused_with_the_field_named(raw: bytes, message: str) -> None:
    with pytest.raises(BatchError, match=message):
        parse("kitchen-1", raw, now=NOW)
