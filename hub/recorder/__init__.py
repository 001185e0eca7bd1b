"""The recorder integration: history of every state change, in SQLite, PostgreSQL or InfluxDB.

Enabled by a `recorder:` key in configuration.yaml (see hub/recorder/config.py for its options).
Other integrations reach it with `get_recorder(hub)`, e.g. to backfill a device's offline buffer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub import plugins
from hub.core.runtime import HubKey
from hub.core.scope import DEFAULT_SCOPE
from hub.core.services import SupportsResponse
from hub.exceptions import HubError
from hub.hookspecs import hookimpl
from hub.recorder import api, chart, status, stream, telemetry_v1
from hub.recorder.backends.base import BackendError, HistoryBackend
from hub.recorder.backlog import BACKLOG_ENTITY_ID
from hub.recorder.config import CONFIG_SCHEMA, check_history_backend, entity_id
from hub.recorder.filters import build_filter
from hub.recorder.recorder import Recorder
from hub.recorder.spool import Spool
from hub.recorder.tiers import Downsampler, parse_plan
from hub.tenancy.plans import plan_of, retentions_of_plans

if TYPE_CHECKING:
    from aiohttp import web
    from prometheus_client.core import Metric

    from hub.core.hub import Hub
    from hub.core.services import ServiceCall

__all__ = ["CONFIG_SCHEMA", "BackendError", "HistoryBackend", "Recorder", "check_history_backend", "get_recorder"]

_LOGGER = logging.getLogger(__name__)
BackendFactory = Callable[["Hub", dict[str, Any]], HistoryBackend]
RECORDER: HubKey[Recorder] = HubKey("recorder")


def get_recorder(hub: Hub) -> Recorder | None:
    """Return the hub's recorder, or None when the recorder integration is not enabled."""
    return hub.runtime.get(RECORDER)


def _sqlite(hub: Hub, config: dict[str, Any]) -> HistoryBackend:
    from hub.recorder.backends.sqlite import SQLiteBackend

    if hub.config.plan is not None or hub.config.scope != DEFAULT_SCOPE:
        message = (
            f"recorder: home {hub.config.scope} is one of many homes; the sqlite history backend keeps a single "
            "home's history. Use backend postgresql, influxdb or influxdb2."
        )
        raise HubError(message)
    path = config.get("path") or "history.db"
    return SQLiteBackend(_data_dir(hub) / path)


def _postgresql(hub: Hub, config: dict[str, Any]) -> HistoryBackend:
    from hub.recorder.backends.postgres import PostgresBackend

    if not config.get("db_url"):
        raise HubError("recorder: backend postgresql needs db_url (postgresql://user@host/db)")
    # A home on a plan writes into its plan's partitions, which every plan's retention drops whole;
    # the homes of the process that use one URL share its pool.
    return PostgresBackend(
        config["db_url"],
        partition=config["partition"],
        scope=hub.config.scope,
        plan=hub.config.plan,
        retentions=retentions_of_plans(hub) if hub.config.plan is not None else None,
        owner_url=_history_owner(hub, config),
    )


def _history_owner(hub: Hub, config: dict[str, Any]) -> str | None:
    """The history tables' owner: `recorder: migrate_url`, else storage's for the same database."""
    if config.get("migrate_url"):
        return str(config["migrate_url"])
    storage = hub.config.raw.get("storage") or {}
    if storage.get("migrate_url") and _same_database(storage.get("db_url"), config["db_url"]):
        return str(storage["migrate_url"])
    return None


def _same_database(one: str | None, other: str) -> bool:
    from sqlalchemy.engine import make_url  # noqa: PLC0415 - only for a PostgreSQL history

    if not one:
        return False
    a, b = make_url(one), make_url(other)
    return (a.username, a.host, a.port, a.database) == (b.username, b.host, b.port, b.database)


def _influxdb(hub: Hub, config: dict[str, Any]) -> HistoryBackend:
    from hub.recorder.backends.influx_v1 import InfluxV1Backend

    if not config.get("url"):
        raise HubError("recorder: backend influxdb needs url (http://host:8086)")
    return InfluxV1Backend(
        config["url"],
        config["database"],
        username=config.get("username"),
        password=config.get("password"),
        scope=hub.config.scope,
        plan=hub.config.plan,
    )


def _influxdb2(hub: Hub, config: dict[str, Any]) -> HistoryBackend:
    from hub.recorder.backends.influx_v2 import InfluxV2Backend

    missing = [key for key in ("url", "token", "org", "bucket") if not config.get(key)]
    if missing:
        raise HubError(f"recorder: backend influxdb2 needs {', '.join(missing)}")
    return InfluxV2Backend(
        config["url"], config["token"], config["org"], config["bucket"], scope=hub.config.scope, plan=hub.config.plan
    )


BUILTIN_BACKENDS: dict[str, BackendFactory] = {
    "sqlite": _sqlite,
    "postgresql": _postgresql,
    "influxdb": _influxdb,
    "influxdb2": _influxdb2,
}


def _data_dir(hub: Hub) -> Path:
    if hub.config.data_dir is None:
        raise HubError("recorder: the hub has no data directory for history and the spool")
    return Path(hub.config.data_dir)


async def backend_factories(hub: Hub) -> dict[str, BackendFactory]:
    """Return the built-in backends and those plugins add with register_history_backends."""
    factories = dict(BUILTIN_BACKENDS)
    if hub.plugins is not None:
        for result in await plugins.call_hook(hub.plugins, "register_history_backends", hub=hub):
            factories.update(result or {})
    return factories


BACKFILL_SCHEMA = vol.Schema(
    {
        vol.Required("entity_id"): entity_id,
        vol.Required("points"): [vol.ExactSequence([vol.Any(int, float, str), vol.Any(int, float, str)])],
    }
)


@hookimpl
def config_entity_ids(hub: Hub, config: Any) -> list[str]:
    """The spool's size."""
    return [BACKLOG_ENTITY_ID]


@hookimpl
async def setup_integration(hub: Hub, config: dict[str, Any] | None) -> None:
    """Open the history backend and start recording."""
    config = CONFIG_SCHEMA(config) if config is None else config
    factories = await backend_factories(hub)
    factory = factories.get(config["backend"])
    if factory is None:
        message = f"recorder: unknown backend '{config['backend']}'; known: {', '.join(sorted(factories))}"
        raise HubError(message)
    backend = factory(hub, config)
    try:
        await backend.open()
    except BackendError as err:
        # The spool keeps every point until the backend answers; recording starts anyway.
        _LOGGER.error("recorder: %s is not reachable yet (%s); spooling until it is", backend.name, err)
    data_dir = _data_dir(hub)
    spool = Spool(data_dir / "recorder_spool", int(config["spool_max_mb"] * 1024 * 1024))
    recorder = Recorder(
        hub,
        backend,
        spool,
        keep=build_filter(config.get("include"), config.get("exclude")),
        commit_interval=config["commit_interval"],
        sync_interval=config["sync_interval"],
        max_batch=config["max_batch"],
        retry_max=config["retry_max"],
        memory_max_points=config["memory_max_points"],
    )
    recorder.spool_listeners.append(lambda error: notify_spool(hub, recorder, error))
    recorder.plan = parse_plan(config, plan_of(hub))
    downsampler = Downsampler(backend, recorder.plan, data_dir / f"recorder_tiers_{backend.name}.json", time.time)
    recorder.stored_listeners.append(downsampler.note_stored)
    recorder.tiers = downsampler
    await backend.retention_hint(recorder.plan.longest())
    await recorder.start()
    hub.runtime[RECORDER] = recorder
    recorder.run_job(downsampler.run(config["downsample_interval"]), "recorder downsample")
    hub.on_stop(recorder.stop)

    async def backfill(call: ServiceCall) -> dict[str, Any]:
        points = [(api.parse_time(ts) if isinstance(ts, str) else ts, value) for ts, value in call.data["points"]]
        if any(ts is None for ts, _ in points):
            raise HubError("recorder.backfill: a timestamp is not ISO 8601 or epoch seconds")
        # entity_id is a target: the service registry may hand it over as a list.
        targets = call.entity_ids or []
        if len(targets) != 1:
            raise HubError("recorder.backfill: give exactly one entity_id")
        return {"points": await recorder.backfill(targets[0], points)}  # type: ignore[arg-type]

    async def purge(call: ServiceCall) -> None:
        await recorder.flush_pending()
        await downsampler.downsample()
        await downsampler.purge()
        recorder.history_cache.clear()

    hub.services.register(
        "recorder",
        "backfill",
        backfill,
        BACKFILL_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hub.services.register("recorder", "purge", purge)  # both described in services.yaml next to this file


SPOOL_NOTIFICATION = "recorder_spool"


def notify_spool(hub: Hub, recorder: Recorder, error: str | None) -> None:
    """Tell the user, by a persistent notification, that the spool cannot be written (or can again)."""
    if not hub.services.has_service("persistent_notification", "create"):
        return
    if error is None:
        call = hub.services.call("persistent_notification", "dismiss", {"notification_id": SPOOL_NOTIFICATION})
    else:
        message = (
            f"The recorder cannot write its spool in {recorder.spool.folder} ({error}). New readings are held in "
            f"memory (at most {recorder.commits.memory_max_points} points) until the disk has room again; "
            "they are lost if the hub stops before. Free space on that disk."
        )
        data = {"notification_id": SPOOL_NOTIFICATION, "title": "History at risk: the disk is full", "message": message}
        call = hub.services.call("persistent_notification", "create", data)
    hub.create_task(_quietly(call), "recorder spool notification")


async def _quietly(call: Coroutine[Any, Any, Any]) -> None:
    try:
        await call
    except HubError as err:
        _LOGGER.warning("recorder: could not update the spool notification: %s", err)


@hookimpl
def register_history_backends(hub: Hub) -> dict[str, BackendFactory]:
    """Offer the built-in backends (they are also known without this hook)."""
    return dict(BUILTIN_BACKENDS)


@hookimpl
def check_readiness(hub: Hub) -> dict[str, str]:
    """Report whether the history backend is writing."""
    return status.readiness(get_recorder(hub))


@hookimpl
def collect_metrics(hub: Hub) -> list[Metric]:
    """Report the backlog, the points written and the backend's health."""
    return status.metrics(get_recorder(hub))


@hookimpl
def register_http_routes(hub: Hub, app: web.Application) -> None:
    """Serve /api/history/period, the CSV export and GET /api/v1/telemetry[/{device_id}]."""
    recorder = get_recorder(hub)
    if recorder is None:
        return
    for path, handler in api.http_routes(recorder):
        app.router.add_get(path, handler)
    telemetry_v1.add_routes(app, recorder)


@hookimpl
def register_websocket_commands(hub: Hub, register: Callable[..., Any]) -> None:
    """Answer history/history_during_period, history/stream, history/chart and recorder/statistics_during_period."""
    recorder = get_recorder(hub)
    if recorder is None:
        return
    for command, handler, schema in api.websocket_commands(recorder):
        register(command, handler, schema)
    register("history/stream", stream.stream_handler(recorder), api.HISTORY_SCHEMA)
    register("history/chart", chart.chart_handler(recorder), chart.CHART_SCHEMA)
