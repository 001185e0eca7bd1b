"""Start a hub that hosts several homes (real PostgreSQL and Mosquitto) and sign its users in."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from sqlalchemy import delete

from hub import bootstrap, plugins
from hub.homes.host import HomeHost
from hub.storage.engine import create_engine, migrate
from hub.storage.models import table_of
from hub.storage.rls import grant_app_role
from hub.storage.scoped import scoped_sessions
from hub.tenancy.models import HomeMemberRow
from tests.homes.configs import write_homes_config
from tests.pg_roles import Roles, make_roles


@dataclass(slots=True)
class HomesRun:
    """A running multi-home hub and a long-lived token for each of its users."""

    runtime: bootstrap.Runtime
    homes: HomeHost
    url: str
    tokens: dict[str, str]


HOMES = [
    {"id": "flat-a", "tenant": "acme", "name": "Flat A", "time_zone": "Europe/Berlin",
     "members": {"alice": "owner", "bob": "user"}},
    {"id": "flat-b", "tenant": "acme", "name": "Flat B", "currency": "CHF",
     "members": {"alice": "user", "erin": "owner", "frank": "admin"}},
    {"id": "villa", "tenant": "zenith", "name": "Villa", "members": {"carol": "owner"}},
]


async def grant_roles(roles: Roles, config_dir: Path) -> bootstrap.CheckedConfig:
    """Migrate as the owner and grant the application role (`hub db grant-app-role`), as an operator
    does before the first start; return the checked configuration."""
    checked = bootstrap.check_config(config_dir)
    owner = create_engine(roles.owner_url)
    try:
        await migrate(owner, plugins.migration_locations(checked.integrations))
        await grant_app_role(owner, roles.app_role)
    finally:
        await owner.dispose()
    return checked


def homes_config(tmp_path: Path, storage: str, broker: str, extra: str = "") -> Path:
    """Write a configuration with three homes of two tenants on one database and one broker.

    `storage` is the `storage:` section (Roles.storage_yaml()).
    """
    return write_homes_config(tmp_path / "config", storage, broker, HOMES, sections="automation:\n" + extra).folder


async def add_users(homes: HomeHost) -> dict[str, str]:
    """Make alice (owner of flat-a, user in flat-b), bob (user in flat-a), carol (owner of villa),
    erin and frank (owner and admin of flat-b) and dave (of acme, in no home), each in a home,
    with a long-lived token made there."""
    tokens = {}
    for name, home_id, role in (("alice", "flat-a", "owner"), ("bob", "flat-a", "user"),
                                ("carol", "villa", "owner"), ("dave", "flat-a", "user"),
                                ("erin", "flat-b", "owner"), ("frank", "flat-b", "admin")):
        home = homes.get(home_id)
        assert home is not None
        auth = home.auth
        auth._rounds = 4  # as tests/api do: hashing is not what these tests measure
        user = await auth.add_user(name, "correct horse battery", role=role)
        tokens[name] = await auth.create_long_lived_token(user.id, "test", lifespan_days=1)
        if name == "dave":  # leaves his home: a user of the tenant with no role anywhere
            async with scoped_sessions(homes.engine, home.record.scope)() as session, session.begin():
                members = table_of(HomeMemberRow)
                await session.execute(delete(members).where(members.c.user_id == user.id))
            homes.auth.forget_users(user.id)
    return tokens


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def homes_runtime(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                        postgres_server: Any, mosquitto_server: Any) -> AsyncIterator[HomesRun]:
    """A hub with the homes of HOMES_YAML and the users of add_users (tokens in .tokens),
    serving as an application role that row-level security binds (never the tables' owner).

    One per test module (its tests run in the module's event loop): starting three homes and
    hashing six passwords is most of a test's time, and the tests only add what they read.
    A module's EXTRA_CONFIG (YAML) is added to the configuration.
    """
    errors: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    tmp_path = tmp_path_factory.mktemp("homes")
    pg_url = postgres_server.url(postgres_server.create_database())
    roles = await make_roles(pg_url)
    # "{pg_url}" in a module's EXTRA_CONFIG is this run's database (e.g. a recorder's db_url);
    # "{influx_url}" a throwaway InfluxDB 1.x, started only for the modules that name it.
    extra = getattr(request.module, "EXTRA_CONFIG", "").replace("{pg_url}", pg_url)
    if "{influx_url}" in extra:
        influxdb = request.getfixturevalue("influxdb_server")
        if not influxdb.running:
            influxdb.start()
        extra = extra.replace("{influx_url}", influxdb.url)
    config_dir = homes_config(tmp_path, roles.storage_yaml(), mosquitto_server.url, extra)
    checked = await grant_roles(roles, config_dir)
    runtime = await bootstrap.start(config_dir, tmp_path / "data", port=0, checked=checked)
    try:
        assert runtime.homes is not None
        tokens = await add_users(runtime.homes)
        yield HomesRun(runtime, runtime.homes, runtime.url, tokens)
    finally:
        await bootstrap.stop(runtime)
        loop.set_exception_handler(previous)
    if errors:
        pytest.fail(f"Unhandled errors in the event loop: {errors}")


async def get(runtime: HomesRun, path: str, user: str, home: str | None = None) -> tuple[int, Any]:
    """GET path as user, naming home with the X-Home-Id header when given."""
    headers = {"Authorization": f"Bearer {runtime.tokens[user]}"}
    if home is not None:
        headers["X-Home-Id"] = home
    async with aiohttp.ClientSession() as session, session.get(runtime.url + path, headers=headers) as response:
        body = await response.text()
        try:
            return response.status, json.loads(body)
        except ValueError:
            return response.status, body


async def ws_session(runtime: HomesRun, user: str, home: str | None, commands: list[dict[str, Any]],
                     ) -> tuple[str, list[Any]]:
    """Authenticate over /api/websocket (?home_id=home) and run commands; return the auth answer and results."""
    query = f"?home_id={home}" if home is not None else ""
    results = []
    async with aiohttp.ClientSession() as session, session.ws_connect(runtime.url + "/api/websocket" + query) as ws:
        assert (await ws.receive_json())["type"] == "auth_required"
        await ws.send_json({"type": "auth", "access_token": runtime.tokens[user]})
        answer = (await ws.receive_json())["type"]
        if answer != "auth_ok":
            return answer, results
        for number, command in enumerate(commands, start=1):
            await ws.send_json({"id": number, **command})
            results.append(await ws.receive_json())
    return answer, results



