"""Prove the throwaway-server fixtures of tests/servers.py against the real servers."""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import aiohttp
import aiomqtt
import asyncpg
import pytest

pytestmark = pytest.mark.services


def _asyncpg_dsn(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+asyncpg://", "postgresql://", 1)


# ---------------------------------------------------------------- PostgreSQL


async def test_pg_url_roundtrip(pg_url, postgres_server):
    assert pg_url.startswith(f"postgresql+asyncpg://{postgres_server.user}@127.0.0.1:{postgres_server.port}/")
    conn = await asyncpg.connect(_asyncpg_dsn(pg_url), timeout=10)
    try:
        await conn.execute("CREATE TABLE readings (id serial PRIMARY KEY, sensor text NOT NULL, watts double precision)")
        await conn.executemany(
            "INSERT INTO readings (sensor, watts) VALUES ($1, $2)", [("plug.kitchen", 12.5), ("plug.tv", 80.0)]
        )
        rows = await conn.fetch("SELECT sensor, watts FROM readings ORDER BY id")
        assert [tuple(r) for r in rows] == [("plug.kitchen", 12.5), ("plug.tv", 80.0)]
        assert await conn.fetchval("SHOW fsync") == "off"
    finally:
        await conn.close()


async def test_pg_url_gives_fresh_databases(postgres_server, pg_url):
    other = postgres_server.create_database()
    assert other not in pg_url
    conn = await asyncpg.connect(postgres_server.dsn, timeout=10)
    try:
        names = {r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database")}
    finally:
        await conn.close()
    assert other in names and pg_url.rsplit("/", 1)[1] in names


async def test_postgres_stop_start_keeps_port_and_data(postgres_server, pg_url):
    dsn = _asyncpg_dsn(pg_url)
    port = postgres_server.port
    conn = await asyncpg.connect(dsn, timeout=10)
    await conn.execute("CREATE TABLE survives (v int); INSERT INTO survives VALUES (42)")

    await asyncio.to_thread(postgres_server.stop)
    assert not postgres_server.running
    with pytest.raises((OSError, asyncpg.PostgresError, asyncpg.InterfaceError)):
        await conn.fetchval("SELECT 1")
    conn.terminate()
    with pytest.raises(OSError):
        await asyncpg.connect(dsn, timeout=5)

    await asyncio.to_thread(postgres_server.start)
    assert postgres_server.running and postgres_server.port == port
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        assert await conn.fetchval("SELECT v FROM survives") == 42
    finally:
        await conn.close()


async def test_postgres_survives_kill_and_restart(postgres_server, pg_url):
    """A crash (SIGKILL of the whole tree) followed by start() recovers; this also
    runs after the previous test restarted the server from a worker thread that
    has since exited, so it proves that restart did not tie the server's life to
    that thread."""
    dsn = _asyncpg_dsn(pg_url)
    conn = await asyncpg.connect(dsn, timeout=10)
    await conn.execute("CREATE TABLE t (v int); INSERT INTO t VALUES (7)")
    await conn.close()

    await asyncio.to_thread(postgres_server.kill)
    await asyncio.to_thread(postgres_server.start)
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        assert await conn.fetchval("SELECT v FROM t") == 7
    finally:
        await conn.close()


# ---------------------------------------------------------------- Mosquitto


def _client(server, **kwargs) -> aiomqtt.Client:
    return aiomqtt.Client(server.host, server.port, timeout=10, **kwargs)


async def test_mosquitto_retained_qos1_roundtrip(mosquitto_server):
    assert mosquitto_server.url == f"mqtt://127.0.0.1:{mosquitto_server.port}"
    topic = f"hub/test/{uuid.uuid4().hex}/state"
    async with _client(mosquitto_server, identifier=f"pub-{uuid.uuid4().hex[:8]}") as pub:
        await pub.publish(topic, b"on", qos=1, retain=True)

    # a subscriber that connects afterwards gets the retained message
    async with _client(mosquitto_server, identifier=f"sub-{uuid.uuid4().hex[:8]}") as sub:
        await sub.subscribe(topic, qos=1)
        async with asyncio.timeout(10):
            message = await anext(aiter(sub.messages))
        assert message.payload == b"on"
        assert message.retain is True
        assert message.qos == 1

        # and a live QoS 1 message
        async with _client(mosquitto_server) as pub:
            await pub.publish(topic, b"off", qos=1)
        async with asyncio.timeout(10):
            message = await anext(aiter(sub.messages))
        assert message.payload == b"off"
        assert message.qos == 1
        assert message.retain is False


async def test_mosquitto_persistent_session_survives_broker_restart(mosquitto_server):
    topic = f"hub/test/{uuid.uuid4().hex}/cmd"
    client_id = f"persistent-{uuid.uuid4().hex[:8]}"

    async with _client(mosquitto_server, identifier=client_id, clean_session=False) as sub:
        await sub.subscribe(topic, qos=1)
    # subscriber is now offline; its session (and subscription) stays on the broker
    async with _client(mosquitto_server) as pub:
        await pub.publish(topic, b"queued-while-offline", qos=1)

    port = mosquitto_server.port
    await asyncio.to_thread(mosquitto_server.stop)
    assert not mosquitto_server.running
    await asyncio.to_thread(mosquitto_server.start)
    assert mosquitto_server.port == port

    # reconnect with the same id and no new SUBSCRIBE: the queued message arrives
    async with _client(mosquitto_server, identifier=client_id, clean_session=False) as sub:
        async with asyncio.timeout(10):
            message = await anext(aiter(sub.messages))
        assert message.topic.matches(topic)
        assert message.payload == b"queued-while-offline"
        assert message.qos == 1


async def test_mosquitto_kill_then_start(mosquitto_server):
    await asyncio.to_thread(mosquitto_server.kill)
    assert not mosquitto_server.running
    with pytest.raises(aiomqtt.MqttError):
        async with _client(mosquitto_server):
            pass
    await asyncio.to_thread(mosquitto_server.start)
    topic = f"hub/test/{uuid.uuid4().hex}"
    async with _client(mosquitto_server) as client:
        await client.subscribe(topic, qos=1)
        await client.publish(topic, b"back", qos=1)
        async with asyncio.timeout(10):
            message = await anext(aiter(client.messages))
        assert message.payload == b"back"


def test_mosquitto_in_flight_window_is_the_embedded_brokers(mosquitto_server):
    """The fixture broker holds as many unacknowledged QoS 1 messages toward a slow hub as the
    embedded broker does (docs/mqtt.md asks the same of an external one); no more, no fewer."""
    import threading

    import paho.mqtt.client as paho

    from integrations.mqtt.broker import MAX_INFLIGHT
    from tests.servers import MQTT_MAX_INFLIGHT

    assert MQTT_MAX_INFLIGHT == MAX_INFLIGHT
    topic = f"hub/test/{uuid.uuid4().hex}/window"
    received: list[paho.MQTTMessage] = []
    enough = threading.Event()

    def on_message(_client, _userdata, message):
        received.append(message)
        if len(received) >= MAX_INFLIGHT:
            enough.set()

    slow = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"slow-{uuid.uuid4().hex[:8]}", clean_session=True)
    slow.manual_ack_set(True)  # a hub that has not acknowledged anything yet
    slow.on_message = on_message
    slow.connect(mosquitto_server.host, mosquitto_server.port)
    slow.subscribe(topic, qos=1)
    slow.loop_start()
    pub = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"dev-{uuid.uuid4().hex[:8]}")
    pub.max_inflight_messages_set(0)
    pub.connect(mosquitto_server.host, mosquitto_server.port)
    pub.loop_start()
    try:
        subscribed = time.monotonic() + 10
        while not slow.is_connected() and time.monotonic() < subscribed:
            time.sleep(0.01)
        time.sleep(0.2)  # the SUBSCRIBE is on the broker before the first PUBLISH
        infos = [pub.publish(topic, str(n), qos=1) for n in range(MAX_INFLIGHT + 200)]
        for info in infos:
            info.wait_for_publish(timeout=20)
        assert enough.wait(20), f"only {len(received)} of {MAX_INFLIGHT} in flight"
        time.sleep(0.5)  # the broker had every message: anything beyond the window would be here by now
        assert len(received) == MAX_INFLIGHT
        for message in received[:100]:  # acknowledged: the broker sends what it queued behind the window
            slow.ack(message.mid, message.qos)
        deadline = time.monotonic() + 10
        while len(received) == MAX_INFLIGHT and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(received) > MAX_INFLIGHT
    finally:
        for client in (slow, pub):
            client.disconnect()
            client.loop_stop()


# ---------------------------------------------------------------- InfluxDB


async def _influx_query(http: aiohttp.ClientSession, url: str, q: str, db: str | None = None) -> dict:
    params = {"db": db} if db else {}
    async with http.post(f"{url}/query", params=params, data={"q": q}) as resp:
        body = await resp.json()
        assert resp.status == 200, body
    assert "error" not in body["results"][0], body
    return body


async def test_influxdb_write_and_query(influxdb_server):
    url = influxdb_server.url
    assert url == f"http://127.0.0.1:{influxdb_server.port}"
    db = f"hub_{uuid.uuid4().hex[:8]}"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
        async with http.get(f"{url}/ping") as resp:
            assert resp.status == 204

        await _influx_query(http, url, f'CREATE DATABASE "{db}"')
        line = "power,entity=sensor.kitchen_plug watts=12.5 1700000000000000000"
        async with http.post(f"{url}/write", params={"db": db}, data=line.encode()) as resp:
            assert resp.status == 204, await resp.text()

        body = await _influx_query(http, url, "SELECT watts, entity FROM power", db=db)
        series = body["results"][0]["series"][0]
        assert series["name"] == "power"
        assert series["columns"] == ["time", "watts", "entity"]
        assert series["values"] == [["2023-11-14T22:13:20Z", 12.5, "sensor.kitchen_plug"]]

        # data survives a restart on the same port
        await asyncio.to_thread(influxdb_server.stop)
        await asyncio.to_thread(influxdb_server.start)
        body = await _influx_query(http, url, "SELECT count(watts) FROM power", db=db)
        assert body["results"][0]["series"][0]["values"][0][1] == 1


def test_a_leaked_child_process_names_the_test_that_started_it() -> None:
    import gc  # noqa: PLC0415
    import subprocess  # noqa: PLC0415

    process = subprocess.Popen(["sleep", "30"])
    pid = process.pid
    cycle: list = [process]
    cycle.append(cycle)  # only the collector frees it, as a frame kept by a traceback would be
    del process, cycle
    try:
        with pytest.warns(ResourceWarning, match=rf"subprocess {pid} \(sleep 30\) started by "
                                                 r"tests/test_servers.py::test_a_leaked_child_process_names"):
            gc.collect()
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
