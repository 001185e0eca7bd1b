"""Isolation between homes, walked over every route and every WebSocket command.

Two tenants and three homes (tests/homes/conftest.py). Home flat-a holds "secrets": an entity
and its device from MQTT discovery, an automation, an API key, history, a user who is a member
of flat-a only, a token of theirs and the audit row of their login. Users of the other homes
then try every REST route that the homes' web app serves (the router is walked, so a route added
later is attacked too) and every WebSocket command (the command registry is walked), each with
flat-a's ids in every path parameter, in the query and in the body, both naming flat-a and in
their own home: a user, the owner and an admin of flat-b (same tenant), the owner of villa
(another tenant). Every attempt must be refused or answer without any of flat-a's secrets, and
flat-a must be unchanged afterwards.

Both walks run twice: as the hub runs, and with the application's own home filter removed
(`hub.storage.scoped.home_filter` returns every statement unchanged), so that only PostgreSQL's
row-level security keeps the homes apart; the second walk is made by the owner and the admin of
flat-b, the strongest attackers in flat-a's own tenant (another tenant's rows: tests/tenancy/test_rls.py).
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
from hub.storage import scoped
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
# Path parameters named for a kind of id, and flat-a's id of that kind (secrets' keys).
NAMED = {"entity_id": "entity_id", "device_id": "device_id", "key_id": "key_id", "automation_id": "automation_id",
         "user_id": "user_id", "token_id": "token_id", "refresh_token_id": "token_id"}
SECRET_USER = "flat-a-secret-user"
SECRET_TOKEN = "flat-a-secret-token"
# Who walks, and where: (user, home named). carol owns villa (another tenant), bob has no role in
# flat-b, alice is a user there, erin its owner, frank its admin.
WALKERS = [("carol", "flat-a"), ("carol", None), ("bob", "flat-b"), ("alice", "flat-b"), ("erin", "flat-b"),
           ("frank", "flat-b")]
# Refused by the front (no role in the home named) before any route: one id per route is enough.
FRONT_REFUSED = {("carol", "flat-a"), ("bob", "flat-b")}
# With the application's filter removed: the owner and the admin of a home of flat-a's own tenant,
# whose requests reach the tables RLS keys on the tenant (users, members) as well as the home's.
RLS_WALKERS = [("erin", "flat-b"), ("frank", "flat-b")]


@pytest.fixture(params=["app_filter", "rls_only"])
def filtering(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a walk as the hub runs, then with the application's home filter removed (RLS alone)."""
    if request.param == "rls_only":
        monkeypatch.setattr(scoped, "home_filter", lambda statement, _scope: statement)
    return str(request.param)


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
    # A member of flat-a only, a token of theirs, and the audit row of their login (in flat-a, their home).
    user = await a.auth.add_user(SECRET_USER, "correct horse battery", "admin")
    await a.auth.create_long_lived_token(user.id, SECRET_TOKEN)
    token_id = (await a.auth.list_tokens(user.id))[0].id
    async with aiohttp.ClientSession() as session, session.post(  # names no home: the login's user's home
            run.url + "/api/v1/auth/login", json={"username": SECRET_USER, "password": "correct horse battery"}) as r:
        assert r.status == 200, await r.text()
    assert [e.user_name for e in await a.auth.audit.entries(10, user.id, "login")] == [SECRET_USER]
    return {"entity_id": entity_id, "device_id": device_id, "automation_id": "flat_a_secret_automation",
            "automation_entity": "automation.flat_a_secret_automation", "key_id": key["id"], "key": key["key"],
            "user_id": user.id, "token_id": token_id}


def leaked(text: str, secrets: dict[str, str]) -> list[str]:
    """What a response shows of flat-a that the attempt did not send itself (an answer may echo
    the ids it was asked about): names, the reading, the key and its name."""
    marks = {"Flat A secret", "Secret power", "4242", "flat-a-secret-key", secrets["key"], SECRET_USER, SECRET_TOKEN}
    return sorted(mark for mark in marks if mark in text)


def fill(path: str, value: str) -> str:
    return PARAMS.sub(lambda _m: value, path)


def tried(path: str, secrets: dict[str, str]) -> list[str]:
    """The ids tried in a route's parameters: a parameter named for a kind of id gets flat-a's id of
    that kind; a route with any other parameter ({id}, {domain} ...) gets every id."""
    names = {match.group(1) for match in PARAMS.finditer(path)}
    if not names:
        return [""]
    if names <= set(NAMED):
        return [secrets[NAMED[name]] for name in sorted(names)]
    return [secrets[k] for k in sorted(set(NAMED.values()))]


async def snapshot(run: HomesRun, secrets: dict[str, str]) -> dict[str, Any]:
    a = run.homes.get("flat-a")
    assert a is not None
    return {
        "states": sorted((s.entity_id, s.state) for s in a.hub.states.all() if "secret" in s.entity_id),
        "devices": sorted(d.id for d in a.hub.require_device_registry().devices),
        "entities": sorted(e.entity_id for e in a.hub.require_entity_registry().entities),
        "users": sorted((u.name, u.role, u.is_active) for u in await a.auth.list_users()),
        "tokens": [(t.label, t.revoked_at) for t in await a.auth.list_tokens(secrets["user_id"])],
    }


@pytest.mark.timeout(300)  # ~1,200 requests: a loaded machine needs more than the default minute
async def test_every_route_refuses_or_shows_nothing_of_another_home(homes_runtime: HomesRun, secrets: dict[str, str],
                                                                   filtering: str) -> None:
    run = homes_runtime
    before = await snapshot(run, secrets)
    b = run.homes.get("flat-b")
    assert b is not None
    # Any-method routes (webhooks) are tried with POST, as their callers send.
    routes = sorted({(route.method.replace("*", "POST"), route.resource.canonical) for route in b.app.router.routes()
                     if route.resource is not None and route.method != "HEAD"})
    assert len(routes) > 50, routes  # the whole app: core, integrations, frontend
    query = {"entity_id": secrets["entity_id"], "filter_entity_id": secrets["entity_id"],
             "device_id": secrets["device_id"], "user_id": secrets["user_id"], "start": "2000-01-01T00:00:00Z"}
    body = {"entity_id": secrets["entity_id"], "device_id": secrets["device_id"], "id": secrets["automation_id"],
            "user_id": secrets["user_id"], "token_id": secrets["token_id"]}
    walkers = WALKERS if filtering == "app_filter" else RLS_WALKERS
    attempts = 0
    gate = asyncio.Semaphore(4)  # a few requests in flight: the walk's answers do not depend on their order

    async def attempt(session: aiohttp.ClientSession, method: str, target: str, user: str, home: str | None) -> None:
        nonlocal attempts
        async with gate:
            status, text = await call(run, user, method, target, home, session=session, params=query,
                                      **({"json": body} if method in ("POST", "PUT", "PATCH") else {}))
        attempts += 1
        assert status != 500, (method, target, user, home, text[:300])
        if user == "carol" and home == "flat-a" or user == "bob":
            assert status == 404, (method, target, user, home, status)
        assert not leaked(text, secrets), (method, target, user, home, status, leaked(text, secrets))

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(
            attempt(session, method, fill(path, value), user, home)
            for method, path in routes if not SKIPPED.search(path)
            for user, home in walkers
            for value in (tried(path, secrets)[:1] if (user, home) in FRONT_REFUSED else tried(path, secrets))
        ))
    assert attempts > 100 * len(walkers)
    assert await snapshot(run, secrets) == before


@pytest.mark.parametrize("user", ["alice", "erin", "frank"])  # a user, the owner and an admin of flat-b
async def test_every_websocket_command_shows_nothing_of_another_home(homes_runtime: HomesRun, secrets: dict[str, str],
                                                                    filtering: str, user: str) -> None:
    run = homes_runtime
    before = await snapshot(run, secrets)
    b = run.homes.get("flat-b")
    assert b is not None
    registry = b.app[COMMANDS_KEY]
    commands = registry.types()
    assert len(commands) > 40, commands
    fields = {"entity_id": secrets["entity_id"], "entity_ids": [secrets["entity_id"]],
              "device_id": secrets["device_id"], "automation_id": secrets["automation_id"],
              "item_id": secrets["automation_id"], "key_id": secrets["key_id"],
              "statistic_ids": [secrets["entity_id"]], "start_time": "2000-01-01T00:00:00Z",
              "user_id": secrets["user_id"], "refresh_token_id": secrets["token_id"],
              "token_id": secrets["token_id"], "limit": 1000}
    async with aiohttp.ClientSession() as session, session.ws_connect(run.url + "/api/websocket?home_id=flat-b") as ws:
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": run.tokens[user]})
        assert (await ws.receive_json())["type"] == "auth_ok"
        for number, command in enumerate(commands, start=1):
            if command in ("ping",):
                continue
            # Only the keys the command takes: a key it does not know would fail its schema before it ran.
            schema = registry.get(command).schema  # type: ignore[union-attr]
            known = fields if schema is None else {k: v for k, v in fields.items() if k in {str(m) for m in schema.schema}}
            await ws.send_json({"id": number, "type": command, **known})
            # Results, and whatever events a subscription sends at once, until this command's answer.
            while True:
                message = await asyncio.wait_for(ws.receive(), 10)
                assert message.type is aiohttp.WSMsgType.TEXT, (command, message)
                assert not leaked(message.data, secrets), (command, message.data[:300])
                decoded = json.loads(message.data)
                items = decoded if isinstance(decoded, list) else [decoded]
                if any(item.get("id") == number and item.get("type") == "result" for item in items):
                    break
    assert await snapshot(run, secrets) == before


async def test_another_homes_api_key_writes_nothing_here(homes_runtime: HomesRun, secrets: dict[str, str]) -> None:
    run = homes_runtime
    payload = {"device_id": "s1", "readings": [{"power": 1.0}]}
    async with aiohttp.ClientSession() as session:
        for home in ("flat-b", "villa"):
            async with session.post(f"{run.url}/api/v1/telemetry?home_id={home}", json=payload,
                                    headers={"X-API-Key": secrets["key"]}) as response:
                assert response.status == 401, (home, response.status, await response.text())
