"""Every hook an integration can implement, in one file.

An integration is a module (or any object) registered with the hub's plugin manager; it
implements hooks by decorating functions with `hub.hookimpl`. A hook may be a plain function
or `async def`: the hub awaits what needs awaiting (see `hub.plugins.call_hook`).
Each hook is documented in docs/hooks.md and tested in tests/plugins/test_hooks.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from aiohttp import web
    from prometheus_client.core import Metric

    from hub.core.hub import Hub

hookspec = pluggy.HookspecMarker("hub")
hookimpl = pluggy.HookimplMarker("hub")

# Why a home of many leaves the running process (home_leaving's `reason`).
LEAVING_REMOVED = "removed"  # `hub home remove`, `hub tenant remove`: for good
LEAVING_SUSPENDED = "suspended"  # its tenant suspended: it comes back with `hub tenant resume`
LEAVING_CHANGED = "changed"  # its record changed (topic root, plan, ...): it starts again at once
LEAVING_STOPPING = "stopping"  # the process stops


@hookspec
def setup_integration(hub: Hub, config: Any) -> None:
    """Set the integration up: register its services and add its entities.

    When called: once per enabled integration while the hub starts, in dependency order (an
    integration's `dependencies` from manifest.json are set up before it). Only the
    integration's own implementation is called, never the others'.

    :param hub: the running Hub: use hub.services, hub.entities, hub.bus, hub.states.
    :param config: the integration's configuration section after its CONFIG_SCHEMA
        validated it; None when it is enabled only as another integration's dependency.
    :return: None (or an awaitable). Raising a HubError stops the hub's start with that
        message; the hub never runs half configured.
    """


@hookspec
def connect_sources(hub: Hub) -> Callable[[], Awaitable[None] | None] | None:
    """Start reading from devices: connect to brokers, open serial ports, start polling.

    When called: once, in the hub's sources stage: after every enabled integration's
    `setup_integration` ran (so every consumer, the recorder, automations and the WebSocket
    API, listens) and after the web server listens; before `homeassistant_start`. All
    implementations are called concurrently. A reading that arrives before this stage would
    reach states nobody records yet, so an integration that reads devices connects here and
    not in `setup_integration`.

    :param hub: the Hub.
    :return: the function that disconnects (plain or async), or None. The hub calls it first
        when it stops, before any other teardown, so that no reading arrives while the
        consumers stop.
    """


@hookspec
def register_http_routes(hub: Hub, app: web.Application) -> None:
    """Add HTTP routes (views, static files) to the hub's web application.

    When called: once, after every integration was set up and before the web server starts
    listening; all enabled integrations' implementations are called.

    :param hub: the Hub.
    :param app: the aiohttp Application; add routes with `app.router.add_get(...)`.
        Routes under /api/ are reached only with a valid Bearer token; the user it
        belongs to is `request[hub.api.http.USER_KEY]`.
    :return: None.
    """


@hookspec
def hub_started(hub: Hub) -> None:
    """React to the hub having started (the `homeassistant_started` event).

    When called: once, after every integration was set up and the web server listens; all
    implementations are called. Start polling or connect to devices here if it must wait
    for the rest of the hub.

    :param hub: the Hub.
    :return: None (or an awaitable; the hub waits for it).
    """


@hookspec
def hub_stopping(hub: Hub) -> None:
    """Release what the integration holds (connections, tasks, files) before the hub stops.

    When called: once, when the hub begins to stop (SIGINT/SIGTERM, or `hub.stop()`); all
    implementations are called concurrently and must finish quickly: the whole stop takes
    at most 2 s.

    :param hub: the Hub.
    :return: None (or an awaitable).
    """


@hookspec
def home_leaving(hub: Hub, reason: str) -> None:
    """Let go of what ties a home of many to the process's shared resources (its MQTT subscriptions).

    When called: in a hub of many homes, when one home leaves while the process runs, or the
    process stops: after the home left the HTTP routing (its requests answer 404, its sockets
    send nothing more), before its sockets close and its core stops. Implementations of every
    integration run concurrently; the home's core still runs (what arrives can still be stored).
    Never called in a single-home hub.

    :param hub: the home's Hub.
    :param reason: LEAVING_REMOVED, LEAVING_SUSPENDED, LEAVING_CHANGED or LEAVING_STOPPING.
    :return: None (or an awaitable; the hub waits for it).
    """


@hookspec
def register_websocket_commands(hub: Hub, register: Any) -> None:
    """Add commands to the WebSocket API (`/api/websocket`).

    When called: once, when the web application starts (after every integration was set
    up, before the server listens); all enabled integrations' implementations are called.

    :param hub: the Hub.
    :param register: `register(type, handler, schema, *, admin_only=False)`. `type` is the
        command's `type` string (e.g. "history/history_during_period"); `schema` is a dict
        of voluptuous markers for the message's other keys (`id` and `type` are added), or
        None for no validation; `handler` is `async def handler(hub, connection, msg)`
        where `connection` has `.user`, `.send_result(msg_id, result=None)`,
        `.send_error(msg_id, code, message)`, `.send_event(msg_id, event_payload)` and
        `.subscriptions` (a dict: store a subscription's unsubscribe under the message id
        so `unsubscribe_events` and the connection's close end it). `admin_only=True`
        refuses non-admin users with the error code `unauthorized`.
    :return: None. Registering a type twice replaces the earlier handler (with a warning).
    """


@hookspec
def extend_template_environment(hub: Hub, environment: Any) -> None:
    """Add globals, filters or tests to the hub's template environment.

    When called: once per kind of environment (full, limited, strict), the first time a
    template of that kind is compiled for the hub; all enabled integrations'
    implementations are called. Must not block and must not render templates.

    :param hub: the Hub.
    :param environment: the `hub.templating.HubEnvironment` (a sandboxed Jinja2
        environment): add to `environment.globals`, `.filters` and `.tests`.
        `environment.limited` is True for limited templates (trigger options), where
        functions that read states should not be added.
    :return: None.
    """


@hookspec
def register_history_backends(hub: Hub) -> dict[str, Any]:
    """Offer history backends the recorder can write to, by name.

    When called: once, while the recorder integration sets up (before it opens its
    backend); all enabled integrations' implementations are called and their dicts merged
    over the built-in backends (sqlite, postgresql, influxdb, influxdb2).

    :param hub: the Hub.
    :return: `{name: factory}` where `factory(hub, config)` returns a
        `hub.recorder.backends.base.HistoryBackend`; `config` is the validated `recorder:`
        section, and a user picks the backend with `recorder: {backend: <name>}`.
    """
    return {}


@hookspec
def register_trigger_platforms(hub: Hub) -> Any:
    """Offer automation trigger platforms (e.g. `mqtt`) to the automation engine.

    When called: once, when the automation engine sets up (before automations.yaml is
    loaded), and again on `automation.reload`; all enabled integrations'
    implementations are called and their dicts merged.

    :param hub: the Hub.
    :return: a dict `{platform: attach}` where `attach(hub, config, action, info)`
        subscribes one trigger and returns its detach function (or an awaitable of it).
        `config` is the trigger's mapping as written by the user (`trigger`/`platform`
        key included, `id` filled in); `action(payload: dict, context=None)` starts the
        automation with `trigger` = the trigger's common fields (`id`, `idx`, `alias`,
        `platform`) merged with `payload`; `info` holds `name` (the automation's alias),
        `variables` (the trigger variables, for limited templates) and `render` (a
        function rendering a limited template with those variables).
    """


@hookspec
def check_integration_config(hub: Hub, config: Any) -> list[Any]:
    """Report problems in the integration's configuration that its CONFIG_SCHEMA cannot see.

    When called: by `hub check-config`, after every section passed its schema, on a hub that
    is built but not started (no storage, no network); only the integration's own
    implementation is called. Automations use it to compile every automation and script, so
    a bad trigger or action is reported with its file and line before the hub runs. At
    `hub run` the same problems are logged and the item is skipped while the rest run.

    :param hub: a Hub that has the configuration and the plugin manager, nothing running.
    :param config: the integration's validated configuration section.
    :return: a list of `hub.config.ConfigIssue` (empty when all is well).
    """
    return []


@hookspec
def config_entity_ids(hub: Hub, config: Any) -> list[str]:
    """Name the entities the integration's configuration makes, before anything runs.

    When called: by `hub check-config`, after `check_integration_config`, on the same hub that
    is built but not started; only the integration's own implementation is called. The entity
    ids named by every integration, with those in the entity registry, are what automations,
    scripts and scenes may refer to: any other entity id they name gets a warning with its
    file and line. Integrations whose entities come from devices (MQTT discovery, a serial
    bus) need not implement it: their entities are in the entity registry once seen.

    :param hub: a Hub that has the configuration and the plugin manager, nothing running.
    :param config: the integration's validated configuration section.
    :return: entity ids, or fnmatch patterns (`sensor.*_cost`) where an id depends on what the
        integration finds at run time.
    """
    return []


@hookspec
def check_readiness(hub: Hub) -> dict[str, str]:
    """Say whether what the integration depends on is ready to serve (GET /readyz).

    When called: on every request to /readyz (Kubernetes readiness probes, load balancers);
    all enabled integrations' implementations are called and their answers merged with the
    hub's own checks (`hub`, `database`). /readyz answers 503 unless every check is "ok".
    Answer from what the integration already knows (its connection state, its last error):
    a probe is called often and must be quick.

    :param hub: the Hub.
    :return: `{check: "ok" or why it is not ready}`, e.g.
        `{"mqtt": "not connected to the MQTT broker at 127.0.0.1:1883"}` (or an awaitable of
        it); one key per thing checked, named after the integration.
    """
    return {}


@hookspec
def collect_metrics(hub: Hub) -> Iterable[Metric]:
    """Report the integration's figures for Prometheus (GET /metrics).

    When called: on every scrape of /metrics, from a synchronous collector: implementations
    are plain functions (not `async def`) that read counters the integration keeps anyway
    and return at once. All enabled integrations' implementations are called.

    :param hub: the Hub.
    :return: metric families from `prometheus_client.core` (`GaugeMetricFamily`,
        `CounterMetricFamily`, `SummaryMetricFamily`, ...), names starting with `hub_`.
        Families of the same name are merged, so several integrations can each add their
        sample to a shared family such as `hub_integration_messages_received` (label
        `integration`).
    """
    return []


@hookspec
def start_demo(hub: Hub, nodes: int, interval: float) -> Callable[[], Awaitable[None]] | None:
    """Start simulated devices for `hub run --demo`, so a new user sees live entities at once.

    When called: by `hub run --demo`, once the hub runs; all enabled integrations'
    implementations are called. The mqtt integration starts simulated energy-meter nodes
    (the node firmware under CPython) on its broker.

    :param hub: the running Hub.
    :param nodes: how many simulated devices to start.
    :param interval: seconds between their readings.
    :return: the async function that stops what was started (or an awaitable of it), or
        None when the integration simulates nothing. `hub run` calls it before the hub stops.
    """
