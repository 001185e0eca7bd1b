"""Tariffs price energy like the bill does: TOU boundaries, validity dates, DST days, meter resets."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
import voluptuous as vol

from integrations.energy import CONFIG_SCHEMA, build_tariff
from integrations.energy.cycles import counter_step, cycle_start, next_cycle_start, usage_delta
from integrations.energy.tariff import Tariff

BERLIN = ZoneInfo("Europe/Berlin")


def ts(*args: int) -> float:
    """Return the Unix time of a Berlin wall time."""
    return datetime(*args, tzinfo=BERLIN).timestamp()  # type: ignore[misc]


def tariff(periods: object) -> Tariff:
    return build_tariff("grid", CONFIG_SCHEMA({"tariffs": {"grid": periods}})["tariffs"]["grid"], BERLIN)


DAY_NIGHT = {"price": 0.20, "schedule": [{"from": "06:00", "to": "22:00", "price": 0.30}]}
WORKDAY_PEAK = {"price": 0.20, "schedule": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "07:00",
                                             "to": "22:00", "price": 0.30}]}


def test_flat_price() -> None:
    assert tariff(0.30).cost(2.0, ts(2024, 5, 6, 10), ts(2024, 5, 6, 11)) == pytest.approx(0.60)


def test_tou_boundary_inside_an_hour_splits_it_by_time() -> None:
    # Monday 06:30-07:30: 1 kWh, half before the 07:00 change at 0.20, half after at 0.30.
    grid = tariff(WORKDAY_PEAK)
    assert grid.cost(1.0, ts(2024, 5, 6, 6, 30), ts(2024, 5, 6, 7, 30)) == pytest.approx(0.5 * 0.20 + 0.5 * 0.30)
    # 06:45-07:05: 15 of 20 minutes off-peak.
    assert grid.cost(2.0, ts(2024, 5, 6, 6, 45), ts(2024, 5, 6, 7, 5)) == pytest.approx(2 * (15 / 20 * 0.20 + 5 / 20 * 0.30))
    # Saturday has no peak.
    assert grid.cost(1.0, ts(2024, 5, 4, 6, 30), ts(2024, 5, 4, 7, 30)) == pytest.approx(0.20)
    assert grid.price_at(ts(2024, 5, 6, 21, 59)) == 0.30
    assert grid.price_at(ts(2024, 5, 6, 22, 0)) == 0.20


def test_price_change_with_validity_dates_never_reprices_past_use() -> None:
    grid = tariff([{"price": 0.30, "valid_to": "2024-06-30"}, {"valid_from": "2024-07-01", "price": 0.40}])
    assert grid.cost(3.0, ts(2024, 6, 15, 12), ts(2024, 6, 15, 13)) == pytest.approx(0.90)  # June: old price
    assert grid.cost(3.0, ts(2024, 7, 15, 12), ts(2024, 7, 15, 13)) == pytest.approx(1.20)
    # 2 kWh from 23:00 on 30 June to 01:00 on 1 July (local): one hour at each price.
    assert grid.cost(2.0, ts(2024, 6, 30, 23), ts(2024, 7, 1, 1)) == pytest.approx(0.30 + 0.40)


def test_a_gap_between_periods_costs_nothing_and_overlaps_are_refused() -> None:
    grid = tariff([{"price": 0.30, "valid_to": "2024-06-30"}, {"valid_from": "2024-07-02", "price": 0.40}])
    assert grid.price_at(ts(2024, 7, 1, 12)) is None
    assert grid.cost(2.0, ts(2024, 7, 1, 0), ts(2024, 7, 3, 0)) == pytest.approx(1.0 * 0.40)  # only 2 July is priced
    with pytest.raises(ValueError, match="overlaps"):
        tariff([{"price": 0.30, "valid_to": "2024-07-05"}, {"valid_from": "2024-07-01", "price": 0.40}])


def test_dst_spring_forward_day_has_23_hours() -> None:
    # 31 March 2024 in Berlin: 02:00 CET jumps to 03:00 CEST. 23 kWh used evenly over the local day:
    # night (00-06, 22-24) is 5 + 2 = 7 real hours, day (06-22) 16 hours.
    grid = tariff(DAY_NIGHT)
    start, end = ts(2024, 3, 31), ts(2024, 4, 1)
    assert end - start == 23 * 3600
    assert grid.cost(23.0, start, end) == pytest.approx(7 * 0.20 + 16 * 0.30)
    segments = grid.segments(start, end)
    assert [(round((b - a) / 3600), p, band) for a, b, p, band in segments] == [
        (5, 0.20, "off-peak"), (16, 0.30, "peak"), (2, 0.20, "off-peak")]


def test_dst_fall_back_day_has_25_hours() -> None:
    # 27 October 2024: 03:00 CEST falls back to 02:00 CET. Night is 7 + 2 = 9 real hours.
    grid = tariff(DAY_NIGHT)
    start, end = ts(2024, 10, 27), ts(2024, 10, 28)
    assert end - start == 25 * 3600
    assert grid.cost(25.0, start, end) == pytest.approx(9 * 0.20 + 16 * 0.30)


def test_rule_wrapping_midnight() -> None:
    grid = tariff({"price": 0.30, "schedule": [{"from": "22:00", "to": "06:00", "price": 0.15}]})
    assert grid.price_at(ts(2024, 5, 6, 23)) == 0.15
    assert grid.price_at(ts(2024, 5, 6, 5, 59)) == 0.15
    assert grid.price_at(ts(2024, 5, 6, 6)) == 0.30
    assert grid.cost(8.0, ts(2024, 5, 6, 20), ts(2024, 5, 7, 4)) == pytest.approx(2 * 0.30 + 6 * 0.15)


def test_counter_drop_is_a_meter_reset_not_negative_use() -> None:
    assert usage_delta(None, 1234.5) == 0.0  # a meter first seen does not count its whole history
    assert usage_delta(100.0, 100.75) == pytest.approx(0.75)
    assert usage_delta(100.75, 0.25) == 0.25  # reset, then 0.25 kWh since


def test_a_small_dip_is_not_a_reset_and_the_climb_back_is_not_counted_twice() -> None:
    # Home Assistant's rule: only a fall below 90 % of the last high is a new meter cycle.
    used, base = counter_step(100.0, 99.5)
    assert (used, base) == (0.0, 100.0)  # a flaky reading: nothing counted, the high stays
    used, base = counter_step(base, 100.25)
    assert used == pytest.approx(0.25) and base == 100.25  # not 0.75
    assert counter_step(100.0, 89.0) == (89.0, 89.0)  # a meter replaced by one already at 89 kWh
    assert counter_step(100.0, 0.3) == (pytest.approx(0.3), 0.3)


def test_time_of_use_bands_are_named_by_price_or_by_the_rule() -> None:
    grid = tariff(WORKDAY_PEAK)
    assert grid.bands() == ["peak", "off-peak"]
    split = grid.split(2.0, ts(2024, 5, 6, 6, 30), ts(2024, 5, 6, 7, 30))
    assert split == [("off-peak", pytest.approx(1.0), pytest.approx(0.20)), ("peak", pytest.approx(1.0), pytest.approx(0.30))]
    named = tariff({"price": 0.30, "schedule": [{"from": "22:00", "to": "06:00", "price": 0.12, "name": "night"}]})
    assert named.bands() == ["peak", "night"]  # the day price is dearer than the night rule: peak
    assert tariff(0.3).bands() == ["standard"]
    hours = grid.hours(ts(2024, 5, 6, 6), ts(2024, 5, 6, 9))
    assert hours[ts(2024, 5, 6, 6)] == (("off-peak", 1.0, 0.20),)
    assert hours[ts(2024, 5, 6, 8)] == (("peak", 1.0, 0.30),)


def test_cycles_follow_the_local_calendar_across_dst() -> None:
    noon = ts(2024, 3, 31, 12)
    assert cycle_start(noon, "daily", BERLIN) == ts(2024, 3, 31)
    assert next_cycle_start(noon, "daily", BERLIN) - cycle_start(noon, "daily", BERLIN) == 23 * 3600
    assert cycle_start(noon, "weekly", BERLIN) == ts(2024, 3, 25)  # Monday
    assert next_cycle_start(noon, "monthly", BERLIN) == ts(2024, 4, 1)
    assert next_cycle_start(ts(2024, 12, 31, 23, 59), "yearly", BERLIN) == ts(2025, 1, 1)
    assert next_cycle_start(ts(2024, 10, 27, 2, 30), "daily", BERLIN) == ts(2024, 10, 28)


@pytest.mark.parametrize(
    ("energy", "error"),
    [
        ({"tariffs": {"grid": {"schedule": [{"from": "7am", "to": "22:00", "price": 1}]}}}, "expected a time"),
        ({"tariffs": {"grid": {"schedule": [{"days": ["funday"], "from": "07:00", "to": "22:00", "price": 1}]}}},
         "expected weekdays"),
        ({"tariffs": {"grid": {"valid_from": "2024-13-01", "price": 1}}}, "expected a date"),
        ({"tariffs": {"grid": {}}}, "needs price, schedule"),
        ({"meters": [{"entity_id": "sensor.a", "tariff": "nope"}]}, "unknown tariff 'nope'"),
        ({"meters": [{"entity_id": "sensor.a", "return_tariff": "nope"}]}, "unknown tariff 'nope'"),
        ({"meters": [{"entity_id": "sensor.a", "flow": "export"}]}, "value must be one of"),
        ({"budgets": [{"name": "b", "period": "day", "kwh": 1, "forecast": "not an entity"}]}, "expected an entity_id"),
        ({"budgets": [{"name": "b", "period": "day"}]}, "needs kwh or cost"),
        ({"utility_meters": {"m": {"source": "sensor.a", "cycle": "hourly"}}}, "value must be one of"),
    ],
)
def test_config_errors_name_the_problem(energy: dict[str, object], error: str) -> None:
    with pytest.raises(vol.Invalid, match=error):
        CONFIG_SCHEMA(energy)


def test_yaml_sexagesimal_time_is_read_as_hours_and_minutes() -> None:
    # Unquoted 07:00 in YAML 1.1 arrives as the integer 420.
    rule = CONFIG_SCHEMA({"tariffs": {"g": {"price": 1, "schedule": [{"from": 420, "to": "24:00", "price": 2}]}}})
    assert rule["tariffs"]["g"][0]["schedule"][0]["from"] == time(7, 0)
    assert rule["tariffs"]["g"][0]["valid_from"] == date(1970, 1, 1)


def test_hour_prices_are_the_same_however_the_spans_were_asked_for() -> None:
    """The hour table grows and restarts with the spans queries ask for; it never answers stale prices."""
    periods = [{"price": 0.25, "valid_to": "2024-03-14"},
               {"valid_from": "2024-03-15", **DAY_NIGHT}]
    asked = tariff(periods)
    spans = [(ts(2024, 3, 10), ts(2024, 3, 12)),     # the first span
             (ts(2024, 3, 11, 5), ts(2024, 3, 20)),  # overlaps it and reaches past the price change
             (ts(2024, 3, 1), ts(2024, 3, 11)),      # reaches back before it
             (ts(2026, 1, 1), ts(2026, 1, 2)),       # far away: the table starts again
             (ts(2024, 3, 29), ts(2024, 4, 2))]      # back, across the spring DST change
    for first, end in spans:
        fresh = tariff(periods).hours(first, end)
        found = asked.hours(first, end)
        hour = first
        while hour < end:
            assert found[hour] == fresh[hour], datetime.fromtimestamp(hour, BERLIN)
            hour += 3600
    hours = asked.hours(ts(2024, 3, 14, 12), ts(2024, 3, 15, 12))
    assert hours[ts(2024, 3, 14, 12)] == (("standard", 1.0, 0.25),)
    assert hours[ts(2024, 3, 15, 8)] == (("peak", 1.0, 0.30),) and hours[ts(2024, 3, 15, 3)] == (("off-peak", 1.0, 0.20),)
    # Hours priced alike are one tuple, which usage queries sum by.
    assert hours[ts(2024, 3, 15, 8)] is hours[ts(2024, 3, 15, 9)]
