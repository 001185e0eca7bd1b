"""Isolation between homes, walked over every route and every WebSocket command.

Two tenants and three homes (tests/homes/conftest.py). Home flat-a holds "secrets": an entity
and its device from MQTT discovery, an automation, an API key, history. Users of the other homes
then try every REST route that the homes' web app serves (the router is walked, so a route added
later is attacked too) and every WebSocket command (the command registry is walked), each with
flat-a's ids in every path parameter, in the query and in the body, both naming flat-a and in
their own home. Every attempt must be refused or answer without any of flat-a's secrets, and
flat-a must be unchanged afterwards.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import aiohttp
import aiomqtt
import pytest
import pytest_asyncio

from hub.api.websocket import COMMANDS_KEY
from tests.homes.conftest import HomesRun

pytestmark = pytest.mark.asyncio(loop_scope="module")

EXTRA_CONFIG = """
recorder:
  backend: postgresql
  db_url: {pg_url}
  commit_interval: 0.05
frontend:
script:
scene:
schedule:
notify:
telemetry_backfill:
http_ingest:
energy:
  tariffs:
    grid:
      - price: 0.30
"""

# What would stop or restart the attacker's own home (not a leak, but the end of the walk).
SKIPPED = re.compile(r"^/api/services/homeassistant/(stop|restart)|/api/v1/auth/logout")
PARAMS = re.compile(r"\{([^}:]+)(:[^}]*)?\}")


async def until(condition: Any, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def call(run: HomesRun, user: str, method: str, path: str, home: str | None = None, *,
               session: aiohttp.ClientSession | None = None, **kwargs: Any) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {run.tokens[user]}"}
    if home is not None:
        headers["X-Home-Id"] = home
    if session is None:
        async with aiohttp.ClientSession() as own:
            return await call(run, user, method, path, home, session=own, **kwargs)
    async with session.request(method, run.url + path, headers=headers, **kwargs) as response:
        return response.status, await response.text()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def secrets(homes_runtime: HomesRun, mosquitto_server: Any) -> dict[str, str]:
    """Put flat-a's secrets in place; return them by kind (ids and the names that mark them)."""
    run = homes_runtime
    a = run.homes.get("flat-a")
    assert a is not None
    root = a.record.topic_root
    config = {"name": "Secret power", "unique_id": "flat_a_secret_power", "state_topic": f"{root}devices/s1/power",
              "device": {"identifiers": ["flat_a_secret_meter"], "name": "Flat A secret meter"}}
    async with aiomqtt.Client(mosquitto_server.host, mosquitto_server.port, identifier="iso-device") as device:
        await device.publish(f"{root}homeassistant/sensor/s1/power/config", json.dumps(config), qos=1, retain=True)
        await until(lambda: a.hub.states.get("sensor.flat_a_secret_meter_secret_power") is not None)
        await device.publish(f"{root}devices/s1/power", "4242", qos=1)
        await until(lambda: a.hub.states.get("sensor.flat_a_secret_meter_secret_power").state == "4242")
    entity_id = "sensor.flat_a_secret_meter_secret_power"
    device_id = a.hub.require_entity_registry().get(entity_id).device_id
    automation = {"alias": "Flat A secret automation", "triggers": [{"trigger": "state", "entity_id": entity_id}],
                  "actions": [{"action": "persistent_notification.create", "data": {"message": "secret"}}]}
    status, body = await call(run, "alice", "POST", "/api/config/automation/config/flat_a_secret_automation",
                              "flat-a", json=automation)
    assert status == 200, body
    status, body = await call(run, "alice", "POST", "/api/v1/apikeys", "flat-a", json={"name": "flat-a-secret-key"})
    assert status in (200, 201), body
    key = json.loads(body)
    await until(lambda: a.hub.states.get("automation.flat_a_secret_automation") is not None)
    return {"entity_id": entity_id, "device_id": device_id, "automation_id": "flat_a_secret_automation",
            "automation_entity": "automation.flat_a_secret_automation", "key_id": key["id"], "key": key["key"]}


def leaked(text: str, secrets: dict[str, str]) -> list[str]:
    """What a response shows of flat-a that the attempt did not send itself (an answer may echo
    the ids it was asked about): names, the reading, the key and its name."""
    marks = {"Flat A secret", "Secret power", "4242", "flat-a-secret-key", secrets["key"]}
    return sorted(mark for mark in marks if mark in text)


def fill(path: str, value: str) -> str:
    return PARAMS.sub(lambda _m: value, path)


def snapshot(run: HomesRun) -> dict[str, Any]:
    a = run.homes.get("flat-a")
    assert a is not None
    return {
        "states": sorted((s.entity_id, s.state) for s in a.hub.states.all() if "secret" in s.entity_id),
        "devices": sorted(d.id for d in a.hub.require_device_registry().devices),
        "entities": sorted(e.entity_id for e in a.hub.require_entity_registry().entities),
    }


@pytest.mark.timeout(240)  # ~500 requests: a loaded machine needs more than the default minute
async def test_every_route_refuses_or_shows_nothing_of_another_home(homes_runtime: HomesRun,
                                                                   secrets: dict[str, str]) -> None:
    run = homes_runtime
    before = snapshot(run)
    b = run.homes.get("flat-b")
    assert b is not None
    # Any-method routes (webhooks) are tried with POST, as their callers send.
    routes = sorted({(route.method.replace("*", "POST"), route.resource.canonical) for route in b.app.router.routes()
                     if route.resource is not None and route.method != "HEAD"})
    assert len(routes) > 50, routes  # the whole app: core, integrations, frontend
    values = [secrets[k] for k in ("entity_id", "device_id", "automation_id", "key_id")]
    query = {"entity_id": secrets["entity_id"], "filter_entity_id": secrets["entity_id"],
             "device_id": secrets["device_id"], "start": "2000-01-01T00:00:00Z"}
    body = {"entity_id": secrets["entity_id"], "device_id": secrets["device_id"], "id": secrets["automation_id"]}
    attempts = 0
    async with aiohttp.ClientSession() as session:
        for method, path in routes:
            if SKIPPED.search(path):
                continue
            for value in values if PARAMS.search(path) else [""]:
                target = fill(path, value)
                # carol is in another tenant (villa), bob has no role in flat-b, alice acts in her other home.
                for user, home in (("carol", "flat-a"), ("carol", None), ("bob", "flat-b"), ("alice", "flat-b")):
                    status, text = await call(run, user, method, target, home, session=session, params=query,
                                              **({"json": body} if method in ("POST", "PUT", "PATCH") else {}))
                    attempts += 1
                    assert status != 500, (method, target, user, home, text[:300])
                    if user == "carol" and home == "flat-a" or user == "bob":
                        assert status == 404, (method, target, user, home, status)
                    assert not leaked(text, secrets), (method, target, user, home, status, leaked(text, secrets))
    assert attempts > 300
    assert snapshot(run) == before


async def test_every_websocket_command_shows_nothing_of_another_home(homes_runtime: HomesRun,
                                                                    secrets: dict[str, str]) -> None:
    run = homes_runtime
    before = snapshot(run)
    b = run.homes.get("flat-b")
    assert b is not None
    commands = b.app[COMMANDS_KEY].types()
    assert len(commands) > 40, commands
    fields = {"entity_id": secrets["entity_id"], "entity_ids": [secrets["entity_id"]],
              "device_id": secrets["device_id"], "automation_id": secrets["automation_id"],
              "item_id": secrets["automation_id"], "key_id": secrets["key_id"],
              "statistic_ids": [secrets["entity_id"]], "start_time": "2000-01-01T00:00:00Z"}
    async with aiohttp.ClientSession() as session, session.ws_connect(run.url + "/api/websocket?home_id=flat-b") as ws:
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": run.tokens["alice"]})
        assert (await ws.receive_json())["type"] == "auth_ok"
        for number, command in enumerate(commands, start=1):
            if command in ("ping",):
                continue
            await ws.send_json({"id": number, "type": command, **fields})
            # Results, and whatever events a subscription sends at once, until this command's answer.
            while True:
                message = await asyncio.wait_for(ws.receive(), 10)
                assert message.type is aiohttp.WSMsgType.TEXT, (command, message)
                assert not leaked(message.data, secrets), (command, message.data[:300])
                decoded = json.loads(message.data)
                items = decoded if isinstance(decoded, list) else [decoded]
                if any(item.get("id") == number and item.get("type") == "result" for item in items):
                    break
    assert snapshot(run) == before


async def test_another_homes_api_key_writes_nothing_here(homes_runtime: HomesRun, secrets: dict[str, str]) -> None:
    run = homes_runtime
    payload = {"device_id": "s1", "readings": [{"power": 1.0}]}
    async with aiohttp.ClientSession() as session:
        for home in ("flat-b", "villa"):
            async with session.post(f"{run.url}/api/v1/telemetry?home_id={home}", json=payload,
                                    headers={"X-API-Key": secrets["key"]}) as response:
                assert response.status == 401, (home, response.status, await response.text())
