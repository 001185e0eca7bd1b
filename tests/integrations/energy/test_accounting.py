"""Live accounting: cost sensors, utility meters and budgets equal hand-computed values."""

from __future__ import annotations

import pytest

from hub.core.hub import Hub
from tests.integrations.energy.conftest import METER, events, read, ts, value

TOU = {"grid": {"price": 0.20, "schedule": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "07:00",
                                             "to": "22:00", "price": 0.30}]}}


async def test_cost_sensor_prices_each_reading_interval_at_tou_boundaries(hub: Hub, setup_energy) -> None:
    await read(hub, ts(2024, 5, 6, 6, 0), 100.0)  # Monday; before setup, so the meter is found in the states
    await setup_energy({"tariffs": TOU})
    await read(hub, ts(2024, 5, 6, 6, 30), 100.0)  # the first reading the integration sees: nothing counted
    await read(hub, ts(2024, 5, 6, 7, 30), 101.0)  # 1 kWh: half off-peak, half peak
    assert value(hub, "sensor.kitchen_energy_cost") == pytest.approx(0.25)
    await read(hub, ts(2024, 5, 6, 8, 30), 103.0)  # 2 kWh at peak
    assert value(hub, "sensor.kitchen_energy_cost") == pytest.approx(0.25 + 0.60)
    cost = hub.states.get("sensor.kitchen_energy_cost")
    assert cost.attributes["unit_of_measurement"] == "EUR"  # type: ignore[union-attr]
    assert cost.attributes["device_class"] == "monetary"  # type: ignore[union-attr]
    assert cost.attributes["energy_kwh"] == pytest.approx(3.0)  # type: ignore[union-attr]

    # The meter resets (a PZEM energy reset): 103 -> 0.5 counts 0.5 kWh, not -102.5.
    await read(hub, ts(2024, 5, 6, 9, 30), 0.5)
    assert value(hub, "sensor.kitchen_energy_cost") == pytest.approx(0.85 + 0.5 * 0.30)
    # Unavailable readings are skipped; the next valid one counts from the last valid one.
    await read(hub, ts(2024, 5, 6, 10, 0), "unavailable")
    await read(hub, ts(2024, 5, 6, 10, 30), 1.5)
    assert value(hub, "sensor.kitchen_energy_cost") == pytest.approx(1.0 + 1.0 * 0.30)
    assert value(hub, "sensor.energy_total_cost") == pytest.approx(1.30)


async def test_total_cost_sums_meters_in_wh_and_kwh_with_their_own_tariffs(hub: Hub, setup_energy) -> None:
    await setup_energy({
        "tariffs": {"grid": 0.30, "heat": 0.20},
        "meters": ["sensor.kitchen_energy", {"entity_id": "sensor.heat_pump_energy", "tariff": "heat"}],
    })
    wh = {**METER, "unit_of_measurement": "Wh", "friendly_name": "Heat pump"}
    await read(hub, ts(2024, 5, 6, 1), 10.0)
    await read(hub, ts(2024, 5, 6, 1), 5000, "sensor.heat_pump_energy", wh)
    await read(hub, ts(2024, 5, 6, 2), 12.0)  # 2 kWh * 0.30
    await read(hub, ts(2024, 5, 6, 2), 9000, "sensor.heat_pump_energy", wh)  # 4 kWh * 0.20
    await read(hub, ts(2024, 5, 6, 2), 50, "sensor.other_energy")  # not a configured meter
    assert value(hub, "sensor.kitchen_energy_cost") == pytest.approx(0.60)
    assert value(hub, "sensor.heat_pump_energy_cost") == pytest.approx(0.80)
    assert value(hub, "sensor.energy_total_cost") == pytest.approx(1.40)
    assert hub.states.get("sensor.other_energy_cost") is None


async def test_utility_meter_daily_cycle_resets_at_local_midnight_across_dst(hub: Hub, setup_energy) -> None:
    await hub.clock.set_time(ts(2024, 3, 30, 12))
    await setup_energy({"utility_meters": {"kitchen_daily": {"source": "sensor.kitchen_energy", "cycle": "daily"},
                                           "kitchen_monthly": {"source": "sensor.kitchen_energy", "cycle": "monthly"}}})
    await read(hub, ts(2024, 3, 30, 12), 50.0)
    await read(hub, ts(2024, 3, 30, 20), 53.0)
    assert value(hub, "sensor.kitchen_daily") == pytest.approx(3.0)
    # Midnight of the 23-hour day 31 March: the timer resets the cycle with no reading needed.
    await hub.clock.set_time(ts(2024, 3, 31, 0, 0))
    daily = hub.states.get("sensor.kitchen_daily")
    assert daily.state == "0.0"  # type: ignore[union-attr]
    assert daily.attributes["last_period"] == pytest.approx(3.0)  # type: ignore[union-attr]
    assert daily.attributes["last_reset"] == "2024-03-30T23:00:00+00:00"  # type: ignore[union-attr]
    assert daily.attributes["next_reset"] == "2024-03-31T22:00:00+00:00"  # type: ignore[union-attr]  # 23 h later
    await read(hub, ts(2024, 3, 31, 10), 55.0)
    await read(hub, ts(2024, 3, 31, 11), 1.0)  # meter reset: 1 kWh since, not -54
    assert value(hub, "sensor.kitchen_daily") == pytest.approx(3.0)
    await hub.clock.set_time(ts(2024, 4, 1, 0, 0))
    assert value(hub, "sensor.kitchen_daily") == 0.0
    assert value(hub, "sensor.kitchen_monthly") == 0.0  # the month turned too
    assert hub.states.get("sensor.kitchen_monthly").attributes["last_period"] == pytest.approx(6.0)  # type: ignore[union-attr]


async def test_budget_events_at_50_80_100_percent_once_per_period(hub: Hub, setup_energy) -> None:
    await setup_energy({"tariffs": {"grid": 0.50},
                        "budgets": [{"name": "house_day", "period": "day", "kwh": 10},
                                    {"name": "house_month", "period": "month", "cost": 20}]})
    fired = events(hub, "energy_budget_threshold")
    await read(hub, ts(2024, 5, 6, 8), 0.0)
    await read(hub, ts(2024, 5, 6, 9), 4.0)
    assert fired == []
    await read(hub, ts(2024, 5, 6, 10), 5.5)  # 5.5 kWh of 10: 50 %
    await read(hub, ts(2024, 5, 6, 11), 10.2)  # 10.2 kWh: 80 % and 100 % at once
    await read(hub, ts(2024, 5, 6, 12), 12.0)  # nothing new today
    day = [(e["threshold"], e["used"]) for e in fired if e["budget"] == "house_day"]
    assert day == [(50, 5.5), (80, 10.2), (100, 10.2)]
    assert fired[0]["period_start"] == ts(2024, 5, 6) and fired[0]["period_end"] == ts(2024, 5, 7)
    assert value(hub, "sensor.house_day_budget") == pytest.approx(120.0)
    # Monthly cost: 12 kWh * 0.50 = 6 EUR of 20 (30 %): no event yet.
    assert [e for e in fired if e["budget"] == "house_month"] == []
    # The next day starts from zero and may fire again.
    await hub.clock.set_time(ts(2024, 5, 7))
    assert value(hub, "sensor.house_day_budget") == 0.0
    await read(hub, ts(2024, 5, 7, 9), 18.0)  # 6 kWh today; the month reaches 18 kWh = 9 EUR
    await read(hub, ts(2024, 5, 7, 10), 22.0)  # 10 kWh today; month 22 kWh = 11 EUR (55 %)
    new = fired[3:]
    assert [(e["budget"], e["threshold"]) for e in new] == [("house_day", 50), ("house_day", 80), ("house_day", 100),
                                                           ("house_month", 50)]
    assert new[-1]["used"] == pytest.approx(11.0) and new[-1]["unit"] == "EUR"


async def test_return_counter_and_negative_power_are_credited_and_the_total_is_net(hub: Hub, setup_energy) -> None:
    power = {"device_class": "power", "state_class": "measurement", "unit_of_measurement": "W", "friendly_name": "Solar circuit"}
    export = {**METER, "friendly_name": "Grid export"}
    # The meters' first readings come before setup: counting starts from them, and the cost sensors exist.
    await read(hub, ts(2024, 6, 3, 10), 10.0)
    await read(hub, ts(2024, 6, 3, 10), 40.0, "sensor.grid_export", export)
    await read(hub, ts(2024, 6, 3, 10), -1200, "sensor.solar_circuit_power", power)
    await setup_energy({
        "tariffs": {"grid": 0.30, "feed_in": 0.08},
        "meters": ["sensor.kitchen_energy",
                   {"entity_id": "sensor.grid_export", "flow": "return", "tariff": "feed_in"},
                   {"entity_id": "sensor.solar_circuit_power", "return_tariff": "feed_in"}],
    })
    await read(hub, ts(2024, 6, 3, 11), 12.0)  # 2 kWh used: 0.60
    await read(hub, ts(2024, 6, 3, 11), 43.0, "sensor.grid_export", export)  # 3 kWh returned: earns 0.24
    await read(hub, ts(2024, 6, 3, 11), 600, "sensor.solar_circuit_power", power)  # 1.2 kWh returned over the hour: 0.096
    await read(hub, ts(2024, 6, 3, 11, 30), 600, "sensor.solar_circuit_power", power)  # then 0.3 kWh drawn: 0.09
    assert value(hub, "sensor.grid_export_cost") == pytest.approx(-0.24)
    solar = hub.states.get("sensor.solar_circuit_power_cost")
    assert float(solar.state) == pytest.approx(0.09 - 0.096)
    assert solar.attributes["return_kwh"] == pytest.approx(1.2) and solar.attributes["energy_kwh"] == pytest.approx(0.3)
    total = hub.states.get("sensor.energy_total_cost")
    assert float(total.state) == pytest.approx(0.60 + 0.09 - 0.24 - 0.096)
    assert total.attributes["return_kwh"] == pytest.approx(4.2)
    # Until it goes away the last reading holds (0.3 kWh more); nothing is counted while it is away.
    await read(hub, ts(2024, 6, 3, 12), "unavailable", "sensor.solar_circuit_power", power)
    await read(hub, ts(2024, 6, 3, 14), 600, "sensor.solar_circuit_power", power)
    assert hub.states.get("sensor.solar_circuit_power_cost").attributes["energy_kwh"] == pytest.approx(0.3 + 0.3)


async def test_a_dip_counts_nothing_and_the_climb_back_is_not_counted_twice(hub: Hub, setup_energy) -> None:
    await read(hub, ts(2024, 6, 3, 10), 100.0)
    await setup_energy({"tariffs": {"grid": 0.5}})
    await read(hub, ts(2024, 6, 3, 10, 5), 99.9)  # a flaky reading
    await read(hub, ts(2024, 6, 3, 10, 10), 100.4)
    assert value(hub, "sensor.kitchen_energy_cost") == pytest.approx(0.4 * 0.5)
