"""The HomeHost: one hub core per home in one process, behind one web server and one database.

Shared: the aiohttp server (hub.homes.dispatch picks each request's home), the auth store
(users and tokens are the tenant's, roles are per home) and the database server. Per home: the
hub core (bus, states, services, automations, integrations' runtime, registries), its web app
(routes and app state built exactly as for a single home), its data folder
`<data>/homes/<id>/` (spool, signing keys of nothing but its devices) and its config folder
`<config>/homes/<id>/` (automations, scripts, scenes). MQTT: one client per home, subscribed
under the home's topic root only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy.engine import make_url

from hub import bootstrap, plugins
from hub.api.malformed import ProtocolErrorLogger
from hub.auth.store import AuthStore
from hub.config import ConfigIssue
from hub.config.objects import get_location
from hub.core.clock import SystemClock
from hub.core.hub import Hub
from hub.exceptions import ConfigError
from hub.homes import _storage
from hub.homes._directory import ConfigDirectory
from hub.homes.access import HOME_ACCESS, HomeAccess
from hub.homes.dispatch import build_front_app
from hub.homes.owners import HOME_IDS, IdOwners
from hub.homes.record import HomeRecord
from hub.homes.settings import home_dir, home_raw_config
from hub.storage.engine import create_engine, migrate, session_factory
from hub.storage.private_files import prepare_data_dir

if TYPE_CHECKING:
    from hub.core.scope import HomeScope

_LOGGER = logging.getLogger(__name__)
# Homes that start at once: enough to overlap their I/O, few enough not to flood the database pool.
START_CONCURRENCY = 8


@dataclass(slots=True)
class Home:
    """One home's running core and the web app that serves it."""

    record: HomeRecord
    hub: Hub
    engine: Any
    app: web.Application
    started: bool = False


class HomeHost:
    """The homes of this process, by id, and what they share."""

    def __init__(self, directory: ConfigDirectory, auth: AuthStore, engine: Any) -> None:
        self.directory = directory
        self.auth = auth
        self.engine = engine
        self.homes: dict[str, Home] = {}
        self.owners = IdOwners()  # which home a webhook id or a device key belongs to
        self._tasks: list[asyncio.Task[Any]] = []
        # Alembic keeps its migration context in module globals: one home's schema at a time.
        self._migrating = asyncio.Lock()

    def get(self, home_id: str) -> Home | None:
        """Return the home with that id, None when this process has none."""
        return self.homes.get(home_id)

    @property
    def default(self) -> Home:
        """The first home listed: it answers what names no home (the UI's files, the login pages)."""
        return next(iter(self.homes.values()))

    async def role_of(self, user_id: str, scope: HomeScope) -> str | None:
        """The user's role in that home, None when they have none."""
        for home_scope, role in await self.directory.homes_of(user_id):
            if home_scope == scope:
                return role
        return None

    async def first_home_of(self, user_id: str) -> Home | None:
        """The first home (in the directory's order) the user has a role in."""
        for scope, _role in await self.directory.homes_of(user_id):
            home = self.homes.get(scope.home_id)
            if home is not None and home.record.scope == scope:
                return home
        return None

    async def add(self, record: HomeRecord, checked: bootstrap.CheckedConfig, config_dir: Path, data_dir: Path,
                  url: str) -> Home:
        """Build, set up and serve one home's core (its sources connected, its hub running)."""
        folder = home_dir(config_dir, record)
        raw = home_raw_config(checked, record, folder)
        hub_config = bootstrap._hub_config(folder, data_dir / "homes" / record.home_id, raw)
        hub_config.scope = record.scope
        hub = Hub(hub_config)
        bootstrap.prepare_core(hub, checked)
        hub.runtime[HOME_ACCESS] = HomeAccess(record.scope, lambda user_id: self.role_of(user_id, record.scope))
        hub.runtime[HOME_IDS] = self.owners.of_home(record.home_id)
        async with self._migrating:
            engine = await _storage.open_home_engine(self.engine, url, record.scope,
                                                     plugins.migration_locations(checked.integrations))
        try:
            await bootstrap.load_registries(hub, session_factory(engine), self.auth)
            _restored, app = await bootstrap.setup_core(hub, checked)
        except BaseException:
            await hub.stop()
            await engine.dispose()
            raise
        home = self.homes[record.home_id] = Home(record, hub, engine, app)
        # What aiohttp's AppRunner does for the app it serves; the front app serves this one.
        app.on_startup.freeze()
        await app.startup()
        app.freeze()
        home.started = True
        await bootstrap.run_core(hub)
        return home

    async def add_all(self, records: list[HomeRecord], checked: bootstrap.CheckedConfig, config_dir: Path,
                      data_dir: Path, url: str) -> None:
        """Start the homes, START_CONCURRENCY at a time (their database and broker round trips
        overlap); `homes` keeps the records' order.

        Raises:
            HubError: the first home that failed; the others that started are left running (stop()).
        """
        gate = asyncio.Semaphore(START_CONCURRENCY)

        async def start_one(record: HomeRecord) -> None:
            async with gate:
                await self.add(record, checked, config_dir, data_dir, url)

        results = await asyncio.gather(*(start_one(record) for record in records), return_exceptions=True)
        self.homes = {r.home_id: self.homes[r.home_id] for r in records if r.home_id in self.homes}
        for result in results:
            if isinstance(result, BaseException):
                raise result

    def watch_auth(self) -> None:
        """Follow revocations, bans and key rotation once for every home (the store is shared)."""
        self._tasks.append(asyncio.get_running_loop().create_task(self.auth.watch(), name="auth watch"))

    async def stop(self) -> None:
        """Stop every home, then what they share."""
        for task in self._tasks:
            task.cancel()
        for home in reversed(list(self.homes.values())):
            if home.started:
                await home.app.shutdown()
            await home.hub.stop()
            if home.started:
                await home.app.cleanup()
            await home.engine.dispose()
        self.homes.clear()
        await self.engine.dispose()


def _require_postgres(config: dict[str, Any], url: str) -> None:
    if make_url(url).get_backend_name() == "postgresql":
        return
    file, line = get_location(config["homes"])
    message = ("many homes in one process need PostgreSQL: set `storage: db_url: postgresql+asyncpg://...` "
               f"(the metadata database is {make_url(url).get_backend_name()})")
    raise ConfigError([ConfigIssue(file, line, "homes", message)])


def _require_external_broker(config: dict[str, Any]) -> None:
    mqtt = config.get("mqtt")
    if not isinstance(mqtt, dict) or mqtt.get("broker"):
        return
    file, line = get_location(config["homes"])
    message = ("many homes share one external broker: set `mqtt: broker: mqtt://...` "
               "(the embedded broker serves a single home)")
    raise ConfigError([ConfigIssue(file, line, "homes", message)])


async def start_homes(config_dir: Path, data_dir: Path, checked: bootstrap.CheckedConfig, *,
                      host: str | None, port: int | None, tls_context: Any) -> bootstrap.Runtime:
    """Start every home listed in `homes:` behind one web server; see bootstrap.start.

    Raises:
        ConfigError: the metadata database is not PostgreSQL, or a home's own files are invalid.
        HubError: a home failed to start; what started was stopped.
    """
    began = time.monotonic()
    config = checked.config
    url = bootstrap.database_url(config, data_dir)
    _require_postgres(config, url)
    _require_external_broker(config)
    bootstrap.apply_logging(config, checked.integrations)
    prepare_data_dir(data_dir)
    engine = create_engine(url)
    await migrate(engine, plugins.migration_locations(checked.integrations))
    auth = AuthStore.for_hub(session_factory(engine), SystemClock(), data_dir, config.get("http") or {})
    homes = HomeHost(ConfigDirectory(config["homes"], auth), auth, engine)
    runner: web.AppRunner | None = None
    try:
        await auth.start()
        homes.watch_auth()
        await homes.add_all(homes.directory.homes(), checked, config_dir, data_dir, url)
        runner = web.AppRunner(build_front_app(homes), handle_signals=False, access_log=None, shutdown_timeout=0.5,
                               logger=ProtocolErrorLogger())
        served = await bootstrap.serve(runner, config.get("http") or {}, host, port, tls_context)
    except BaseException:
        if runner is not None:
            await runner.cleanup()
        await homes.stop()
        raise
    prepare_data_dir(data_dir, announce=False)
    runtime = bootstrap.Runtime(homes.default.hub, engine, runner, served, homes=homes)
    _LOGGER.info("Hub started in %.2f s at %s with %d homes (data: %s)", time.monotonic() - began, served,
                 len(homes.homes), data_dir)
    return runtime
