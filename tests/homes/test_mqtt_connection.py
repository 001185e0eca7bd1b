"""The homes of a process share one MQTT connection (docs/homes.md, "One connection"), on a real
Mosquitto of this module's own (its `$SYS` counts the clients) and real PostgreSQL (the recorder's
spool is each home's barrier)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
import pytest
import pytest_asyncio
from paho.mqtt.enums import CallbackAPIVersion

from hub import bootstrap
from hub.homes.host import Home, HomeHost
from integrations import mqtt
from integrations.mqtt import runtime_of, shared
from integrations.mqtt.subscriptions import Message
from tests.homes.conftest import grant_roles, homes_config
from tests.pg_roles import make_roles
from tests.servers import launch_mosquitto

RECORDER = """
recorder:
  backend: postgresql
  db_url: {pg_url}
  commit_interval: 0.05
"""


@dataclass(slots=True)
class Run:
    runtime: bootstrap.Runtime
    homes: HomeHost
    broker: Any
    device: paho.Client


async def until(condition: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        await asyncio.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")


def _device(port: int) -> paho.Client:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"device-{time.monotonic_ns()}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def _publish(device: paho.Client, topic: str, payload: str, qos: int = 1) -> None:
    device.publish(topic, payload, qos=qos).wait_for_publish(5)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def run(tmp_path_factory: pytest.TempPathFactory, postgres_server: Any) -> AsyncIterator[Run]:
    # $SYS refreshed every second: the test reads the number of connected clients.
    broker = await asyncio.to_thread(launch_mosquitto, "hub-conn-", [
        "allow_anonymous true", "sys_interval 1", "max_queued_messages 100000", "max_inflight_messages 100"])
    tmp_path = tmp_path_factory.mktemp("conn")
    pg_url = postgres_server.url(postgres_server.create_database())
    roles = await make_roles(pg_url)
    config_dir = homes_config(tmp_path, roles.storage_yaml(), broker.url, RECORDER.replace("{pg_url}", pg_url))
    checked = await grant_roles(roles, config_dir)
    runtime = await bootstrap.start(config_dir, tmp_path / "data", port=0, checked=checked)
    device = await asyncio.to_thread(_device, broker.port)
    try:
        assert runtime.homes is not None
        yield Run(runtime, runtime.homes, broker, device)
    finally:
        device.loop_stop()
        device.disconnect()
        await bootstrap.stop(runtime)
        broker.close()


def _home(run: Run, home_id: str) -> Home:
    home = run.homes.get(home_id)
    assert home is not None
    return home


def _client(home: Home) -> shared.HomeClient:
    runtime = runtime_of(home.hub)
    assert runtime is not None and isinstance(runtime.client, shared.HomeClient)
    return runtime.client


def _spy(client: shared.HomeClient) -> list[tuple[str, bytes, int]]:
    """Every message the shared connection hands this home: (topic, payload, QoS as delivered)."""
    seen: list[tuple[str, bytes, int]] = []
    receive = client.receive

    def spying(message: Message) -> Any:
        seen.append((message.topic, message.payload, message.qos))
        return receive(message)

    client.receive = spying  # type: ignore[method-assign]
    return seen


async def _sensor(run: Run, home: Home, object_id: str) -> str:
    """Announce a power sensor of node n1 in the home (discovery at QoS 1); return its state topic."""
    root = home.record.topic_root
    state = f"{root}devices/n1/{object_id}"
    config = {"name": object_id, "unique_id": f"{home.record.home_id}-{object_id}", "state_topic": state}
    await asyncio.to_thread(_publish, run.device, f"{root}homeassistant/sensor/n1/{object_id}/config", json.dumps(config))
    await until(lambda: home.hub.states.get(f"sensor.{object_id}") is not None, f"sensor.{object_id}")
    await _client(home).wait_subscribed()
    return state


async def _connected_clients(port: int) -> int:
    def read() -> int:
        got: list[int] = []
        spy = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"sys-{time.monotonic_ns()}")
        spy.on_message = lambda _c, _u, m: got.append(int(m.payload))
        spy.connect("127.0.0.1", port)
        spy.subscribe("$SYS/broker/clients/connected")
        spy.loop_start()
        deadline = time.monotonic() + 5
        try:
            # The retained value may predate this spy; the next refresh (1 s) counts it.
            while time.monotonic() < deadline and len(got) < 2:
                time.sleep(0.05)
        finally:
            spy.loop_stop()
            spy.disconnect()
        return got[-1] - 2  # neither this spy nor the test's device

    return await asyncio.to_thread(read)


@pytest.mark.asyncio(loop_scope="module")
async def test_three_homes_are_one_client_of_the_broker(run: Run) -> None:
    clients = [_client(_home(run, home_id)) for home_id in ("flat-a", "flat-b", "villa")]
    connection = clients[0].shared
    assert all(client.shared is connection for client in clients)
    assert sorted(connection.homes) == sorted(home.record.topic_root for home in run.homes.homes.values())
    assert await _connected_clients(run.broker.port) == 1
    # Every home says it is online, under its own root (its availability is its own).
    assert all(client.connected for client in clients)


@pytest.mark.asyncio(loop_scope="module")
async def test_each_homes_filters_keep_their_qos_and_its_messages_reach_only_it(run: Run) -> None:
    flat_a, flat_b = _home(run, "flat-a"), _home(run, "flat-b")
    seen_a, seen_b = _spy(_client(flat_a)), _spy(_client(flat_b))
    power_a = await _sensor(run, flat_a, "power_a")
    power_b = await _sensor(run, flat_b, "power_b")
    # Copied one to one: discovery at QoS 0 (as Home Assistant), state topics at QoS 1; never one <root>#.
    filters = _client(flat_a).subscriptions.filters()
    assert filters[power_a] == 1 and filters[f"{flat_a.record.topic_root}homeassistant/+/+/+/config"] == 0
    assert not any(f == f"{flat_a.record.topic_root}#" for f in filters)
    assert [qos for topic, _, qos in seen_a if topic.endswith("/config")] == [0]  # published at 1, granted 0
    await asyncio.to_thread(_publish, run.device, power_a, "101")
    await asyncio.to_thread(_publish, run.device, power_b, "202")
    await until(lambda: flat_a.hub.states.get("sensor.power_a").state == "101", "flat-a's reading")  # type: ignore[union-attr]
    await until(lambda: flat_b.hub.states.get("sensor.power_b").state == "202", "flat-b's reading")  # type: ignore[union-attr]
    assert (power_a, b"101", 1) in seen_a and not any(topic == power_b for topic, _, _ in seen_a)
    assert (power_b, b"202", 1) in seen_b and not any(topic == power_a for topic, _, _ in seen_b)
    assert flat_a.hub.states.get("sensor.power_b") is None and flat_b.hub.states.get("sensor.power_a") is None
    # The QoS 1 readings were acknowledged once in each home's spool: nothing waits.
    connection = _client(flat_a).shared
    assert connection._client is not None
    await until(lambda: connection._client.acks.outstanding == 0, "the acknowledgements")  # type: ignore[union-attr]


@pytest.mark.asyncio(loop_scope="module")
async def test_a_failing_barrier_reconnects_so_the_broker_redelivers_and_no_home_loses_a_reading(run: Run) -> None:
    flat_a, flat_b = _home(run, "flat-a"), _home(run, "flat-b")
    client_a, client_b = _client(flat_a), _client(flat_b)
    power_a, power_b = await _sensor(run, flat_a, "meter_a"), await _sensor(run, flat_b, "meter_b")
    seen_a, seen_b = _spy(client_a), _spy(client_b)
    connection = client_a.shared
    before = connection.connections
    durable = client_a.durable
    failed: list[bool] = []

    def fails_once() -> asyncio.Future[None] | None:
        if failed:
            return durable() if durable is not None else None
        failed.append(True)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_exception(OSError(28, "No space left on device"))  # flat-a's spool cannot take it
        return future

    client_a.durable = fails_once
    try:
        for n in range(1, 6):
            await asyncio.to_thread(_publish, run.device, power_b, f"b{n}")
            await asyncio.to_thread(_publish, run.device, power_a, f"a{n}")
        await until(lambda: connection.connections > before, "the reconnect")
        # Every reading of both homes arrives; what came after the failure arrives again (duplicates at most).
        await until(lambda: {p for t, p, _ in seen_a if t == power_a} >= {f"a{n}".encode() for n in range(1, 6)},
                    "flat-a's readings")
        await until(lambda: {p for t, p, _ in seen_b if t == power_b} >= {f"b{n}".encode() for n in range(1, 6)},
                    "flat-b's readings")
        assert [p for t, p, _ in seen_a if t == power_a].count(b"a1") >= 2  # not durable: delivered again
        await until(lambda: flat_a.hub.states.get("sensor.meter_a").state == "a5", "flat-a's last reading")  # type: ignore[union-attr]
        await until(lambda: connection._client is not None and connection._client.acks.outstanding == 0,
                    "every acknowledgement after the reconnect")
    finally:
        client_a.durable = durable


@pytest.mark.asyncio(loop_scope="module")
async def test_a_removed_home_holds_no_acknowledgement_of_the_others(run: Run, caplog: pytest.LogCaptureFixture) -> None:
    flat_a, villa = _home(run, "flat-a"), _home(run, "villa")
    power_a, power_v = await _sensor(run, flat_a, "main_a"), await _sensor(run, villa, "main_v")
    client_a, client_v = _client(flat_a), _client(villa)
    connection = client_a.shared
    seen_a = _spy(client_a)
    # The villa's MQTT stops (a home being removed): its messages are neither handled nor acknowledged now.
    await client_v.stop()
    assert client_v.leaving and connection.connected
    await asyncio.to_thread(_publish, run.device, power_v, "v1")
    await asyncio.to_thread(_publish, run.device, power_a, "x1")
    await until(lambda: (power_a, b"x1", 1) in seen_a, "flat-a's reading")
    assert villa.hub.states.get("sensor.main_v").state != "v1"  # type: ignore[union-attr]
    current = connection._client
    assert current is not None
    await asyncio.sleep(0.3)  # flat-a's spool has it; its PUBACK must wait for the villa's message before it
    assert current.acks.blocked and current.acks.outstanding == 2
    before = connection.connections
    # Removed from the running hub: its filters go, and the connection reconnects without it.
    await mqtt.detach(villa.hub)
    await villa.hub.stop()
    await until(lambda: connection.connections > before, "the reconnect without the villa")
    await until(lambda: connection._client is not None and connection.connected
                and connection._client.acks.outstanding == 0, "flat-a's acknowledgements")
    assert villa.record.topic_root not in connection.homes
    # What the broker held for the villa matched no home any more: dropped, and said once.
    await until(lambda: connection.messages_unrouted >= 1, "the villa's redelivered message")
    assert "under the topic root of no home" in caplog.text
    # flat-a goes on: a new reading is handled and acknowledged.
    await asyncio.to_thread(_publish, run.device, power_a, "x2")
    await until(lambda: flat_a.hub.states.get("sensor.main_a").state == "x2", "flat-a's next reading")  # type: ignore[union-attr]
    await until(lambda: connection._client is not None and connection._client.acks.outstanding == 0, "its PUBACK")


@pytest.mark.asyncio(loop_scope="module")
async def test_a_root_inside_another_homes_root_is_refused(run: Run) -> None:
    client_a = _client(_home(run, "flat-a"))
    inner = client_a.root + "attic/"
    # The error names both homes and both roots.
    with pytest.raises(Exception, match=f"home 'attic'.s MQTT topic root '{inner}' overlaps home "
                                        f"'{client_a.home}'.s '{client_a.root}'"):
        shared.HomeClient(client_a.settings, inner, client_a.shared, home="attic")
    outer = client_a.root.split("/")[0] + "/"
    with pytest.raises(Exception, match="overlaps"):
        shared.HomeClient(client_a.settings, outer, client_a.shared)
    assert inner not in client_a.shared.homes and outer not in client_a.shared.homes


@pytest.mark.asyncio(loop_scope="module")
async def test_a_home_joining_while_the_broker_drops_the_connection_joins_after_the_reconnect(run: Run) -> None:
    """A connection lost during a home's SUBSCRIBE does not fail its start: the reconnect subscribes it."""
    connection = _client(_home(run, "flat-a")).shared
    late = shared.HomeClient(_client(_home(run, "flat-a")).settings, "late-home/", connection, home="late-home")
    got: list[bytes] = []
    late.subscribe("late-home/devices/n1/power", lambda message: got.append(message.payload), qos=1)
    before = connection.connections
    subscribe_many = late._subscribe_many

    async def taken_over_first(client: Any, filters: Any) -> None:
        # Another client connects with the hub's client id: the broker drops the hub's connection
        # (MQTT's session takeover), so this SUBSCRIBE is never acknowledged.
        def take_over() -> None:
            thief = paho.Client(CallbackAPIVersion.VERSION2, client_id=late.settings.client_id, clean_session=False)
            thief.connect("127.0.0.1", run.broker.port)
            thief.disconnect()

        await asyncio.to_thread(take_over)
        await subscribe_many(client, filters)

    late._subscribe_many = taken_over_first  # type: ignore[method-assign]
    try:
        await asyncio.wait_for(late.start(), 15)  # returns: the broker's trouble does not fail a start
        late._subscribe_many = subscribe_many  # type: ignore[method-assign]
        await until(lambda: connection.connections > before and connection.connected, "the reconnect")
        await asyncio.to_thread(_publish, run.device, "late-home/devices/n1/power", "230")
        await until(lambda: got == [b"230"], "the late home's reading after the reconnect")
    finally:
        late._subscribe_many = subscribe_many  # type: ignore[method-assign]
        await late.stop()
