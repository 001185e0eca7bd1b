"""Homes added, suspended and removed while the hub runs (real PostgreSQL and Mosquitto; the
`hub` command run as its own process, as an operator runs it): the running host serves a home
added with `hub home add` within seconds, REST, WebSocket and MQTT, and stops a removed one (404,
its sockets closed, its MQTT client gone), while another home's socket and requests go on."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import asyncpg
import pytest
from sqlalchemy.engine import make_url

from hub import bootstrap, cli
from hub.homes import changes, watch
from hub.hookspecs import LEAVING_SUSPENDED, hookimpl
from hub.storage.engine import create_engine
from hub.tenancy.store import TenancyStore
from integrations.mqtt import api, parking, runtime_of, shared
from tests.homes.configs import write_homes_config
from tests.homes.conftest import grant_roles
from tests.hubs import write_config
from tests.pg_roles import make_roles

pytestmark = pytest.mark.services
WITHIN = 8.0  # seconds a change may take on a loaded machine (a notification, then a home's start)
# Every request of these tests (their sockets' reads are bounded where they wait): one that never
# answers fails the test with what it awaited, not the whole run at the test's timeout.
BOUNDED = aiohttp.ClientTimeout(sock_connect=WITHIN, sock_read=WITHIN)
COMMAND = 30.0  # seconds a `hub` command may take (it migrates, reads the homes, changes one)
BASE = 7_000_000  # readings are base + n, base = BASE + 1000 * a run's own number: no other test's values
KEPT = 20  # readings sent while a home is suspended


def _hub(config: Path, data: Path, *args: str) -> str:
    """Run `hub ARGS` as its own process; return what it printed (a stuck one fails within COMMAND seconds)."""
    done = subprocess.run([sys.executable, "-m", "hub", *args, "-c", str(config), "--data", str(data)],
                          capture_output=True, text=True, timeout=COMMAND, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def _cli(config: Path, data: Path, *args: str) -> None:
    """Run `hub ARGS` through its entry point in a thread of this process (quicker than a process)."""
    command = asyncio.to_thread(cli.main, [*args, "-c", str(config), "--data", str(data)])
    try:
        code = await asyncio.wait_for(command, COMMAND)
    except TimeoutError:
        raise AssertionError(f"`hub {' '.join(args)}` did not finish within {COMMAND:.0f} s") from None
    assert code == 0, args


async def _until(check: Any, what: str, timeout: float = WITHIN) -> float:
    began = time.monotonic()
    while not await check():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.05)
    return time.monotonic() - began


async def _status(session: aiohttp.ClientSession, url: str, home: str) -> int:
    async with session.get(f"{url}/api/", headers={"X-Home-Id": home}) as response:
        return response.status


async def _subscribe(session: aiohttp.ClientSession, url: str, home: str, token: str) -> aiohttp.ClientWebSocketResponse:
    ws = await session.ws_connect(f"{url}/api/websocket?home_id={home}")
    assert (await asyncio.wait_for(ws.receive_json(), WITHIN))["type"] == "auth_required"
    await ws.send_json({"type": "auth", "access_token": token})
    assert (await asyncio.wait_for(ws.receive_json(), WITHIN))["type"] == "auth_ok"
    await ws.send_json({"id": 1, "type": "subscribe_events", "event_type": "state_changed"})
    assert (await asyncio.wait_for(ws.receive_json(), WITHIN))["success"] is True
    return ws


async def _changed(ws: aiohttp.ClientWebSocketResponse, entity_id: str, state: str) -> None:
    """Wait for the state_changed event that gives entity_id that state."""
    while True:
        message = await asyncio.wait_for(ws.receive_json(), WITHIN)
        data = message["event"]["data"] if message.get("type") == "event" else {}
        if data.get("entity_id") == entity_id and (data.get("new_state") or {}).get("state") == state:
            return


async def test_a_home_added_and_removed_with_the_cli_is_served_and_stopped_without_a_restart(
        tmp_path: Path, pg_url: str, mosquitto_server: Any, capsys: pytest.CaptureFixture[str]) -> None:
    roles = await make_roles(pg_url)
    made = write_homes_config(tmp_path / "config", roles.storage_yaml(), mosquitto_server.url,
                              [{"id": "flat-a", "tenant": "acme", "members": {"alice": "owner"}}])
    config, run = made.folder, made.run
    data = tmp_path / "data"
    runtime = await bootstrap.start(config, data, port=0, checked=await grant_roles(roles, config))
    try:
        host = runtime.homes
        assert host is not None
        flat = host.get("flat-a")
        assert flat is not None
        flat.auth._rounds = 4
        alice = await flat.auth.add_user("alice", "correct horse battery", "owner")
        token = await flat.auth.create_long_lived_token(alice.id, "t")
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(headers=headers, timeout=BOUNDED) as session:
            # flat-a's socket stays open through every change below.
            flat_ws = await _subscribe(session, runtime.url, "flat-a", token)

            # In a thread: run on this loop, the command would freeze the hub under test until it returns.
            printed = await asyncio.to_thread(_hub, config, data, "home", "add", "Flat C", "--tenant", "acme",
                                              "--topic-root", f"{run}/flat-c/")
            found = re.search(r"id (\S+?)\.?;", printed)
            assert found is not None, printed
            home_id = found.group(1)
            # A home of a hub of many homes needs a topic root of its own: the command says so.
            code = await asyncio.to_thread(cli.main, ["home", "add", "Attic", "--tenant", "acme", "-c", str(config),
                                                      "--data", str(data)])
            assert code == 1 and "error: a home of a hub of many homes needs an MQTT topic root" in capsys.readouterr().err
            await _cli(config, data, "user", "add", "alice", "--tenant", "acme", "--home", home_id, "--role", "owner")
            took = await _until(lambda: _ok(session, runtime.url, home_id), "the added home answers")
            print(f"added home served after {took:.2f} s")
            added = host.get(home_id)
            assert added is not None and added.record.topic_root == f"{run}/flat-c/"
            mqtt_added = api(added.hub)
            assert mqtt_added is not None and mqtt_added.connected

            # REST and a WebSocket subscription in the new home; its MQTT client under its own root.
            ws = await _subscribe(session, runtime.url, home_id, token)
            async with session.post(f"{runtime.url}/api/states/sensor.meter", json={"state": "42"},
                                    headers={"X-Home-Id": home_id}) as response:
                assert response.status in (200, 201), await response.text()
            await _changed(ws, "sensor.meter", "42")
            async with aiomqtt.Client(mosquitto_server.host, mosquitto_server.port) as device:
                config_topic = f"{run}/flat-c/homeassistant/sensor/n1/p/config"
                await device.publish(config_topic, json.dumps({
                    "name": "p", "unique_id": "n1_p", "state_topic": f"{run}/flat-c/n1/p",
                    "device": {"identifiers": ["n1"], "name": "n1"}}), qos=1, retain=False)
                await _until(lambda: _has(added.hub, "sensor.n1_p"), "the new home's MQTT discovery")
                # Retained: a reading sent before the new entity's subscription reaches the broker is
                # kept by no broker otherwise (the full suite lost it now and then: the old hang).
                await device.publish(f"{run}/flat-c/n1/p", "7", qos=1, retain=True)
                await _changed(ws, "sensor.n1_p", "7")
            assert flat.hub.states.get("sensor.n1_p") is None and flat.hub.states.get("sensor.meter") is None

            removed_client = runtime_of(added.hub).client  # type: ignore[union-attr]
            # Removed: 404 within seconds, its socket closed, its core stopped; its rows the CLI's to delete.
            await _cli(config, data, "home", "remove", home_id, "--tenant", "acme", "--force")
            took = await _until(lambda: _gone(session, runtime.url, home_id), "the removed home answers 404")
            print(f"removed home stopped after {took:.2f} s")
            closed = await asyncio.wait_for(ws.receive(), WITHIN)
            assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
            assert host.get(home_id) is None
            await _until(lambda: _stopped(added.hub), "the removed home's core stopped")
            assert not mqtt_added.connected  # its MQTT connection ended with it
            # It left the process's one connection: out of its dispatch table, nothing of it held.
            assert isinstance(removed_client, shared.HomeClient) and removed_client.forgotten
            assert f"{run}/flat-c/" not in removed_client.shared.homes and f"{run}/flat-a/" in removed_client.shared.homes
            assert not (data / "homes" / home_id / parking.MARKER).exists()  # removed for good: nothing parked
            async with session.get(f"{runtime.url}/api/states", headers={"X-Home-Id": home_id}) as response:
                assert response.status == 404

            # flat-a never noticed: its socket still delivers, its REST still answers.
            async with session.post(f"{runtime.url}/api/states/sensor.still", json={"state": "on"},
                                    headers={"X-Home-Id": "flat-a"}) as response:
                assert response.status in (200, 201)
            await _changed(flat_ws, "sensor.still", "on")
            assert host.get("flat-a") is flat and flat.hub.is_running
            await flat_ws.close()
    finally:
        await bootstrap.stop(runtime)


async def _ok(session: aiohttp.ClientSession, url: str, home: str) -> bool:
    return await _status(session, url, home) == 200


async def _gone(session: aiohttp.ClientSession, url: str, home: str) -> bool:
    return await _status(session, url, home) == 404


async def _stopped(hub: Any) -> bool:
    return not hub.is_running


async def _has(hub: Any, entity_id: str) -> bool:
    return hub.states.get(entity_id) is not None


async def test_a_suspended_tenants_homes_stop_and_come_back_with_their_data(
        tmp_path: Path, pg_url: str, mosquitto_server: Any, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(watch, "REREAD_EVERY", 0.5)  # no notification: the periodic re-read alone finds it
    roles = await make_roles(pg_url)
    number = uuid.uuid4().int % 1000
    run, base = f"t{number:03d}{uuid.uuid4().hex[:5]}", BASE + 1000 * number
    config = write_config(tmp_path / "config", roles.storage_yaml() + f"""\
mqtt:
  broker: {mosquitto_server.url}
recorder:
  backend: postgresql
  db_url: {pg_url}
  commit_interval: 0.05
homes:
  - id: flat-a
    tenant: acme
    topic_root: {run}/flat-a/
  - id: villa
    tenant: zenith
    topic_root: {run}/villa/
""")
    runtime = await bootstrap.start(config, tmp_path / "data", port=0, checked=await grant_roles(roles, config))
    try:
        host = runtime.homes
        assert host is not None
        villa, flat = host.get("villa"), host.get("flat-a")
        assert villa is not None and flat is not None
        assert runtime.hub is flat.hub  # the first home served
        state_topic = f"{run}/flat-a/n1/p"
        owner = create_engine(roles.owner_url)
        try:
            async with aiomqtt.Client(mosquitto_server.host, mosquitto_server.port) as device:
                await device.publish(f"{run}/flat-a/homeassistant/sensor/n1/p/config", json.dumps({
                    "name": "p", "unique_id": "n1_p", "state_topic": state_topic, "qos": 1,
                    "device": {"identifiers": ["n1"], "name": "n1"}}), qos=1, retain=True)
                await _until(lambda: _has(flat.hub, "sensor.n1_p"), "flat-a's MQTT discovery")
                await device.publish(state_topic, str(base), qos=1)
                await _until(lambda: _state_is(flat.hub, "sensor.n1_p", str(base)), "flat-a's first reading")
                # Straight into the table, without a NOTIFY: as if the notification were lost.
                async with owner.begin() as connection:
                    await connection.exec_driver_sql("UPDATE tenants SET status = 'suspended' WHERE id = 'acme'")
                await _until(lambda: _absent(host, "flat-a"), "the suspended tenant's home stopped")
                async with host.changing:  # it left the routing first; the re-read that stops it has finished
                    assert not flat.hub.is_running
                assert host.get("villa") is villa and villa.hub.is_running
                # The hub's core is the first home served now, not the stopped one.
                assert runtime.hub is villa.hub and runtime.hub.is_running and not flat.hub.is_running
                assert [h.id for h in await TenancyStore(owner).homes("acme")] == ["flat-a"]  # its data stays
                # While it is away, its devices go on: the broker keeps their QoS 1 readings for it.
                for n in range(1, KEPT + 1):
                    await device.publish(state_topic, str(base + n), qos=1)  # returns on the broker's PUBACK
                await TenancyStore(owner).set_status("acme", "active")
                await _until(lambda: _present(host, "flat-a"), "the resumed tenant's home served again")
                resumed = host.get("flat-a")
                assert resumed is not None
                async with host.changing:  # the re-read that started it has finished: the order is set
                    assert list(host.homes) == ["flat-a", "villa"]  # in the order served at start
                    assert runtime.hub is resumed.hub
                # Every reading kept while it was away arrives, counted, and lands in its history.
                kept = await _until(lambda: _history_has(pg_url, "flat-a", base, range(1, KEPT + 1)),
                                    "the readings kept while the home was away, in its history")
                client = runtime_of(resumed.hub).client  # type: ignore[union-attr]
                assert isinstance(client, shared.HomeClient)
                await _until(lambda: _kept_read(client), "the parked session read out")
                print(f"{client.kept_read} kept readings in history {kept:.2f} s after the resume")
                # The readings, and the discovery sync marker the home published to itself as it left.
                assert KEPT <= client.kept_read <= KEPT + 1
                assert not (tmp_path / "data" / "homes" / "flat-a" / parking.MARKER).exists()
                # And it takes live readings again through the process's connection.
                await device.publish(state_topic, str(base + KEPT + 1), qos=1)
                await _until(lambda: _state_is(resumed.hub, "sensor.n1_p", str(base + KEPT + 1)), "a live reading")
            # A home whose root overlaps another's is left out, said once however often the homes are read.
            bad = await TenancyStore(owner).add_home("acme", "Cellar", topic_root=f"{run}/flat-a/cellar/")
            assert host.watch is not None
            rereads = host.watch.rereads
            await _until(lambda: _reread_since(host, rereads + 3), "three more re-reads")
            assert host.get(bad.id) is None and list(host.homes) == ["flat-a", "villa"]
            said = [r.getMessage() for r in caplog.records if "Not serving a home" in r.getMessage()]
            assert len(said) == 1 and "overlap" in said[0] and bad.id in said[0] and "'flat-a'" in said[0]
            # A home's root changed while it runs: the connection's dispatch table follows.
            async with owner.begin() as connection:
                await connection.exec_driver_sql(f"UPDATE homes SET topic_root = '{run}/villa2/' WHERE id = 'villa'")
            await _until(lambda: _root_is(host, "villa", f"{run}/villa2/"), "the villa restarted with its new root")
            moved = host.get("villa")
            assert moved is not None and moved is not villa and not villa.hub.is_running
            client = runtime_of(moved.hub).client  # type: ignore[union-attr]
            assert isinstance(client, shared.HomeClient)
            assert f"{run}/villa2/" in client.shared.homes and f"{run}/villa/" not in client.shared.homes
            assert len(shared.connections()) == 1  # still the process's one connection
            seen: list[bytes] = []
            client.subscribe(f"{run}/villa2/probe", lambda message: seen.append(message.payload), qos=1)
            await client.wait_subscribed()
            async with aiomqtt.Client(mosquitto_server.host, mosquitto_server.port) as device:
                await device.publish(f"{run}/villa/probe", "old", qos=1)
                await device.publish(f"{run}/villa2/probe", "new", qos=1)
            await _until(lambda: _true(seen == [b"new"]), "a reading under the new root")
            # What was parked under the old root was not the home's any more: dropped, the session ended.
            await _until(lambda: _true(not (tmp_path / "data" / "homes" / "villa" / parking.MARKER).exists()),
                         "the villa's parked session ended")
        finally:
            await owner.dispose()
    finally:
        await bootstrap.stop(runtime)


async def _root_is(host: Any, home_id: str, root: str) -> bool:
    home = host.get(home_id)
    return home is not None and home.record.topic_root == root


async def _state_is(hub: Any, entity_id: str, state: str) -> bool:
    found = hub.states.get(entity_id)
    return found is not None and found.state == state


async def _kept_read(client: shared.HomeClient) -> bool:
    return client.kept_read is not None


async def _history_has(superuser_url: str, home_id: str, base: int, numbers: range) -> bool:
    url = make_url(superuser_url).set(drivername="postgresql")
    connection = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        rows = await connection.fetch("SELECT value FROM history_raw WHERE home_id = $1 AND value >= $2 "
                                      "AND value < $3", home_id, float(base), float(base + 1000))
    finally:
        await connection.close()
    return {int(row["value"]) - base for row in rows} >= set(numbers)


async def _reread_since(host: Any, count: int) -> bool:
    return host.watch.rereads >= count


async def _absent(host: Any, home_id: str) -> bool:
    return host.get(home_id) is None


async def _present(host: Any, home_id: str) -> bool:
    return host.get(home_id) is not None


class _LeavingSpy:
    """A plugin that notes what a home looks like when `home_leaving` runs, and makes a state change then."""

    def __init__(self, host: Any, home_id: str) -> None:
        self.host = host
        self.home_id = home_id
        self.seen: list[dict[str, Any]] = []

    @hookimpl
    async def home_leaving(self, hub: Any, reason: str) -> None:
        home = next(h for h in self._all if h.hub is hub)
        self.seen.append({"reason": reason, "routed": self.host.get(self.home_id) is not None,
                          "running": hub.is_running, "sockets": len(home.requests)})
        hub.states.set("sensor.while_leaving", "1")  # must reach no client: the home left the routing

    _all: list[Any] = []


async def test_hook_home_leaving(tmp_path: Path, pg_url: str, mosquitto_server: Any) -> None:
    """The hook runs once the home answers 404 and its sockets are silent, before they close and its core stops."""
    roles = await make_roles(pg_url)
    made = write_homes_config(tmp_path / "config", roles.storage_yaml(), mosquitto_server.url,
                              [{"id": "flat-a", "tenant": "acme"}, {"id": "villa", "tenant": "zenith"}])
    config, run = made.folder, made.run
    runtime = await bootstrap.start(config, tmp_path / "data", port=0, checked=await grant_roles(roles, config))
    try:
        host = runtime.homes
        assert host is not None
        villa, flat = host.get("villa"), host.get("flat-a")
        assert villa is not None and flat is not None and villa.hub.plugins is not None
        villa.auth._rounds = 4
        carol = await villa.auth.add_user("carol", "correct horse battery", "owner")
        token = await villa.auth.create_long_lived_token(carol.id, "t")
        spy = _LeavingSpy(host, "villa")
        spy._all = [villa, flat]
        villa.hub.plugins.register(spy)
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}, timeout=BOUNDED) as session:
            ws = await _subscribe(session, runtime.url, "villa", token)
            async with host.changing:
                await changes.remove(host, "villa", LEAVING_SUSPENDED)
            assert spy.seen == [{"reason": LEAVING_SUSPENDED, "routed": False, "running": True, "sockets": 1}]
            # What the home did while leaving reached no client: its socket only closes.
            message = await asyncio.wait_for(ws.receive(), WITHIN)
            assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                    aiohttp.WSMsgType.CLOSING), message
            assert not villa.hub.is_running
        # The other home's MQTT readings are handled and acknowledged: nothing of the villa holds them.
        client = runtime_of(flat.hub).client  # type: ignore[union-attr]
        assert isinstance(client, shared.HomeClient)
        assert f"{run}/villa/" not in client.shared.homes
        seen: list[bytes] = []
        client.subscribe(f"{run}/flat-a/probe", lambda message: seen.append(message.payload), qos=1)
        await client.wait_subscribed()
        async with aiomqtt.Client(mosquitto_server.host, mosquitto_server.port) as device:
            await device.publish(f"{run}/villa/probe", "v", qos=1)
            await device.publish(f"{run}/flat-a/probe", "a", qos=1)
        await _until(lambda: _true(seen == [b"a"]), "flat-a's reading")
        connection = client.shared._client
        assert connection is not None
        await _until(lambda: _true(connection.acks.outstanding == 0), "flat-a's acknowledgement")
    finally:
        await bootstrap.stop(runtime)


async def _true(value: bool) -> bool:
    return value
