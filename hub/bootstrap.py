"""Build a running hub from a config directory: config, storage, registries, integrations, HTTP."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from hub import plugins
from hub.api import tls
from hub.api.app import build_app
from hub.api.malformed import ProtocolErrorLogger
from hub.api.onboarding import ONBOARDING_KEY
from hub.auth.store import AuthStore
from hub.config import ConfigIssue, check_configuration, domain_of_key, load_configuration
from hub.config.targets import SECTIONS as TARGET_SECTIONS
from hub.config.targets import KnownEntities, flatten_patterns, unknown_entity_warnings
from hub.core.hub import Hub, HubConfig
from hub.core.scope import DEFAULT_SCOPE
from hub.core.states import STATE_UNAVAILABLE, State
from hub.exceptions import ConfigError, HubError, IntegrationError
from hub.ops import logs as ops_logs
from hub.ops import metrics as ops_metrics
from hub.ops import routes as ops_routes
from hub.registry.areas import AreaRegistry
from hub.registry.devices import DeviceRegistry
from hub.registry.entities import ENTITIES, EntityRegistry
from hub.registry.restore import RestoreStateStore
from hub.storage.engine import SQLITE_FILENAME, create_engine, default_sqlite_url, migrate
from hub.storage.private_files import prepare_data_dir
from hub.storage.rls import check_rls_role
from hub.storage.scoped import scoped_sessions
from hub.templating.limits import TemplateLimits
from hub.templating.template import set_limits
from hub.tenancy import limits
from hub.tenancy.plans import Plan, use_plans

if TYPE_CHECKING:
    from hub.homes.host import HomeHost

_LOGGER = logging.getLogger(__name__)

RESTORE_SAVE_INTERVAL = 15 * 60
CORE_SECTIONS = ("homeassistant", "http", "storage", "logger")


@dataclass(slots=True)
class CheckedConfig:
    """A configuration that passed validation, and the integrations it enables in setup order."""

    config: dict[str, Any]
    integrations: list[plugins.Integration]


@dataclass(slots=True)
class Runtime:
    """A started hub and the servers around it."""

    core: Hub  # a single home's core; in a hub of many homes, the first one's at start: read `hub`
    engine: Any
    runner: web.AppRunner | None = None
    url: str = ""
    _teardown: list[Any] = field(default_factory=list)
    # The homes of a multi-home process (`homes:`), which come and go while it runs.
    homes: HomeHost | None = None

    @property
    def hub(self) -> Hub:
        """The hub's core: a single home's; in a hub of many homes, the first home served now.

        Raises:
            HubError: a hub of many homes serves no home at the moment (all removed or suspended).
        """
        if self.homes is None:
            return self.core
        return self.homes.default.hub


def check_config(config_dir: Path) -> CheckedConfig:
    """Load and validate the configuration, or raise ConfigError listing every problem."""
    known = plugins.discover(config_dir)
    raw = load_configuration(config_dir)
    enabled = {d for key in raw if (d := domain_of_key(key)) and d in known and d not in CORE_SECTIONS}
    issues: list[ConfigIssue] = []
    try:
        order = plugins.resolve_order(enabled, known)
    except IntegrationError as err:
        raise ConfigError([ConfigIssue(None, None, "", str(err))]) from err
    schemas = {integration.domain: integration.config_schema for integration in order}
    labelled = {integration.domain: integration.labelled_sections for integration in order}
    config, issues = check_configuration(config_dir, schemas, set(known), labelled)
    if issues:
        raise ConfigError(issues)
    return CheckedConfig(config, order)


async def check_integration_configs(config_dir: Path, checked: CheckedConfig) -> list[ConfigIssue]:
    """Ask each enabled integration for the problems its schema cannot see (bad automations...)."""
    hub = Hub(_hub_config(config_dir.resolve(), config_dir.resolve() / ".storage", checked.config))
    hub.plugins = manager = plugins.build_plugin_manager(checked.integrations)
    issues: list[ConfigIssue] = []
    try:
        for integration in checked.integrations:
            found = await plugins.call_hook_for(
                manager,
                integration.domain,
                "check_integration_config",
                hub=hub,
                config=checked.config.get(integration.domain),
            )
            issues.extend(found or [])
    finally:
        await hub.stop()
    return issues


async def check_entity_references(
    config_dir: Path, checked: CheckedConfig, data_dir: Path | None = None
) -> list[ConfigIssue]:
    """Warn about entity ids that automations, scripts and scenes name but nothing would make.

    Known ids: the entity registry in the data dir's database (read only; a database that does
    not exist yet is not created) and what each enabled integration says its configuration makes
    (the `config_entity_ids` hook).
    """
    config_dir = config_dir.resolve()
    data_dir = (data_dir or config_dir / ".storage").resolve()
    hub = Hub(_hub_config(config_dir, data_dir, checked.config))
    hub.plugins = manager = plugins.build_plugin_manager(checked.integrations)
    claims: list[list[str]] = []
    asked: list[str] = []
    try:
        implementers = {impl.plugin for impl in manager.hook.config_entity_ids.get_hookimpls()}
        for integration in checked.integrations:
            if manager.get_plugin(integration.domain) not in implementers:
                continue
            found = await plugins.call_hook_for(
                manager, integration.domain, "config_entity_ids", hub=hub, config=checked.config.get(integration.domain)
            )
            asked.append(integration.domain)
            claims.append(list(found or []))
    finally:
        await hub.stop()
    registry, source = await _registered_entity_ids(database_url(checked.config, data_dir), data_dir)
    known = KnownEntities(frozenset(registry), source, flatten_patterns(claims), tuple(asked))
    sections = {domain: checked.config.get(domain) for domain in TARGET_SECTIONS if checked.config.get(domain)}
    return unknown_entity_warnings(sections, known, str(config_dir))


async def _registered_entity_ids(url: str, data_dir: Path) -> tuple[set[str], str]:
    """The entity registry's entity ids, read without migrating or creating anything, and where from."""
    if url == default_sqlite_url(data_dir) and not (data_dir / SQLITE_FILENAME).is_file():
        return set(), f"no database yet in {data_dir}: the hub has not run with this data dir"
    engine = create_engine(url)
    shown = make_url(url).render_as_string(hide_password=True)
    try:
        # In the home's scope: under row-level security an unscoped read sees no rows.
        async with scoped_sessions(engine, DEFAULT_SCOPE)() as session:
            rows = (await session.execute(select(ENTITIES.c.entity_id))).scalars().all()
    except Exception as err:  # noqa: BLE001 - any failure to read is reported in the warning instead
        return set(), f"{shown} could not be read: {type(err).__name__}"
    finally:
        await engine.dispose()
    return set(rows), f"{shown}, {len(rows)} entities"


def _hub_config(config_dir: Path, data_dir: Path, config: dict[str, Any]) -> HubConfig:
    core = config.get("homeassistant") or {}
    return HubConfig(
        config_dir=config_dir,
        data_dir=data_dir,
        name=core.get("name", "Home"),
        time_zone=core.get("time_zone", "UTC"),
        latitude=core.get("latitude", 0.0),
        longitude=core.get("longitude", 0.0),
        elevation=core.get("elevation", 0),
        unit_system=core.get("unit_system", "metric"),
        currency=core.get("currency", "EUR"),
        country=core.get("country"),
        language=core.get("language", "en"),
        internal_url=core.get("internal_url"),
        external_url=core.get("external_url"),
        raw=config,
    )


def _apply_template_limits(hub: Hub, config: dict[str, Any]) -> None:
    """Apply `homeassistant: template_limits:` (CPU per render, output size) when it is set."""
    limits = (config.get("homeassistant") or {}).get("template_limits") or {}
    if limits:
        set_limits(hub, TemplateLimits(cpu_budget=limits["cpu_ms"] / 1000, max_output=limits["max_output_kib"] * 1024))


def apply_logging(config: dict[str, Any], integrations: list[plugins.Integration] | None = None) -> None:
    """Apply the `logger:` section: default level, one per logger or integration, text or JSON."""
    ops_logs.configure(config.get("logger") or {}, ops_logs.module_names(integrations or []))


def database_url(config: dict[str, Any], data_dir: Path) -> str:
    """Return the metadata database URL: the config's `storage: db_url`, else SQLite in data_dir."""
    storage = config.get("storage") or {}
    return storage.get("db_url") or default_sqlite_url(data_dir)


def migration_url(config: dict[str, Any]) -> str | None:
    """Return `storage: migrate_url`, the tables' owner that runs migrations (None: db_url's role)."""
    storage = config.get("storage") or {}
    url = storage.get("migrate_url")
    return url if isinstance(url, str) else None


async def open_storage(
    hub: Hub, url: str, migrations: Sequence[Path] = (), migrate_url: str | None = None
) -> Any:
    """Migrate the database and load the registries and auth store onto the hub.

    `migrations` are the version folders of the enabled integrations that keep tables;
    `migrate_url` is the role that owns the tables and runs them (default: `url`). A hub whose
    PostgreSQL database holds more than one home, or that serves another home than the default
    one, refuses to start when row-level security would not bind its role (hub.storage.rls).
    """
    engine = create_engine(url)
    try:
        homes = await _migrate(engine, migrate_url, migrations)
        if engine.dialect.name == "postgresql" and (homes > 1 or hub.config.scope != DEFAULT_SCOPE):
            problems = await check_rls_role(engine)
            if problems:
                message = (f"The database holds {homes} homes, isolated by row-level security, which does not "
                           f"hold for this hub's role: " + "; ".join(problems))
                raise HubError(message)
    except BaseException:
        await engine.dispose()
        raise
    # Every store reads and writes this hub core's home only (hub/storage/scoped.py).
    sessions = scoped_sessions(engine, hub.config.scope)
    auth = AuthStore.for_hub(sessions, hub.clock, hub.config.data_dir, hub.config.raw.get("http") or {})
    await auth.start()
    await load_registries(hub, sessions, auth)
    return engine


async def load_registries(hub: Hub, sessions: Any, auth: AuthStore) -> None:
    """Put the database, the auth store and the loaded registries on the hub."""
    hub.db = sessions
    hub.auth = auth
    hub.area_registry = areas = AreaRegistry(sessions)
    hub.device_registry = devices = DeviceRegistry(sessions, area_registry=areas)
    hub.entity_registry = entities = EntityRegistry(sessions, device_registry=devices, area_registry=areas)
    # Home Assistant's registry events, which its frontend and clients follow to refresh.
    devices.change_listeners.append(lambda data: hub.bus.fire("device_registry_updated", data))
    entities.change_listeners.append(lambda data: hub.bus.fire("entity_registry_updated", data))
    limits.apply(hub)  # the home's plan: device, entity and message-rate limits (none without a plan)
    await areas.load()
    await devices.load()
    await entities.load()


async def _migrate(engine: AsyncEngine, migrate_url: str | None, migrations: Sequence[Path]) -> int:
    """Migrate as the owner (`migrate_url`, else `engine`'s role); return how many homes there are."""
    owner = create_engine(migrate_url) if migrate_url else engine
    try:
        await migrate(owner, migrations)
        async with owner.connect() as connection:
            return int((await connection.execute(text("SELECT count(*) FROM homes"))).scalar_one())
    finally:
        if owner is not engine:
            await owner.dispose()


async def restore_states(hub: Hub, store: RestoreStateStore) -> int:
    """Put every registered entity's last known state back before any integration runs."""
    saved = await store.load()
    count = 0
    for entry in hub.require_entity_registry().entities:
        if entry.disabled_by is not None:
            continue
        stored = saved.get(entry.entity_id)
        if stored is not None:
            state = State(
                entry.entity_id,
                stored.state,
                stored.attributes,
                stored.last_changed.timestamp(),
                stored.last_updated.timestamp(),
            )
        else:
            attributes: dict[str, Any] = {"restored": True}
            if entry.display_name:
                attributes["friendly_name"] = entry.display_name
            state = State(entry.entity_id, STATE_UNAVAILABLE, attributes)
        hub.states.restore(state)
        count += 1
    return count


async def save_states(hub: Hub, store: RestoreStateStore) -> None:
    """Save the last known state of every registered entity."""
    registry = hub.entity_registry
    rows = []
    for state in hub.states.all():
        if registry is not None and state.entity_id in registry:
            rows.append(
                (state.entity_id, state.state, dict(state.attributes), state.last_changed, state.last_updated)
            )
    if rows:
        await store.save_many(rows)


async def start(
    config_dir: Path,
    data_dir: Path | None = None,
    *,
    port: int | None = None,
    host: str | None = None,
    checked: CheckedConfig | None = None,
    plan: str | None = None,
    plans: Mapping[str, Plan] | None = None,
) -> Runtime:
    """Start a hub from config_dir and return it running, with its web server listening.

    `plan` names the plan of the home this hub serves (hub.tenancy.plans; None: a single-home
    install, no plan), looked up in `plans` (the built-in plans when None).

    Raises:
        ConfigError: the configuration is invalid; nothing was started.
        HubError: storage or an integration failed to start; what started was stopped.
    """
    began = time.monotonic()
    config_dir = config_dir.resolve()
    data_dir = (data_dir or config_dir / ".storage").resolve()
    checked = checked or check_config(config_dir)
    config = checked.config
    # Before anything starts: an unreadable certificate must stop the hub, not downgrade it to HTTP.
    tls_context = tls.server_context(config.get("http") or {}, config_dir)
    apply_logging(config, checked.integrations)
    prepare_data_dir(data_dir)  # 0700, and an older install's loose files tightened (logged)
    if config.get("homes"):
        # Many homes in this process (docs/homes.md); imported here: hub.homes builds on this module.
        from hub.homes.host import start_homes

        return await start_homes(config_dir, data_dir, checked, host=host, port=port, tls_context=tls_context)
    hub = Hub(_hub_config(config_dir, data_dir, config))
    hub.config.plan = plan
    if plans is not None:
        use_plans(hub, plans)
    prepare_core(hub, checked)
    engine = await open_storage(
        hub, database_url(config, data_dir), plugins.migration_locations(checked.integrations), migration_url(config)
    )
    runtime = Runtime(hub, engine)
    try:
        log_buffer, detach_log_buffer = ops_logs.install_buffer(asyncio.get_running_loop())
        ops_routes.set_log_buffer(hub, log_buffer)
        hub.on_stop(detach_log_buffer)
        hub.create_task(hub.require_auth().watch(), "auth: revocations, bans, key rotation")
        restored, app = await setup_core(hub, checked)
        runtime.runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.5,
                                       logger=ProtocolErrorLogger())
        runtime.url = await serve(runtime.runner, config.get("http") or {}, host, port, tls_context)
        await run_core(hub)
        prepare_data_dir(data_dir, announce=False)  # what integrations made while starting
        if hub.auth is not None and not await hub.auth.has_users():
            app[ONBOARDING_KEY].announce(runtime.url)
    except BaseException:
        await stop(runtime)
        raise
    _LOGGER.info(
        "Hub started in %.2f s at %s with %d integrations, %d restored entities (data: %s)",
        time.monotonic() - began,
        runtime.url,
        len(checked.integrations),
        restored,
        data_dir,
    )
    return runtime


async def serve(runner: web.AppRunner, http: dict[str, Any], host: str | None, port: int | None,
                tls_context: Any) -> str:
    """Set up runner and listen where `http:` (or host and port, which win) says; return the URL."""
    await runner.setup()
    bind_host = host or http.get("server_host", "127.0.0.1")
    bind_port = port if port is not None else http.get("server_port", 8123)
    site = web.TCPSite(runner, bind_host, bind_port, reuse_address=True, ssl_context=tls_context)
    await site.start()
    actual_port = runner.addresses[0][1] if runner.addresses else bind_port
    return f"{'https' if tls_context else 'http'}://{bind_host}:{actual_port}"


def prepare_core(hub: Hub, checked: CheckedConfig) -> None:
    """Apply the settings a hub core needs before its storage opens (template limits, metrics)."""
    _apply_template_limits(hub, hub.config.raw)
    hub.config.components = {i.domain for i in checked.integrations}
    ops_metrics.attach(hub)


async def setup_core(hub: Hub, checked: CheckedConfig) -> tuple[int, web.Application]:
    """Restore states, set up every integration and build the hub's web app (not yet served).

    The hub's storage is open (`open_storage` or `load_registries`). Returns the number of
    restored entities and the app, with the integrations' routes added.

    Raises:
        HubError: an integration failed to set up; the message names it.
    """
    config = hub.config.raw
    restore = RestoreStateStore(hub.require_db())
    restored = await restore_states(hub, restore)
    hub.on_stop(lambda: save_states(hub, restore))
    hub.create_task(_save_periodically(hub, restore), "save restore states")
    hub.plugins = manager = plugins.build_plugin_manager(checked.integrations)
    for integration in checked.integrations:
        section = config.get(integration.domain)
        try:
            await plugins.call_hook_for(manager, integration.domain, "setup_integration", hub=hub, config=section)
        except HubError:
            raise
        except Exception as err:  # an integration's bug must name the integration
            message = f"Setup of integration '{integration.domain}' failed: {err}"
            raise HubError(message) from err
    app = build_app(hub)
    await plugins.call_hook(manager, "register_http_routes", hub=hub, app=app)
    return restored, app


async def run_core(hub: Hub) -> None:
    """The last start stages of a set-up hub core: sources connect, then the hub runs."""
    manager = hub.plugins
    if manager is None:
        message = "run_core needs a hub that setup_core set up"
        raise HubError(message)
    hub.on_stop(lambda: plugins.call_hook(manager, "hub_stopping", hub=hub))
    await connect_sources(hub, manager)
    await hub.start()
    await plugins.call_hook(manager, "hub_started", hub=hub)


async def connect_sources(hub: Hub, manager: Any) -> None:
    """The sources stage: let integrations connect to their devices, now that every consumer listens.

    The start stages are: storage and registries; every integration's setup (consumers such as
    the recorder and automations subscribe there); the web server; then this. Each source's
    disconnect is registered last, so it runs first when the hub stops: no reading arrives
    while the consumers shut down.
    """
    disconnects = await plugins.call_hook(manager, "connect_sources", hub=hub)
    for disconnect in disconnects:
        if disconnect is not None:
            hub.on_stop(disconnect)


async def _save_periodically(hub: Hub, store: RestoreStateStore) -> None:
    while True:
        await asyncio.sleep(RESTORE_SAVE_INTERVAL)
        try:
            await save_states(hub, store)
        except Exception:  # noqa: BLE001 - a failed save is retried next interval
            _LOGGER.exception("Saving states for restore failed")


async def stop(runtime: Runtime) -> None:
    """Stop the hub (every home's, when it hosts many), its web server and its database, in that order."""
    if runtime.homes is not None:
        await runtime.homes.stop()
        if runtime.runner is not None:
            await runtime.runner.cleanup()
        return
    await runtime.core.stop()
    if runtime.runner is not None:
        await runtime.runner.cleanup()
    await runtime.engine.dispose()

