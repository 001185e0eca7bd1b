"""GET /api/v1/telemetry[/{device_id}]: pages, aggregates, CSV, device keys, errors, every backend alike."""

from __future__ import annotations

import csv
import io
import math
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.recorder import get_recorder
from tests.hubs import write_config

pytest_plugins = ["tests.hubs"]


class Hub:
    """A started hub with a recorder and device keys, an owner's token and an HTTP client."""

    def __init__(self, runtime: Any, http: aiohttp.ClientSession, token: str) -> None:
        self.runtime, self.hub, self.http, self.token = runtime, runtime.hub, http, token
        self.url = runtime.url

    async def key(self, device: str) -> str:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self.http.post(f"{self.url}/api/v1/apikeys", json={"name": device, "device": device}, headers=headers) as r:
            assert r.status == 201, await r.text()
            return str((await r.json())["key"])

    async def post(self, key: str, measurements: dict[str, Any]) -> None:
        async with self.http.post(f"{self.url}/api/v1/telemetry", json={"measurements": measurements}, headers={"X-API-Key": key}) as r:
            assert r.status == 201, await r.text()

    async def get(self, path: str, params: dict[str, Any] | None = None, key: str | None = None,
                  accept: str | None = None) -> tuple[int, Any, aiohttp.ClientResponse]:
        headers = {"X-API-Key": key} if key else {"Authorization": f"Bearer {self.token}"}
        if accept:
            headers["Accept"] = accept
        async with self.http.get(f"{self.url}{path}", params=params or {}, headers=headers) as r:
            body = await r.json() if r.content_type == "application/json" else await r.text()
            return r.status, body, r


async def _start(start_hub: Any, tmp_path: Path, recorder_yaml: str) -> Hub:
    config = write_config(tmp_path / "config", f"recorder:\n{recorder_yaml}http_ingest:\n  rate_limit: 1000\n  burst: 1000\n")
    runtime = await start_hub(config, tmp_path / "data")
    runtime.hub.auth._rounds = 4
    owner = await runtime.hub.auth.add_user("root", "password123", "owner")
    token = await runtime.hub.auth.create_long_lived_token(owner.id, "owner")
    return Hub(runtime, aiohttp.ClientSession(), token)


@pytest.fixture
async def hub(start_hub: Any, tmp_path: Path) -> Any:
    setup = await _start(start_hub, tmp_path, "  commit_interval: 0.05\n")
    try:
        yield setup
    finally:
        await setup.http.close()


async def _seed(setup: Hub, base: float) -> tuple[str, str]:
    """Make device 'meter' with power and energy sensors, and three hours of their history."""
    key = await setup.key("meter")
    await setup.post(key, {"power": {"value": 1, "unit": "W", "device_class": "power"}, "energy": 0})
    device = setup.hub.require_device_registry().get_by_identifier("http_ingest", "meter")
    assert device is not None
    recorder = get_recorder(setup.hub)
    assert recorder is not None
    power = [(base + i * 37.125, (i * 7919) % 3001 / 10) for i in range(3 * 3600 // 37)]
    # A meter counting a quarter per minute, reset to 0.5 at point 100.
    energy = [(base + i * 60.5, 100 + i * 0.25 if i < 100 else 0.5 + (i - 100) * 0.25) for i in range(3 * 60 - 1)]
    await recorder.backfill("sensor.meter_power", power)
    await recorder.backfill("sensor.meter_energy", energy)
    await recorder.backfill("sensor.meter_power", [(base + 5000.0625, "unavailable")])
    await recorder.flush()
    return key, device.id


async def _pages(setup: Hub, path: str, params: dict[str, Any], key: str | None = None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        status, body, _response = await setup.get(path, {**params, **({"cursor": cursor} if cursor else {})}, key)
        assert status == 200, body
        assert len(body["data"]) <= int(params.get("limit", 1000))
        rows.extend(body["data"])
        cursor = body["next_cursor"]
        if cursor is None:
            return rows
    raise AssertionError("the pages did not end")


async def test_raw_pages_are_complete_and_aggregates_match_the_points(hub: Hub) -> None:
    base = (time.time() - 4 * 3600) // 3600 * 3600
    _key, device_id = await _seed(hub, base)
    span = {"start": base, "end": base + 3 * 3600}
    rows = await _pages(hub, f"/api/v1/telemetry/{device_id}", {**span, "limit": 97})
    power = [r for r in rows if r["entity_id"] == "sensor.meter_power"]
    assert len(power) == 3 * 3600 // 37 + 1 and {r["metric"] for r in rows} == {"power", "energy"}
    assert [r["ts"] for r in rows] == sorted(r["ts"] for r in rows)
    assert "unavailable" in [r["value"] for r in power]
    # One hour's max from the 1h aggregate is the max of that hour's raw points.
    status, body, _ = await hub.get("/api/v1/telemetry", {"device_id": device_id, "metric": "power", **span,
                                                          "aggregate": "1h", "fn": "max"})
    assert status == 200 and body["bucket_seconds"] == 3600 and body["fn"] == "max"
    first_hour = [r["value"] for r in power if r["ts"] < base + 3600 and isinstance(r["value"], float)]
    assert body["data"][0] == {"time": body["data"][0]["time"], "ts": base, "entity_id": "sensor.meter_power",
                               "metric": "power", "value": max(first_hour)}
    # sum is the counter's increase: the reset counts its new reading (0.5) as use, not a fall of 125.
    status, body, _ = await hub.get(f"/api/v1/telemetry/{device_id}", {"entity_id": "sensor.meter_energy", **span,
                                                                     "aggregate": "1d", "fn": "sum"})
    assert status == 200
    assert math.isclose(sum(r["value"] for r in body["data"]), 177 * 0.25 + 0.5, rel_tol=1e-9)
    # 1m buckets: each minute's count is its numeric points, its max theirs and the value carried in,
    # the same before and after the downsampler has written the minute tier.
    minute = {"device_id": device_id, "metric": "power", **span, "aggregate": "1m", "limit": 10_000}
    answers = {}
    for when in ("raw", "tier"):
        if when == "tier":
            recorder = get_recorder(hub.hub)
            assert recorder is not None and recorder.tiers is not None
            await recorder.tiers.downsample()
            assert recorder.tiers.tier_until("minute") >= base + 3 * 3600
        answers[when] = {fn: (await hub.get("/api/v1/telemetry", {**minute, "fn": fn}))[1] for fn in ("count", "max")}
    assert answers["tier"] == answers["raw"]
    counts, maxima = answers["raw"]["count"], answers["raw"]["max"]
    assert counts["bucket_seconds"] == 60 and counts["aggregate"] == "1m"
    numbers = [(r["ts"], r["value"]) for r in power if isinstance(r["value"], float)]
    assert sum(r["value"] for r in counts["data"]) == len(numbers)
    held = None
    expected = {}
    for ts, value in numbers:
        start = ts // 60 * 60
        expected[start] = max(expected.get(start, held if held is not None else value), value)
        held = value
    assert {r["ts"]: r["value"] for r in maxima["data"]} == expected
    # CSV, by Accept or format=.
    status, text, response = await hub.get(f"/api/v1/telemetry/{device_id}", {**span, "aggregate": "5m", "limit": 10},
                                           accept="text/csv")
    assert status == 200 and response.content_type == "text/csv"
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == ["time", "entity_id", "metric", "value"] and len(table) == 11
    assert response.headers["X-Next-Cursor"] and 'rel="next"' in response.headers["Link"]


async def test_a_device_key_reads_its_own_device_only(hub: Hub) -> None:
    base = (time.time() - 4 * 3600) // 3600 * 3600
    key, device_id = await _seed(hub, base)
    other = await hub.key("garage")
    await hub.post(other, {"power": 5})
    garage = hub.hub.require_device_registry().get_by_identifier("http_ingest", "garage")
    assert garage is not None
    status, body, _ = await hub.get("/api/v1/telemetry", {"start": base, "end": base + 3600}, key=key)
    assert status == 200 and body["device_id"] == device_id and len(body["data"]) > 0
    status, body, _ = await hub.get(f"/api/v1/telemetry/{garage.id}", key=key)
    assert status == 403 and "device 'meter'" in body["message"] and "'garage'" in body["message"]
    status, body, _ = await hub.get("/api/v1/telemetry", {"entity_id": "sensor.garage_power"}, key=key)
    assert status == 403 and "sensor.garage_power" in body["message"] and "'meter'" in body["message"]
    status, body, _ = await hub.get("/api/v1/telemetry", {"device_id": device_id}, key="phk_wrong")
    assert status == 401


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"start": "yesterday"}, "start"),
        ({"end": "nan"}, "end"),
        ({"start": "1e300"}, "start"),
        ({"end": "-5"}, "end"),
        ({"start": "9999-12-31T23:59:59+00:00"}, "start"),
        ({"aggregate": "2h"}, "aggregate"),
        ({"fn": "median", "aggregate": "5m"}, "fn"),
        ({"limit": "0"}, "limit"),
        ({"limit": "100001"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"format": "xml"}, "format"),
        ({"colour": "red"}, "colour"),
        ({"entity_id": "not an id"}, "entity_id"),
        ({"start": "2024-01-02T00:00:00Z", "end": "2024-01-01T00:00:00Z"}, "end"),
    ],
)
async def test_errors_name_the_parameter(hub: Hub, params: dict[str, str], named: str) -> None:
    status, body, _ = await hub.get("/api/v1/telemetry", {"entity_id": "sensor.x", **params})
    assert status == 400 and body["message"].startswith(f"{named}:"), body


async def test_buckets_older_than_the_five_minute_tier_widen_to_hours(hub: Hub) -> None:
    base = (time.time() - 4 * 3600) // 3600 * 3600
    _key, device_id = await _seed(hub, base)
    status, body, _ = await hub.get("/api/v1/telemetry", {"device_id": device_id, "start": base - 40 * 86400 + 17,
                                                          "end": base + 3 * 3600, "aggregate": "5m", "limit": 10_000})
    # The default plan keeps 5-minute rows 30 days: a range reaching 40 days back is answered in hours.
    assert status == 200 and body["bucket_seconds"] == 3600 and body["next_cursor"] is None
    assert {r["ts"] for r in body["data"]} == {base, base + 3600, base + 7200}


async def test_unknown_device_and_a_cursor_of_another_query(hub: Hub) -> None:
    base = (time.time() - 4 * 3600) // 3600 * 3600
    _key, device_id = await _seed(hub, base)
    status, body, _ = await hub.get("/api/v1/telemetry/nope")
    assert status == 404 and body["message"].startswith("device_id:")
    status, body, _ = await hub.get("/api/v1/telemetry", {"device_id": device_id, "start": base, "end": base + 3600, "limit": 5})
    assert body["next_cursor"]
    status, body, _ = await hub.get("/api/v1/telemetry", {"device_id": device_id, "aggregate": "5m", "cursor": body["next_cursor"]})
    assert status == 400 and "another query" in body["message"]


async def test_both_routes_are_in_the_openapi_document(hub: Hub) -> None:
    status, body, _ = await hub.get("/api/v1/openapi.json")
    assert status == 200
    for path in ("/api/v1/telemetry", "/api/v1/telemetry/{device_id}"):
        operation = body["paths"][path]["get"]
        assert {p["name"] for p in operation["parameters"]} >= {"start", "end", "aggregate", "fn", "limit", "cursor"}
    assert "TelemetryPage" in body["components"]["schemas"]


QUERIES = [
    {"aggregate": "raw", "limit": 200},
    {"aggregate": "1m", "fn": "mean"},
    {"aggregate": "1m", "fn": "sum", "metric": "energy"},
    {"aggregate": "5m", "fn": "mean"},
    {"aggregate": "5m", "fn": "last"},
    {"aggregate": "1h", "fn": "min"},
    {"aggregate": "1h", "fn": "sum"},
    {"aggregate": "1d", "fn": "max"},
    {"aggregate": "5m", "fn": "count", "metric": "energy"},
]


@pytest.mark.services
async def test_the_same_query_gives_the_same_numbers_on_sqlite_postgresql_and_influxdb(
    start_hub: Any, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    base = (time.time() - 4 * 3600) // 3600 * 3600
    answers: dict[str, list[list[tuple[Any, ...]]]] = {}
    backends = {
        "sqlite": "  commit_interval: 0.05\n",
        "postgresql": f"  commit_interval: 0.05\n  backend: postgresql\n  db_url: {request.getfixturevalue('pg_url')}\n",
        "influxdb": "",
    }
    server = request.getfixturevalue("influxdb_server")
    if not server.running:
        server.start()
    backends["influxdb"] = f"  commit_interval: 0.05\n  backend: influxdb\n  url: {server.url}\n  database: telemetry_{int(base)}\n"
    for kind, recorder_yaml in backends.items():
        setup = await _start(start_hub, tmp_path / kind, recorder_yaml)
        try:
            _key, device_id = await _seed(setup, base)
            answers[kind] = []
            for query in QUERIES:
                rows = await _pages(setup, f"/api/v1/telemetry/{device_id}", {"start": base, "end": base + 3 * 3600, **query})
                assert rows, (kind, query)
                answers[kind].append([(r["ts"], r["entity_id"], r["metric"], r["value"]) for r in rows])
        finally:
            await setup.http.close()
            await setup.runtime.hub.stop()
    assert answers["postgresql"] == answers["sqlite"]
    assert answers["influxdb"] == answers["sqlite"]
