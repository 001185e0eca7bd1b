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
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import pytest

from hub import bootstrap, cli
from hub.homes import watch
from hub.storage.engine import create_engine
from hub.tenancy.store import TenancyStore
from integrations.mqtt import api
from tests.homes.configs import write_homes_config
from tests.homes.conftest import grant_roles
from tests.pg_roles import make_roles

pytestmark = pytest.mark.services
WITHIN = 8.0  # seconds a change may take on a loaded machine (a notification, then a home's start)


def _hub(config: Path, data: Path, *args: str) -> str:
    """Run `hub ARGS` as its own process; return what it printed."""
    done = subprocess.run([sys.executable, "-m", "hub", *args, "-c", str(config), "--data", str(data)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def _cli(config: Path, data: Path, *args: str) -> None:
    """Run `hub ARGS` through its entry point in a thread of this process (quicker than a process)."""
    code = await asyncio.to_thread(cli.main, [*args, "-c", str(config), "--data", str(data)])
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
    assert (await ws.receive_json())["type"] == "auth_required"
    await ws.send_json({"type": "auth", "access_token": token})
    assert (await ws.receive_json())["type"] == "auth_ok"
    await ws.send_json({"id": 1, "type": "subscribe_events", "event_type": "state_changed"})
    assert (await ws.receive_json())["success"] is True
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
        async with aiohttp.ClientSession(headers=headers) as session:
            # flat-a's socket stays open through every change below.
            flat_ws = await _subscribe(session, runtime.url, "flat-a", token)

            printed = _hub(config, data, "home", "add", "Flat C", "--tenant", "acme", "--topic-root", f"{run}/flat-c/")
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
                await device.publish(f"{run}/flat-c/n1/p", "7", qos=1)
                await _changed(ws, "sensor.n1_p", "7")
            assert flat.hub.states.get("sensor.n1_p") is None and flat.hub.states.get("sensor.meter") is None

            # Removed: 404 within seconds, its socket closed, its core stopped; its rows the CLI's to delete.
            await _cli(config, data, "home", "remove", home_id, "--tenant", "acme", "--force")
            took = await _until(lambda: _gone(session, runtime.url, home_id), "the removed home answers 404")
            print(f"removed home stopped after {took:.2f} s")
            closed = await asyncio.wait_for(ws.receive(), WITHIN)
            assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
            assert host.get(home_id) is None
            await _until(lambda: _stopped(added.hub), "the removed home's core stopped")
            assert not mqtt_added.connected  # its MQTT connection ended with it
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
    made = write_homes_config(tmp_path / "config", roles.storage_yaml(), mosquitto_server.url,
                              [{"id": "flat-a", "tenant": "acme"}, {"id": "villa", "tenant": "zenith"}])
    config, run = made.folder, made.run
    runtime = await bootstrap.start(config, tmp_path / "data", port=0, checked=await grant_roles(roles, config))
    try:
        host = runtime.homes
        assert host is not None
        villa = host.get("villa")
        assert villa is not None
        owner = create_engine(roles.owner_url)
        try:
            # Straight into the table, without a NOTIFY: as if the notification were lost.
            async with owner.begin() as connection:
                await connection.exec_driver_sql("UPDATE tenants SET status = 'suspended' WHERE id = 'acme'")
            await _until(lambda: _absent(host, "flat-a"), "the suspended tenant's home stopped")
            assert host.get("villa") is villa and villa.hub.is_running
            assert [h.id for h in await TenancyStore(owner).homes("acme")] == ["flat-a"]  # its data stays
            await TenancyStore(owner).set_status("acme", "active")
            await _until(lambda: _present(host, "flat-a"), "the resumed tenant's home served again")
            async with host.changing:  # the re-read that started it has finished: the order is set
                assert list(host.homes) == ["flat-a", "villa"]  # in the order served at start
            # A home whose root overlaps another's is left out, said once however often the homes are read.
            bad = await TenancyStore(owner).add_home("acme", "Cellar", topic_root=f"{run}/flat-a/cellar/")
            assert host.watch is not None
            rereads = host.watch.rereads
            await _until(lambda: _reread_since(host, rereads + 3), "three more re-reads")
            assert host.get(bad.id) is None and list(host.homes) == ["flat-a", "villa"]
            said = [r.getMessage() for r in caplog.records if "Not serving a home" in r.getMessage()]
            assert len(said) == 1 and "overlap" in said[0] and bad.id in said[0]
        finally:
            await owner.dispose()
    finally:
        await bootstrap.stop(runtime)


async def _reread_since(host: Any, count: int) -> bool:
    return host.watch.rereads >= count


async def _absent(host: Any, home_id: str) -> bool:
    return host.get(home_id) is None


async def _present(host: Any, home_id: str) -> bool:
    return host.get(home_id) is not None
