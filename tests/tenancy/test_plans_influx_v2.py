"""InfluxDB 2.x history of a home on a plan: its plan's bucket with the plan's retention rule, the home's
tags on every point and in every query, and per-home deletes of the tiers kept shorter than the bucket.

No InfluxDB 2.x server runs here (the Debian package is 1.x): the bucket, delete and query endpoints
are a mock that records the requests, with InfluxDB 2's documented request and answer shapes; the
write path goes to a real server that speaks /api/v2/write (VictoriaMetrics) when it is installed.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from hub.core.scope import DEFAULT_SCOPE, HomeScope
from hub.recorder.backends.base import Batch, Point
from hub.recorder.backends.influx_v2 import InfluxV2Backend
from hub.recorder.config import CONFIG_SCHEMA
from hub.recorder.tiers import Downsampler, parse_plan
from hub.tenancy.plans import DAY, PLANS
from tests.recorder.conftest import victoria_metrics  # noqa: F401 - the real v2 write endpoint

FLAT = HomeScope("acme", "flat")
EMPTY_QUERY = "#datatype,string,long\n#group,false,false\n#default,_result,\n,result,table\n\n"


class MockInfluxV2Api:
    """A mock of InfluxDB 2's buckets, orgs, delete and query endpoints; it keeps what it was sent."""

    def __init__(self) -> None:
        self.buckets: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, Any]] = []
        app = web.Application()
        app.router.add_get("/api/v2/buckets", self.list_buckets)
        app.router.add_post("/api/v2/buckets", self.create_bucket)
        app.router.add_patch("/api/v2/buckets/{id}", self.patch_bucket)
        app.router.add_get("/api/v2/orgs", self.orgs)
        app.router.add_post("/api/v2/delete", self.delete)
        app.router.add_post("/api/v2/query", self.query)
        self.server = TestServer(app)

    async def _note(self, request: web.Request) -> Any:
        body = await request.json() if request.can_read_body else None
        self.requests.append((request.method, request.path_qs, body))
        assert request.headers["Authorization"] == "Token secret"
        return body

    async def list_buckets(self, request: web.Request) -> web.Response:
        await self._note(request)
        found = [b for b in self.buckets.values() if b["name"] == request.query["name"]]
        return web.json_response({"buckets": found})

    async def create_bucket(self, request: web.Request) -> web.Response:
        body = await self._note(request)
        assert body["orgID"] == "org1"
        bucket = {"id": f"b{len(self.buckets) + 1}", **body}
        self.buckets[bucket["id"]] = bucket
        return web.json_response(bucket, status=201)

    async def patch_bucket(self, request: web.Request) -> web.Response:
        body = await self._note(request)
        self.buckets[request.match_info["id"]].update(body)
        return web.json_response(self.buckets[request.match_info["id"]])

    async def orgs(self, request: web.Request) -> web.Response:
        await self._note(request)
        return web.json_response({"orgs": [{"id": "org1", "name": request.query["org"]}]})

    async def delete(self, request: web.Request) -> web.Response:
        await self._note(request)
        return web.Response(status=204)

    async def query(self, request: web.Request) -> web.Response:
        await self._note(request)
        return web.Response(text=EMPTY_QUERY, content_type="text/csv")


@pytest.fixture
async def api() -> Any:
    mock = MockInfluxV2Api()
    await mock.server.start_server()
    yield mock
    await mock.server.close()


def retention(plan: str) -> dict[str, float]:
    return parse_plan(CONFIG_SCHEMA({}), PLANS[plan]).longest()


async def test_a_plan_gets_its_own_bucket_with_the_plans_retention(api: MockInfluxV2Api) -> None:
    url = str(api.server.make_url(""))
    for plan in ("free", "industrial", "free"):
        backend = InfluxV2Backend(url, "secret", "homes", "history", scope=FLAT, plan=plan)
        try:
            await backend.retention_hint(retention(plan))
        finally:
            await backend.close()
    assert {b["name"]: b["retentionRules"] for b in api.buckets.values()} == {
        "history_free": [{"type": "expire", "everySeconds": 30 * 86400}],
        "history_industrial": [{"type": "expire", "everySeconds": 0}],  # unlimited
    }
    assert [r for r in api.requests if r[0] in ("POST", "PATCH")] == [
        ("POST", "/api/v2/buckets", {"orgID": "org1", "name": "history_free", "retentionRules": [
            {"type": "expire", "everySeconds": 30 * 86400}]}),
        ("POST", "/api/v2/buckets", {"orgID": "org1", "name": "history_industrial", "retentionRules": [
            {"type": "expire", "everySeconds": 0}]}),
    ]  # the second free home found its plan's bucket as it should be
    # A plan whose retention changed in the configuration: the bucket's rule follows.
    backend = InfluxV2Backend(url, "secret", "homes", "history", scope=FLAT, plan="free")
    try:
        await backend.retention_hint({**retention("free"), "day": 60 * DAY})
    finally:
        await backend.close()
    assert api.buckets["b1"]["retentionRules"] == [{"type": "expire", "everySeconds": 60 * 86400}]


async def test_queries_name_the_home_and_deletes_touch_only_its_points(api: MockInfluxV2Api, tmp_path: Any) -> None:
    url = str(api.server.make_url(""))
    backend = InfluxV2Backend(url, "secret", "homes", "history", scope=FLAT, plan="professional")
    single = InfluxV2Backend(url, "secret", "homes", "history", scope=DEFAULT_SCOPE)
    try:
        await backend.retention_hint(retention("professional"))
        await backend.read_states(["sensor.power"], 0, 10)
        await single.read_states(None, 0, 10)
        now = time.time()
        # professional: raw 90 days in a bucket of 365; the raw tier goes by deleting this home's points.
        await Downsampler(backend, parse_plan(CONFIG_SCHEMA({}), PLANS["professional"]), tmp_path / "t.json",
                          lambda: now).purge()
    finally:
        await backend.close()
        await single.close()
    flux = [body["query"] for method, path, body in api.requests if path.startswith("/api/v2/query")]
    assert 'from(bucket: "history_professional")' in flux[0]
    assert '|> filter(fn: (r) => r.tenant == "acme" and r.home == "flat")' in flux[0]
    # The single home's own bucket: its points from before homes (untagged) are its own.
    assert 'from(bucket: "history")' in flux[1]
    assert ('(r.tenant == "default" and r.home == "default") or (not exists r.tenant and not exists r.home)'
            in flux[1])
    deletes = [body for method, path, body in api.requests if path.startswith("/api/v2/delete")]
    # The 15-second and minute tiers are kept as long as raw points: they go the same way.
    assert [d["predicate"] for d in deletes] == ['_measurement="state" AND tenant="acme" AND home="flat"',
                                                 '_measurement="fifteen_second" AND tenant="acme" AND home="flat"',
                                                 '_measurement="minute" AND tenant="acme" AND home="flat"']
    stop = deletes[0]["stop"]
    assert stop.startswith(time.strftime("%Y-%m-%d", time.gmtime(now - 90 * 86400)))


@pytest.mark.services
async def test_points_reach_a_real_v2_write_endpoint_with_their_home(victoria_metrics: Any) -> None:  # noqa: F811
    backend = InfluxV2Backend(victoria_metrics.url, "token", "homes", "history", scope=FLAT, plan="free")
    now = float(int(time.time()) - 3600)
    try:
        await backend.write(Batch([Point("sensor.power", now, 5.0, None)]))
    finally:
        await backend.close()
    (series,) = [orjson.loads(line) for line in victoria_metrics.export('{__name__="state_value"}').splitlines()]
    assert series["metric"]["tenant"] == "acme" and series["metric"]["home"] == "flat"
    assert series["values"] == [5.0]
