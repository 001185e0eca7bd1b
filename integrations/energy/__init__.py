"""Energy: what electricity costs, per meter and in total, against budgets, as a bill reads.

Tariffs (flat or time-of-use, each with validity dates), cost sensors per meter
(`sensor.<meter>_cost`) and in total (`sensor.energy_total_cost`) in the hub's currency,
return to the grid (export counters and negative power) credited at its own tariff, utility
meters with daily/weekly/monthly/yearly cycles, and day/month budgets firing
`energy_budget_threshold` at 50, 80 and 100 %, with a projection of the period's end. The web
UI asks `energy/report` for a day, week, month or year in bars per device, `energy/budgets`
for the budgets (api.py, docs/energy.md).
Configuration: config.py. Live accounting: accounting.py; history: usage.py, report.py, projection.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hub import hookimpl
from hub.api.openapi import describe
from hub.core.bus import callback
from hub.core.runtime import HubKey
from hub.exceptions import HubError
from integrations.energy.accounting import EnergyManager
from integrations.energy.budget import EVENT_BUDGET_THRESHOLD, Budget
from integrations.energy.config import CONFIG_SCHEMA
from integrations.energy.store import EnergyStore
from integrations.energy.tariff import Rule, Tariff, TariffPeriod

if TYPE_CHECKING:
    from datetime import tzinfo

    from aiohttp import web

    from hub.core.hub import Hub

__all__ = ["CONFIG_SCHEMA", "EVENT_BUDGET_THRESHOLD", "EnergyManager", "build_tariff", "manager_of"]

_LOGGER = logging.getLogger(__name__)
ENERGY: HubKey[EnergyManager] = HubKey("energy")
# Budgets look at history this often, to count use that reached history another way (a backfill).
CATCH_UP_EVERY = 300.0
# And this long after a node's offline buffer was written to history (telemetry_backfill's event,
# one per batch: the wait lets a node's batches settle into one look).
EVENT_TELEMETRY_BACKFILLED = "telemetry_backfilled"
CATCH_UP_AFTER_BACKFILL = 2.0


def manager_of(hub: Hub) -> EnergyManager | None:
    """Return the hub's energy manager, or None when the integration is not set up."""
    return hub.runtime.get(ENERGY)


def build_tariff(name: str, periods: list[dict[str, Any]], zone: tzinfo) -> Tariff:
    """Build a Tariff from its validated configuration."""
    return Tariff(
        name,
        [
            TariffPeriod(
                p["valid_from"], p.get("valid_to"), p.get("price"),
                tuple(Rule(frozenset(r["days"]), r["from"], r["to"], r["price"], r.get("name"))
                      for r in p.get("schedule", [])),
            )
            for p in periods
        ],
        zone,
    )


def build_budgets(config: list[dict[str, Any]], currency: str) -> list[Budget]:
    """Build the budgets from their validated configuration."""
    return [
        Budget(
            b["name"], b["period"], b.get("kwh") or b["cost"], "kwh" if "kwh" in b else "cost",
            frozenset(b["meters"]) if b.get("meters") else None, "kWh" if "kwh" in b else currency,
            b.get("forecast"),
        )
        for b in config
    ]


@hookimpl
def config_entity_ids(hub: Hub, config: Any) -> list[str]:
    """Cost sensors per meter (found at run time), the total, utility meters and budgets."""
    config = CONFIG_SCHEMA(config) or CONFIG_SCHEMA({})
    return [
        "sensor.*_cost",
        *(f"sensor.{name}" for name in config["utility_meters"]),
        *(f"sensor.{budget['name']}_budget" for budget in config["budgets"]),
    ]


@hookimpl
async def setup_integration(hub: Hub, config: Any) -> None:
    """Build tariffs, utility meters and budgets, restore their totals and start counting."""
    config = CONFIG_SCHEMA(config) or CONFIG_SCHEMA({})
    clock = hub.clock
    try:
        tariffs = {name: build_tariff(name, periods, clock.time_zone) for name, periods in config["tariffs"].items()}
    except ValueError as err:
        raise HubError(f"energy: {err}") from err
    manager = EnergyManager(
        hub, clock, EnergyStore(hub), tariffs, config.get("meters"), config["utility_meters"],
        build_budgets(config["budgets"], hub.config.currency),
    )
    await manager.start()
    hub.runtime[ENERGY] = manager
    hub.on_stop(manager.stop)
    hub.create_task(_save_periodically(hub, manager), "energy periodic save")
    if manager.budgets:
        _catch_up_after_backfills(hub)


def _catch_up_after_backfills(hub: Hub) -> None:
    """Let the budgets catch up once a node's uploaded history is in (not minutes later)."""
    pending: list[Callable[[], None]] = []

    def run() -> None:
        pending.clear()
        hub.create_task(_catch_up_budgets(hub), "energy budgets catch up")

    @callback
    def backfilled(event: Any) -> None:
        if pending:
            pending.pop()()  # a later batch: wait for it to settle too
        pending.append(hub.clock.call_later(CATCH_UP_AFTER_BACKFILL, run))

    def stop() -> None:
        unlisten()
        while pending:
            pending.pop()()

    unlisten = hub.bus.listen(EVENT_TELEMETRY_BACKFILLED, backfilled)
    hub.on_stop(stop)


async def _save_periodically(hub: Hub, manager: EnergyManager, interval: float = 30.0) -> None:
    rounds = 0
    while True:
        # Real time, not the hub clock: this is about losing little on a crash, not about cycles.
        await asyncio.sleep(interval)
        rounds += 1
        if rounds * interval >= CATCH_UP_EVERY:
            rounds = 0
            await _catch_up_budgets(hub)
        await manager.store.save()


@hookimpl
def register_websocket_commands(hub: Hub, register: Callable[..., Any]) -> None:
    """Offer energy/report, energy/budgets, energy/info and energy/usage (see api.py)."""
    from integrations.energy import api

    api.register_commands(register)


@hookimpl
def register_http_routes(hub: Hub, app: web.Application) -> None:
    """Serve the energy API's /api/v1/energy/report, /budgets and /info."""
    from integrations.energy import api

    for path, handler in api.http_routes(hub):
        app.router.add_get(path, handler)
    describe(app, api.OPENAPI_PATHS, schemas=api.OPENAPI_SCHEMAS)


@hookimpl
async def hub_started(hub: Hub) -> None:
    """Let the budgets catch up with what history knows of their periods (use while the hub was down)."""
    await _catch_up_budgets(hub)


async def _catch_up_budgets(hub: Hub) -> None:
    from integrations.energy import api

    manager = manager_of(hub)
    if manager is None or not manager.budgets:
        return
    try:
        await api.energy_budgets(hub)
    except api.EnergyQueryError:
        pass  # no recorder: the live count is all there is
    except HubError as err:  # the history backend is away; the next round tries again
        _LOGGER.warning("energy: budgets could not read history: %s", err)
