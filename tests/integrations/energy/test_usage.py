"""energy/usage: kWh and cost per period from the recorder's hour tier, raw points for the rest."""

from __future__ import annotations

import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from hub.recorder import get_recorder
from hub.recorder.backends.base import Batch, Point, TierRow
from hub.recorder.backends.sqlite import SQLiteBackend
from integrations.energy import CONFIG_SCHEMA, build_tariff, report
from integrations.energy.catalog import Meter
from integrations.energy.usage import MeterSpec, grouped, usage
from tests.api.conftest import PASSWORD, WsClient
from tests.hubs import write_config
from tests.integrations.energy.conftest import BERLIN, ts

KITCHEN = "sensor.kitchen_energy"
# Until Sunday 5 May a flat 0.25; from Monday 6 May 0.20, and 0.30 from 07:30 to 22:00.
GRID = {"grid": [{"price": 0.25, "valid_to": "2024-05-05"},
                 {"valid_from": "2024-05-06", "price": 0.20, "schedule": [{"from": "07:30", "to": "22:00", "price": 0.30}]}]}


def hour(entity_id: str, start: float, delta: float, last: float) -> TierRow:
    return TierRow(entity_id, start, last, last - delta, last, last, delta, 4)


@pytest.fixture
async def backend(tmp_path: Path) -> AsyncIterator[SQLiteBackend]:
    store = SQLiteBackend(tmp_path / "history.db")
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def test_hour_rows_then_raw_points_priced_by_hand(backend: SQLiteBackend) -> None:
    tariff = build_tariff("grid", CONFIG_SCHEMA({"tariffs": GRID})["tariffs"]["grid"], BERLIN)
    await backend.write_tier("hour", [
        hour(KITCHEN, ts(2024, 5, 5, 23), 4.0, 6.0),   # Sunday 23-24: old flat price, 4 * 0.25 = 1.00
        hour(KITCHEN, ts(2024, 5, 6, 6), 1.0, 7.0),    # 06-07: off-peak, 0.20
        hour(KITCHEN, ts(2024, 5, 6, 7), 2.0, 9.0),    # 07-08: the 07:30 change splits it: 1 * 0.20 + 1 * 0.30 = 0.50
    ])
    # The hour tier ends at 08:00; after it only raw points exist (the current hour).
    await backend.write(Batch([
        Point(KITCHEN, ts(2024, 5, 6, 7, 50), 10.0, None),
        Point(KITCHEN, ts(2024, 5, 6, 8, 30), 11.0, None),  # 1 kWh over 07:50-08:30, all peak: 0.30
        Point(KITCHEN, ts(2024, 5, 6, 9, 0), 0.5, None),    # a meter reset: 0.5 kWh, peak: 0.15
    ]))
    found = await usage(backend, {KITCHEN: MeterSpec(1.0, tariff)}, ts(2024, 5, 5), ts(2024, 5, 6, 9, 30), "day", BERLIN)
    assert (found.hour_rows, found.raw_points, found.raw_from) == (3, 2, ts(2024, 5, 6, 8))
    days = found.by_entity[KITCHEN]
    assert days[ts(2024, 5, 5)] == pytest.approx([4.0, 1.00, 0, 0])
    assert days[ts(2024, 5, 6)] == pytest.approx([1.0 + 2.0 + 1.0 + 0.5, 0.20 + 0.50 + 0.30 + 0.15, 0, 0])

    months = await usage(backend, {KITCHEN: MeterSpec(1.0, tariff)}, ts(2024, 5, 1), ts(2024, 5, 6, 9, 30), "month", BERLIN)
    groups, total = grouped(months, {KITCHEN: ("device-1", "Kitchen node")}, BERLIN)
    assert total == pytest.approx({"kwh": 8.5, "cost": 2.15, "return_kwh": 0, "credit": 0})
    assert groups == [{"id": "device-1", "name": "Kitchen node", "entity_ids": [KITCHEN], "kwh": 8.5, "cost": 2.15,
                       "return_kwh": 0.0, "credit": 0.0,
                       "periods": [{"start": "2024-05-01T00:00:00+02:00", "kwh": 8.5, "cost": 2.15,
                                    "return_kwh": 0.0, "credit": 0.0}]}]


async def test_wh_meter_and_dst_day_grouping(backend: SQLiteBackend) -> None:
    flat = build_tariff("flat", CONFIG_SCHEMA({"tariffs": {"flat": 0.5}})["tariffs"]["flat"], BERLIN)
    # 27 October 2024 has 25 hours: 25 hour rows of 1,000 Wh all fall on that local day.
    start = ts(2024, 10, 27)
    await backend.write_tier("hour", [hour("sensor.heat_energy", start + i * 3600, 1000.0, 1000.0 * (i + 1)) for i in range(25)])
    found = await usage(backend, {"sensor.heat_energy": MeterSpec(0.001, flat)}, start, ts(2024, 10, 28), "day", BERLIN)
    assert found.by_entity["sensor.heat_energy"] == {start: pytest.approx([25.0, 12.5, 0, 0])}



async def test_the_day_view_of_a_dst_day_has_25_bars_and_the_week_prices_each_hour_on_its_date(backend: SQLiteBackend) -> None:
    """Fall back on 27 October 2024: two bars for 02:00; the week that holds it bills the price valid each day."""
    grid = build_tariff("grid", CONFIG_SCHEMA({"tariffs": {"grid": [
        {"price": 0.40, "valid_to": "2024-10-26"}, {"valid_from": "2024-10-27", "price": 0.30}]}})["tariffs"]["grid"], BERLIN)
    first = ts(2024, 10, 21)  # the Monday of that week
    rows = [hour("sensor.heat_energy", first + i * 3600, 1.0, 1.0 * (i + 1)) for i in range(7 * 24 + 1)]
    await backend.write_tier("hour", rows)
    meters = {"sensor.heat_energy": Meter("sensor.heat_energy", "Heat energy", "dev", "Heat pump", MeterSpec(1.0, grid))}
    day = await report.build(backend, meters, "day", ts(2024, 10, 27, 12), ts(2024, 11, 1), BERLIN)
    assert len(day["bars"]) == 25 and day["bars"][2] == "2024-10-27T02:00:00+02:00" and day["bars"][3] == "2024-10-27T02:00:00+01:00"
    assert day["devices"][0]["kwh"] == [1.0] * 25
    assert day["totals"]["cost"] == pytest.approx(25 * 0.30)
    assert day["comparison"]["complete"] and day["comparison"]["kwh"] == pytest.approx(24.0)
    # The day before, bar by bar at its own price: 24 hours (the 25th bar has no partner).
    assert day["comparison"]["bars"]["kwh"] == [1.0] * 24 + [0.0]
    assert day["comparison"]["bars"]["cost"] == pytest.approx([0.40] * 24 + [0.0])
    week = await report.build(backend, meters, "week", ts(2024, 10, 23), ts(2024, 11, 1), BERLIN)
    assert week["devices"][0]["kwh"] == [24.0] * 6 + [25.0]
    assert week["devices"][0]["cost"] == pytest.approx([24 * 0.40] * 6 + [25 * 0.30])
    assert week["totals"]["kwh"] == pytest.approx(169.0)


DEVICE = """
from hub import hookimpl
from hub.core.entity import SensorEntity


class Energy(SensorEntity):
    def __init__(self):
        self.name = "Kitchen energy"
        self.unique_id = "kitchen_energy"
        self.native_value = 100.0
        self.unit_of_measurement = "kWh"
        self.device_class = "energy"
        self.state_class = "total_increasing"
        self.device_info = {"identifiers": [["meters", "node-7"]], "name": "Kitchen node"}


@hookimpl
async def setup_integration(hub, config):
    await hub.entities.add(Energy(), "meters")
"""


async def test_usage_and_info_over_websocket(tmp_path: Path, start_hub) -> None:  # noqa: F811
    config = write_config(tmp_path / "config", textwrap.dedent("""
        homeassistant:
          time_zone: Europe/Berlin
          currency: EUR
        recorder:
          commit_interval: 0.05
        meters:
        energy:
          tariffs:
            grid: 0.30
          budgets:
            - {name: house_day, period: day, kwh: 10}
    """), {"meters": DEVICE})
    runtime = await start_hub(config)
    hub = runtime.hub
    hub.auth._rounds = 4
    user = await hub.auth.add_user("owner", PASSWORD, "owner")
    token = await hub.auth.create_long_lived_token(user.id, "test")
    attributes = dict(hub.states.get("sensor.kitchen_energy").attributes)
    for reading in ("100.5", "102.0", "103.5"):
        hub.states.set("sensor.kitchen_energy", reading, attributes)
    recorder = get_recorder(hub)
    await recorder.flush()
    stored = await recorder.backend.read_states(["sensor.kitchen_energy"], 0, time.time() + 60)
    assert [p.value for p in stored["sensor.kitchen_energy"]][-3:] == [100.5, 102.0, 103.5]
    async with aiohttp.ClientSession() as session:
        ws = await WsClient.open(session, runtime.url)
        await ws.authenticate(token)
        info = await ws.command("energy/info")
        assert info["currency"] == "EUR" and info["time_zone"] == "Europe/Berlin"
        assert info["meters"][0]["entity_id"] == "sensor.kitchen_energy"
        # Live counting started from the meter's first state (100 kWh).
        assert info["meters"][0]["kwh"] == pytest.approx(3.5)
        assert info["budgets"][0]["used"] == pytest.approx(3.5)
        result = await ws.command("energy/usage", start=info["today_start"], group_by="device", period="day")
        [group] = result["groups"]
        assert group["name"] == "Kitchen node" and group["entity_ids"] == ["sensor.kitchen_energy"]
        # History starts at 100.5 (the first state came before the recorder listened); no hour tier
        # yet, so raw points: 100.5 -> 102 -> 103.5 is 3 kWh, 0.90 EUR.
        assert (group["kwh"], group["cost"]) == pytest.approx((3.0, 0.90))
        assert result["source"]["raw_points"] == 2 and result["currency"] == "EUR"
        by_entity = await ws.command("energy/usage", start=info["today_start"], group_by="entity", period="hour")
        assert by_entity["groups"][0]["id"] == "sensor.kitchen_energy"
        error = await ws.error("energy/usage", start="yesterday")
        assert error["code"] == "invalid_format"
        await ws.ws.close()


async def test_totals_survive_a_restart_and_use_while_down_is_counted(tmp_path: Path, start_hub) -> None:  # noqa: F811
    from hub import bootstrap

    config = write_config(tmp_path / "config", textwrap.dedent("""
        meters:
        energy:
          tariffs: {grid: 0.5}
          utility_meters:
            kitchen_daily: {source: sensor.kitchen_energy, cycle: daily}
    """), {"meters": DEVICE.replace("self.native_value = 100.0", "self.native_value = None")})
    runtime = await start_hub(config)
    attributes = dict(runtime.hub.states.get("sensor.kitchen_energy").attributes)
    runtime.hub.states.set("sensor.kitchen_energy", "100.0", attributes)
    runtime.hub.states.set("sensor.kitchen_energy", "102.0", attributes)
    assert float(runtime.hub.states.get("sensor.kitchen_daily").state) == pytest.approx(2.0)
    await bootstrap.stop(runtime)

    # The node kept counting while the hub was down (its first state is unknown until it reports):
    # 104 against the restored baseline of 102 is 2 kWh more, 4 in total.
    again = await start_hub(config)
    hub = again.hub
    hub.states.set("sensor.kitchen_energy", "104.0", attributes)
    assert float(hub.states.get("sensor.kitchen_daily").state) == pytest.approx(4.0)
    assert float(hub.states.get("sensor.kitchen_energy_cost").state) == pytest.approx(2.0)
    assert float(hub.states.get("sensor.energy_total_cost").state) == pytest.approx(2.0)



async def test_negative_power_is_return_and_earns_its_own_tariff(backend: SQLiteBackend) -> None:
    grid = build_tariff("grid", CONFIG_SCHEMA({"tariffs": {"grid": 0.30}})["tariffs"]["grid"], BERLIN)
    feed_in = build_tariff("feed_in", CONFIG_SCHEMA({"tariffs": {"feed_in": 0.08}})["tariffs"]["feed_in"], BERLIN)
    solar = "sensor.solar_circuit_power"
    day = ts(2024, 6, 3)
    # Hour tier: 10-11 the circuit drew 400 W on average, 11-12 it gave 1,500 W back.
    await backend.write_tier("hour", [TierRow(solar, day + 10 * 3600, 400.0, 0, 0, 0, 0, 60),
                                      TierRow(solar, day + 11 * 3600, -1500.0, 0, 0, 0, 0, 60)])
    # After the tier: -2,000 W from 12:00 for 30 minutes, then 500 W until 13:00 (now).
    await backend.write(Batch([Point(solar, day + 12 * 3600, -2000.0, None), Point(solar, day + 12.5 * 3600, 500.0, None)]))
    spec = MeterSpec(0.001, grid, "consumption", "power", feed_in)
    found = await usage(backend, {solar: spec}, day, day + 86400, "hour", BERLIN, now=day + 13 * 3600)
    cells = found.by_entity[solar]
    assert cells[day + 10 * 3600] == pytest.approx([0.4, 0.12, 0, 0])
    assert cells[day + 11 * 3600] == pytest.approx([0, 0, 1.5, 0.12])
    # 12-13 from raw points: 1 kWh returned (earning 0.08), 0.25 kWh drawn (costing 0.075).
    assert cells[day + 12 * 3600] == pytest.approx([0.25, 0.075, 1.0, 0.08])
    assert found.totals() == pytest.approx([0.65, 0.195, 2.5, 0.2])


async def test_a_return_counter_earns_and_never_costs(backend: SQLiteBackend) -> None:
    feed_in = build_tariff("feed_in", CONFIG_SCHEMA({"tariffs": {"feed_in": 0.08}})["tariffs"]["feed_in"], BERLIN)
    export = "sensor.grid_export"
    day = ts(2024, 6, 3)
    await backend.write_tier("hour", [hour(export, day + 11 * 3600, 2.0, 52.0)])
    found = await usage(backend, {export: MeterSpec(1.0, feed_in, "return")}, day, day + 12 * 3600, "day", BERLIN)
    assert found.by_entity[export][day] == pytest.approx([0, 0, 2.0, 0.16])
    assert found.bands == {}
