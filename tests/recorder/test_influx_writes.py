"""Big writes to InfluxDB (a replay after an outage): bounded requests, all or an error, retried safely.

Against the real servers: influxd for the 1.x backend, VictoriaMetrics (which speaks InfluxDB's
/api/v2/write) for the 2.x one. A pass-through proxy in front of the server records the write
requests and can refuse one of them, as a server that times out half-way through a replay does.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Collection
from typing import Any

import orjson
import pytest
from aiohttp import ClientSession, web
from aiohttp.payload import TOO_LARGE_BYTES_BODY
from aiohttp.test_utils import TestServer

from hub.core.hub import Hub
from hub.recorder.backends.base import AttributeChange, BackendError, Batch, Point, RefusedWrite
from hub.recorder.backends.influx_v1 import InfluxV1Backend, write_bodies
from hub.recorder.backends.influx_v2 import InfluxV2Backend
from hub.recorder.recorder import Recorder
from hub.recorder.spool import Spool

ENTITIES = [f"sensor.meter_{n}_power" for n in range(6)]
POINTS = 60_000
T0 = 1_750_000_000.0


def replay(start: float, points: int = POINTS) -> Batch:
    """A spool's backlog: points of six meters at 1 Hz, and a few big attribute sets (~30 KB each)."""
    rows = [Point(ENTITIES[i % 6], start + i // 6, float(i), None) for i in range(points)]
    big = orjson.dumps({"readings": [{"n": n, "v": n * 0.5} for n in range(1_500)]}).decode()
    changes = [AttributeChange(ENTITIES[n % 6], start + n, big) for n in range(40)]
    return Batch(rows, changes)


def expected(start: float, points: int = POINTS) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {e: [] for e in ENTITIES}
    for i in range(points):
        out[ENTITIES[i % 6]].append(float(i))
    return out


class Proxy:
    """Forwards every request to a real server; keeps the body of each write and refuses the one
    numbered in `refuse` (from 1) with InfluxDB's answer to a write that timed out, or (`drop`) by
    closing the connection unanswered, as a server that restarts does."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.writes: list[bytes] = []
        self.refuse: Collection[int] = ()
        self.drop = False
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.forward)
        self.server = TestServer(app)
        self.session: ClientSession | None = None

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    async def forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.path.endswith("/write"):
            self.writes.append(body)
            if len(self.writes) in self.refuse:
                if self.drop and request.transport is not None:
                    request.transport.close()
                return web.json_response({"error": "timeout"}, status=500)
        assert self.session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("content-type", "authorization", "accept")}
        async with self.session.request(request.method, self.upstream + request.path_qs, data=body or None, headers=headers) as answer:
            data = await answer.read()
            return web.Response(status=answer.status, body=data or None, headers={"Content-Type": answer.content_type})


@pytest.fixture
async def proxy_to() -> AsyncIterator[Any]:
    proxies: list[Proxy] = []

    async def start(upstream: str) -> Proxy:
        proxy = Proxy(upstream)
        await proxy.server.start_server()
        proxy.session = ClientSession()
        proxies.append(proxy)
        return proxy

    yield start
    for proxy in proxies:
        assert proxy.session is not None
        await proxy.session.close()
        await proxy.server.close()


def assert_bounded(bodies: list[bytes]) -> None:
    """Each request within InfluxDB's guidance (10,000 points at most) and under aiohttp's 1 MiB warning."""
    assert bodies
    assert max(body.count(b"\n") + 1 for body in bodies) <= 10_000
    assert max(len(body) for body in bodies) <= TOO_LARGE_BYTES_BODY


def test_bodies_keep_every_line_in_order_within_both_bounds() -> None:
    lines = [f"state,entity_id=sensor.a value={i} {i}" for i in range(12)] + ["attributes json=" + "x" * 900] * 3
    bodies = list(write_bodies(lines, max_lines=5, max_bytes=1_000))
    assert b"\n".join(bodies).decode().split("\n") == lines
    assert all(body.count(b"\n") < 5 and len(body) <= 1_000 for body in bodies)
    assert len(list(write_bodies(["x" * 2_000], max_bytes=1_000))) == 1  # a line longer than the bound goes alone
    assert list(write_bodies([])) == []


@pytest.mark.services
async def test_influx_v1_replay_of_60000_points_lands_whole(influxdb_server: Any, proxy_to: Any) -> None:
    if not influxdb_server.running:
        influxdb_server.start()
    proxy = await proxy_to(influxdb_server.url)
    backend = InfluxV1Backend(proxy.url, f"hub_{uuid.uuid4().hex[:10]}")
    await backend.open()
    try:
        await backend.write(replay(T0))  # the suite turns aiohttp's ResourceWarning into an error
        found = await backend.read_states(None, T0, T0 + POINTS)
        attributes = await backend.read_attributes(ENTITIES, T0, T0 + POINTS)
    finally:
        await backend.close()
    assert {e: [s.value for s in samples] for e, samples in found.items()} == expected(T0)
    assert sum(len(rows) for rows in attributes.values()) == 40
    assert_bounded(proxy.writes)


@pytest.mark.services
async def test_influx_v1_write_refused_mid_way_raises_and_its_retry_stores_each_point_once(
    influxdb_server: Any, proxy_to: Any
) -> None:
    if not influxdb_server.running:
        influxdb_server.start()
    proxy = await proxy_to(influxdb_server.url)
    backend = InfluxV1Backend(proxy.url, f"hub_{uuid.uuid4().hex[:10]}")
    await backend.open()
    batch = replay(T0)
    try:
        proxy.refuse = {4}
        with pytest.raises(BackendError, match="500"):
            await backend.write(batch)
        landed = await backend.read_states(None, T0, T0 + POINTS)
        proxy.refuse = ()
        await backend.write(batch)  # the recorder keeps the batch in its spool and writes it again
        found = await backend.read_states(None, T0, T0 + POINTS)
    finally:
        await backend.close()
    assert 0 < sum(len(samples) for samples in landed.values()) < POINTS  # the write stopped part of the way
    assert {e: [s.value for s in samples] for e, samples in found.items()} == expected(T0)


def _exported(victoria_metrics: Any) -> dict[str, list[float]]:
    series = [orjson.loads(line) for line in victoria_metrics.export('{__name__="state_value"}').splitlines()]
    return {s["metric"]["entity_id"]: s["values"] for s in series if s["metric"]["entity_id"] in ENTITIES}


@pytest.mark.services
async def test_influx_v2_replay_of_60000_points_lands_whole_and_a_refused_request_raises(
    victoria_metrics: Any, proxy_to: Any
) -> None:
    proxy = await proxy_to(victoria_metrics.url)
    start = float(int(time.time()) - 4 * 3600)  # VictoriaMetrics keeps a month unless told otherwise
    bucket = f"history_{uuid.uuid4().hex[:10]}"
    backend = InfluxV2Backend(proxy.url, "token", "home", bucket)
    batch = replay(start)
    try:
        proxy.refuse = {4}
        with pytest.raises(BackendError, match="500"):
            await backend.write(batch)
        refused_at = len(proxy.writes)
        proxy.refuse = ()
        await backend.write(batch)  # the retry: what the first three requests stored is written again
    finally:
        await backend.close()
    assert refused_at == 4  # nothing was sent after the refused request
    assert_bounded(proxy.writes)
    assert _exported(victoria_metrics) == expected(start)


@pytest.mark.services
async def test_influx_v2_connection_dropped_mid_way_is_a_backend_error(victoria_metrics: Any, proxy_to: Any) -> None:
    # BackendError is what the recorder retries for as long as it takes; any other error it takes
    # for a batch the backend refuses, and sets the batch aside after three tries.
    proxy = await proxy_to(victoria_metrics.url)
    backend = InfluxV2Backend(proxy.url, "token", "home", "history")
    proxy.refuse, proxy.drop = {2}, True
    try:
        with pytest.raises(BackendError, match="Disconnected"):
            await backend.write(replay(float(int(time.time()) - 4 * 3600), points=12_000))
    finally:
        await backend.close()


@pytest.mark.services
async def test_influx_v2_recorder_waits_out_dropped_connections_and_sets_nothing_aside(
    hub: Hub, victoria_metrics: Any, proxy_to: Any
) -> None:
    assert hub.config.data_dir is not None
    proxy = await proxy_to(victoria_metrics.url)
    proxy.refuse, proxy.drop = {1, 2, 3, 4}, True  # a server restarting: four writes cut off
    spool = Spool(hub.config.data_dir / "spool")
    recorder = Recorder(hub, InfluxV2Backend(proxy.url, "token", "home", "history"), spool, commit_interval=0.05, retry_max=0.2)
    await recorder.start()
    start = float(int(time.time()) - 3600)
    try:
        for i in range(100):
            hub.states.set("sensor.v2_restart", str(i), timestamp=start + i)
        await recorder.flush(timeout=30)
    finally:
        await recorder.stop()
        await recorder.backend.close()
    assert not (spool.folder / "rejected.bin").exists()
    series = [orjson.loads(line) for line in victoria_metrics.export('{__name__="state_value",entity_id="sensor.v2_restart"}').splitlines()]
    assert [value for s in series for value in s["values"]] == [float(i) for i in range(100)]


@pytest.mark.services
async def test_influx_v1_field_type_conflict_sets_that_group_aside_and_later_points_are_written(hub: Hub, influxdb_server: Any) -> None:
    # Another writer made state.value an integer in the current shard group: InfluxDB refuses
    # the hub's floats there for good. The recorder sets them aside (not lost, not retried forever)
    # and the next group's points are written, instead of everything waiting behind them for a week.
    assert hub.config.data_dir is not None
    if not influxdb_server.running:
        influxdb_server.start()
    backend = InfluxV1Backend(influxdb_server.url, f"hub_{uuid.uuid4().hex[:10]}")
    await backend.open()
    hour = time.time() // 10800 * 10800  # the start of the current 3-hour group
    await backend._write_lines([f"state,entity_id=sensor.other value=5i {int((hour + 10) * 1e6)}"], "raw")
    with pytest.raises(RefusedWrite, match="field type conflict.*refused for good"):
        await backend.write(Batch([Point("sensor.power", hour + 20, 1.5, None)]))
    spool = Spool(hub.config.data_dir / "spool")
    recorder = Recorder(hub, backend, spool, commit_interval=0.05, retry_max=0.2)
    await recorder.start()
    try:
        hub.states.set("sensor.power", "1.5", timestamp=hour + 20)
        await recorder.commit()
        hub.states.set("sensor.power", "2.5", timestamp=hour + 10800 + 20)  # the next group
        await recorder.flush(timeout=30)
        found = await backend.read_states(["sensor.power"], hour, hour + 21600)
    finally:
        await recorder.stop()
        await backend.close()
    assert [(s.ts, s.value) for s in found["sensor.power"]] == [(hour + 10820, 2.5)]
    assert (spool.folder / "rejected.bin").stat().st_size > 0
