"""Energy: what electricity costs, per meter and in total, against budgets.

Tariffs (flat or time-of-use, each with validity dates), cost sensors per meter
(`sensor.<meter>_cost`) and in total (`sensor.energy_total_cost`) in the hub's currency,
utility meters with daily/weekly/monthly/yearly cycles, and day/month budgets firing
`energy_budget_threshold` at 50, 80 and 100 %. The web UI asks `energy/usage` for kWh and cost
per device or entity and period, and `energy/info` for meters, prices and budgets.
Configuration: see config.py. Accounting: accounting.py; history queries: usage.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub import hookimpl
from hub.core.runtime import HubKey
from hub.exceptions import HubError
from hub.recorder.api import parse_time
from integrations.energy import usage as usage_query
from integrations.energy.accounting import EnergyManager, Source, is_energy_meter
from integrations.energy.budget import EVENT_BUDGET_THRESHOLD, Budget
from integrations.energy.config import CONFIG_SCHEMA
from integrations.energy.cycles import cycle_start, kwh_factor
from integrations.energy.store import EnergyStore
from integrations.energy.tariff import Rule, Tariff, TariffPeriod

if TYPE_CHECKING:
    from datetime import tzinfo

    from hub.core.hub import Hub

__all__ = ["CONFIG_SCHEMA", "EVENT_BUDGET_THRESHOLD", "EnergyManager", "build_tariff", "manager_of"]

ENERGY: HubKey[EnergyManager] = HubKey("energy")


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
                tuple(Rule(frozenset(r["days"]), r["from"], r["to"], r["price"]) for r in p.get("schedule", [])),
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
        )
        for b in config
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
    hub.create_task(_save_periodically(manager), "energy periodic save")


async def _save_periodically(manager: EnergyManager, interval: float = 30.0) -> None:
    import asyncio

    while True:
        # Real time, not the hub clock: this is about losing little on a crash, not about cycles.
        await asyncio.sleep(interval)
        await manager.store.save()


def meter_specs(hub: Hub, manager: EnergyManager, wanted: list[str] | None) -> dict[str, usage_query.MeterSpec]:
    """Return the meters a usage query covers, with their units and tariffs."""
    specs: dict[str, usage_query.MeterSpec] = {}
    # None for an entity the manager classified and does not count.
    candidates: dict[str, Source | None] = {s.entity_id: s for s in manager.sources.values() if s.is_meter}
    if manager.auto:
        for state in hub.states.all():
            if is_energy_meter(state) and state.entity_id not in candidates:
                candidates[state.entity_id] = manager._classify(state.entity_id, state)
    for entity_id in manager.meter_config:
        if entity_id not in candidates:
            candidates[entity_id] = manager._classify(entity_id, hub.states.get(entity_id))
    for entity_id, source in candidates.items():
        if source is None or (wanted is not None and entity_id not in wanted):
            continue
        meter_state = hub.states.get(entity_id)
        factor = kwh_factor(meter_state.attributes.get("unit_of_measurement") if meter_state else "kWh")
        if factor is not None:
            specs[entity_id] = usage_query.MeterSpec(factor, source.tariff)
    return specs


def _groups(hub: Hub, entity_ids: list[str], group_by: str) -> dict[str, tuple[str, str | None]]:
    out: dict[str, tuple[str, str | None]] = {}
    for entity_id in entity_ids:
        state = hub.states.get(entity_id)
        name = state.attributes.get("friendly_name") if state else None
        if group_by == "device":
            entity = hub.entities.get(entity_id)
            device_id = getattr(entity, "device_id", None)
            if device_id is None and hub.entity_registry is not None:
                entry = hub.entity_registry.get(entity_id)
                device_id = getattr(entry, "device_id", None)
            if device_id is not None:
                device = hub.device_registry.get(device_id) if hub.device_registry is not None else None
                label = (device.name_by_user or device.name) if device is not None else None
                out[entity_id] = (device_id, label or name)
                continue
        out[entity_id] = (entity_id, name)
    return out


USAGE_SCHEMA: dict[Any, Any] = {
    vol.Required("start"): str,
    vol.Optional("end"): str,
    vol.Optional("group_by", default="device"): vol.In(("device", "entity")),
    vol.Optional("period", default="day"): vol.In(tuple(usage_query.PERIODS)),
    vol.Optional("entity_ids"): [str],
}


async def ws_usage(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
    """Answer energy/usage: kWh and cost per device or entity and period between start and end."""
    from hub.recorder import get_recorder

    manager = manager_of(hub)
    recorder = get_recorder(hub)
    if manager is None or recorder is None:
        connection.send_error(msg["id"], "not_found", "energy/usage needs the energy and recorder integrations")
        return
    start = parse_time(msg["start"])
    end = parse_time(msg["end"]) if msg.get("end") else hub.clock.time()
    if start is None:
        connection.send_error(msg["id"], "invalid_format", "Invalid start: expected an ISO 8601 time")
        return
    if end is None or end <= start:
        connection.send_error(msg["id"], "invalid_format", "Invalid end: expected an ISO 8601 time after start")
        return
    specs = meter_specs(hub, manager, msg.get("entity_ids"))
    await recorder.flush_pending()
    begun = time.perf_counter()
    found = await usage_query.usage(recorder.backend, specs, start, end, msg["period"], manager.zone)
    groups, total = usage_query.grouped(found, _groups(hub, list(specs), msg["group_by"]), manager.zone)
    connection.send_result(msg["id"], {
        "currency": manager.currency,
        "period": msg["period"],
        "group_by": msg["group_by"],
        "start": datetime.fromtimestamp(start, manager.zone).isoformat(),
        "end": datetime.fromtimestamp(end, manager.zone).isoformat(),
        "groups": groups,
        "total": total,
        "source": {"hour_rows": found.hour_rows, "raw_points": found.raw_points,
                   "raw_from": datetime.fromtimestamp(found.raw_from, manager.zone).isoformat() if found.raw_from else None,
                   "ms": round((time.perf_counter() - begun) * 1000, 2)},
    })


async def ws_info(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
    """Answer energy/info: meters, current prices, utility meters, budgets, and today's and this month's start."""
    manager = manager_of(hub)
    if manager is None:
        connection.send_error(msg["id"], "not_found", "The energy integration is not set up")
        return
    now = manager.clock.time()
    info = manager.info()
    info["today_start"] = datetime.fromtimestamp(cycle_start(now, "daily", manager.zone), manager.zone).isoformat()
    info["month_start"] = datetime.fromtimestamp(cycle_start(now, "monthly", manager.zone), manager.zone).isoformat()
    connection.send_result(msg["id"], info)


@hookimpl
def register_websocket_commands(hub: Hub, register: Callable[..., Any]) -> None:
    """Offer energy/usage and energy/info to the web UI."""
    register("energy/usage", ws_usage, USAGE_SCHEMA)
    register("energy/info", ws_info, {})
