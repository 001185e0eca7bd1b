"""The HomeHost: one hub core per home in one process, behind one web server and one database.

Shared: the aiohttp server (hub.homes.dispatch picks each request's home), the one database
engine (connected as the application role, which row-level security binds), the token signing
keys, revocations and login throttle (hub.auth.shared). Per home: the hub core (bus, states,
services, automations, integrations' runtime, registries) over its own scoped sessions
(`scoped_sessions(engine, scope)`: its rows only), its auth store (its members, its tokens, its
audit rows), its web app (routes and app state built exactly as for a single home), its data
folder `<data>/homes/<id>/` and its config folder `<config>/homes/<id>/` (automations,
scripts, scenes). MQTT: one connection per broker account for the process, subscribed per home root
(integrations/mqtt/shared.py); each home's client is held to its root.

The homes are the tenancy store's (hub.homes.directory): the `homes:` section is declared into
it at start, and every home of the store is served.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy.engine import make_url

from hub import bootstrap, plugins
from hub.api.malformed import ProtocolErrorLogger
from hub.auth.shared import HomesAuth
from hub.config import ConfigIssue
from hub.config.objects import get_location
from hub.core.clock import SystemClock
from hub.core.hub import Hub
from hub.core.scope import DEFAULT_SCOPE
from hub.exceptions import ConfigError, HubError
from hub.homes import changes, directory
from hub.homes.access import HOME_ACCESS, HomeAccess
from hub.homes.dispatch import build_front_app
from hub.homes.listing import HOMES_OF, homes_of_host
from hub.homes.owners import HOME_IDS, IdOwners
from hub.homes.roots import TOPIC_ROOTS
from hub.homes.settings import home_dir, home_raw_config
from hub.homes.watch import DirectoryWatch
from hub.hookspecs import LEAVING_STOPPING
from hub.storage.engine import create_engine, migrate
from hub.storage.private_files import prepare_data_dir
from hub.storage.rls import check_rls_role
from hub.storage.scoped import scoped_sessions
from hub.tenancy.plans import PLANS, Plan, plans_from_config, use_plans

if TYPE_CHECKING:
    from hub.auth.store import AuthStore
    from hub.core.scope import HomeScope
    from hub.homes.record import HomeRecord

_LOGGER = logging.getLogger(__name__)
# Homes that start at once: enough to overlap their I/O, few enough not to flood the database pool.
START_CONCURRENCY = 8
CHANGE_WAIT = 10.0  # seconds a stop waits for a change of the homes served (hub/homes/changes.py) to finish


@dataclass(slots=True)
class Home:
    """One home's running core and the web app that serves it."""

    record: HomeRecord
    hub: Hub
    app: web.Application
    started: bool = False  # its app started (it has something to shut down)
    live: bool = False  # its core runs too: requests are routed to it (hub.homes.dispatch)
    requests: set[asyncio.Task[Any]] = field(default_factory=set)  # its requests being served (sockets too)

    @property
    def auth(self) -> AuthStore:
        """The home's auth store: its members, the tokens made in it, its audit rows."""
        return self.hub.require_auth()

    async def stop(self) -> None:
        """Stop the home's app and core."""
        if self.started:
            await self.app.shutdown()
        await self.hub.stop()
        if self.started:
            await self.app.cleanup()


class HomeHost:
    """The homes of this process, by id, and what they share."""

    def __init__(self, auth: HomesAuth, engine: Any, declared: directory.Declared | None = None) -> None:
        self.auth = auth
        self.engine = engine
        self.declared = declared or directory.Declared([])
        self.homes: dict[str, Home] = {}
        self.owners = IdOwners()  # which home a webhook id or a device key belongs to
        self.topic_roots: set[str] = set()  # of the homes served or starting (hub.homes.roots)
        self._tasks: list[asyncio.Task[Any]] = []
        self.plans: dict[str, Plan] = dict(PLANS)  # the built-in plans with the `plans:` section's overrides
        self.started_with: tuple[bootstrap.CheckedConfig, Path, Path] | None = None  # what add() takes besides a record
        self.changing = asyncio.Lock()  # homes start and stop one change at a time (hub/homes/changes.py)
        self.watch: DirectoryWatch | None = None  # follows the store while the host runs

    def get(self, home_id: str) -> Home | None:
        """Return the home with that id, None when this process has none."""
        return self.homes.get(home_id)

    def served(self, home_id: str) -> Home | None:
        """Return the home with that id if requests may reach it now: in the table and running, not
        starting (its app has no middlewares yet, its core does not run) nor leaving (out of the table)."""
        home = self.homes.get(home_id)
        return home if home is not None and home.live else None

    @property
    def first(self) -> Home | None:
        """The first home served now, None when there is none (every one removed, suspended or starting)."""
        return next((home for home in self.homes.values() if home.live), None)

    @property
    def default(self) -> Home:
        """The first home served now: it answers what names no home (the UI's files, the login pages).

        Raises:
            HubError: no home is served at the moment (every one removed or suspended).
        """
        home = self.first
        if home is not None:
            return home
        message = "this hub serves no home at the moment: every home was removed or its tenant suspended"
        raise HubError(message)

    async def role_of(self, user_id: str, scope: HomeScope) -> str | None:
        """The user's role in that home, None when they have none."""
        for home_scope, role in await self.auth.homes_of(user_id):
            if home_scope == scope:
                return role
        return None

    async def first_home_of(self, user_id: str) -> Home | None:
        """The first home (in this process's order) the user has a role in."""
        scopes = {scope for scope, _role in await self.auth.homes_of(user_id)}
        return next((home for home in self.homes.values() if home.live and home.record.scope in scopes), None)

    async def add(self, record: HomeRecord, checked: bootstrap.CheckedConfig, config_dir: Path, data_dir: Path) -> Home:
        """Build, set up and serve one home's core (its sources connected, its hub running)."""
        folder = home_dir(config_dir, record)
        raw = home_raw_config(checked, record, folder)
        hub_config = bootstrap._hub_config(folder, data_dir / "homes" / record.home_id, raw)
        hub_config.scope = record.scope
        hub_config.plan = record.plan
        hub = Hub(hub_config)
        use_plans(hub, self.plans)
        bootstrap.prepare_core(hub, checked)
        hub.runtime[HOME_ACCESS] = HomeAccess(record.scope, lambda user_id: self.role_of(user_id, record.scope))
        hub.runtime[HOMES_OF] = homes_of_host(self)
        hub.runtime[HOME_IDS] = self.owners.of_home(record.home_id)
        self.topic_roots.add(record.topic_root)
        hub.runtime[TOPIC_ROOTS] = self.live_roots
        try:
            return await self._start(hub, record, checked)
        except BaseException:
            self.topic_roots.discard(record.topic_root)
            raise

    def live_roots(self) -> set[str]:
        """The topic roots of the homes served or starting now (hub.homes.roots): the live directory's."""
        return self.topic_roots

    async def _start(self, hub: Hub, record: HomeRecord, checked: bootstrap.CheckedConfig) -> Home:
        # The process's one engine; every statement of these sessions is the home's (hub/storage/scoped.py).
        sessions = scoped_sessions(self.engine, record.scope)
        auth = self.auth.store(sessions)
        auth.user_added = self.declared.apply
        try:
            await auth.start()
            await bootstrap.load_registries(hub, sessions, auth)
            _restored, app = await bootstrap.setup_core(hub, checked)
        except BaseException:
            await hub.stop()
            raise
        home = self.homes[record.home_id] = Home(record, hub, app)
        # What aiohttp's AppRunner does for the app it serves; the front app serves this one.
        app.on_startup.freeze()
        await app.startup()
        app.freeze()
        home.started = True
        await bootstrap.run_core(hub)
        home.live = True
        return home

    async def add_all(self, records: list[HomeRecord], checked: bootstrap.CheckedConfig, config_dir: Path,
                      data_dir: Path) -> None:
        """Start the homes, START_CONCURRENCY at a time (their database and broker round trips
        overlap); `homes` keeps the records' order.

        Raises:
            HubError: the first home that failed; the others that started are left running (stop()).
        """
        self.started_with = (checked, config_dir, data_dir)
        gate = asyncio.Semaphore(START_CONCURRENCY)
        self.topic_roots.update(record.topic_root for record in records)

        async def start_one(record: HomeRecord) -> None:
            async with gate:
                await self.add(record, checked, config_dir, data_dir)

        results = await asyncio.gather(*(start_one(record) for record in records), return_exceptions=True)
        self.homes = {r.home_id: self.homes[r.home_id] for r in records if r.home_id in self.homes}
        for result in results:
            if isinstance(result, BaseException):
                raise result

    def watch_auth(self) -> None:
        """Follow revocations, bans, key rotation and users' changes once for every home."""
        self._tasks.append(asyncio.get_running_loop().create_task(self.auth.watch(), name="auth watch"))

    def watch_homes(self, watch: DirectoryWatch) -> None:
        """Start and stop homes as the tenancy store changes (hub/homes/watch.py)."""
        self.watch = watch
        self._tasks.append(asyncio.get_running_loop().create_task(watch.run(), name="homes watch"))

    async def stop(self) -> None:
        """Stop every home, then what they share: in the order of a removal (hub/homes/changes.py),
        each step for every home at once: the routing (404), the shared connection (the homes'
        filters stay in the process's session), the sockets, the cores."""
        # A change under way finishes first: cancelled half-way, a home out of the table would keep its core.
        try:
            await asyncio.wait_for(self.changing.acquire(), CHANGE_WAIT)
            held = True
        except TimeoutError:
            held = False
            _LOGGER.warning("Homes: a change of the homes served did not finish within %.0f s; stopping anyway",
                            CHANGE_WAIT)
        try:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            homes = list(reversed(self.homes.values()))
            self.homes.clear()
            self.topic_roots.clear()
            for home in homes:
                changes.silence_home(home)
            await asyncio.gather(*(changes.leaving(home, LEAVING_STOPPING) for home in homes))
            for home in homes:
                await changes.end_requests(home)
                await home.stop()
        finally:
            if held:
                self.changing.release()
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
    """Start every home of the tenancy store behind one web server; see bootstrap.start.

    As the tables' owner (`storage: migrate_url`): migrate once, declare the `homes:` section
    into the store and read the homes to serve. Then as the application role (`storage:
    db_url`), which must be one that row-level security binds.

    Raises:
        ConfigError: the metadata database is not PostgreSQL, or a home's own files are invalid.
        HubError: the role is not an application role, a home failed to start; what started was stopped.
    """
    began = time.monotonic()
    config = checked.config
    url = bootstrap.database_url(config, data_dir)
    _require_postgres(config, url)
    _require_external_broker(config)
    bootstrap.apply_logging(config, checked.integrations)
    prepare_data_dir(data_dir)
    owner = create_engine(bootstrap.migration_url(config) or url)
    try:
        await migrate(owner, plugins.migration_locations(checked.integrations))
        declared = await directory.declare(owner, config["homes"])
        records = await directory.served(owner, config["homes"])
    finally:
        await owner.dispose()
    engine = create_engine(url)
    try:
        problems = await check_rls_role(engine)
    except BaseException:
        await engine.dispose()
        raise
    if problems:
        await engine.dispose()
        message = ("A hub serving many homes must connect as a role that row-level security binds: "
                   + "; ".join(problems))
        raise HubError(message)
    declared.engine = engine
    # Revocations, login failures and bans are the process's (no tenant); the default scope reads them.
    auth = HomesAuth(engine, scoped_sessions(engine, DEFAULT_SCOPE), SystemClock(), data_dir, config.get("http") or {})
    homes = HomeHost(auth, engine, declared)
    homes.plans = plans_from_config(config.get("plans"))
    runner: web.AppRunner | None = None
    try:
        await auth.start()
        homes.watch_auth()
        await homes.add_all(records, checked, config_dir, data_dir)
        runner = web.AppRunner(build_front_app(homes), handle_signals=False, access_log=None, shutdown_timeout=0.5,
                               logger=ProtocolErrorLogger())
        served = await bootstrap.serve(runner, config.get("http") or {}, host, port, tls_context)
    except BaseException:
        if runner is not None:
            await runner.cleanup()
        await homes.stop()
        raise
    prepare_data_dir(data_dir, announce=False)
    homes.watch_homes(changes.watch(homes, config, url))
    runtime = bootstrap.Runtime(homes.default.hub, engine, runner, served, homes=homes)
    _LOGGER.info("Hub started in %.2f s at %s with %d homes (data: %s)", time.monotonic() - began, served,
                 len(homes.homes), data_dir)
    return runtime
