"""The energy API sends the bill a utility would: a month computed by hand (see bill.py).

A TOU price change mid-month, a meter reset, a device replaced and removed, and return to the
grid, read over the WebSocket API and /api/v1; the same bill from raw points (before the
recorder's downsampler reached the month) and from its hour tier (after).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.recorder import get_recorder
from tests.api.conftest import PASSWORD, WsClient
from tests.hubs import write_config
from tests.integrations.energy import bill

pytestmark = pytest.mark.timeout(120)


def assert_bill(report: dict[str, Any], expected: dict[str, Any]) -> None:
    totals = report["totals"]
    for key in ("kwh", "cost", "return_kwh", "credit", "net_kwh", "net_cost"):
        assert totals[key] == pytest.approx(expected[key], abs=0.01), key
    bands = {band["name"]: (band["kwh"], band["cost"]) for band in report["bands"]}
    assert bands.keys() == expected["bands"].keys()
    for name, (kwh, cost) in expected["bands"].items():
        assert bands[name] == pytest.approx((kwh, cost), abs=0.01), name
    devices = {device["name"]: device["total"]["kwh"] for device in report["devices"]}
    assert devices == pytest.approx(expected["devices"], abs=0.01)
    inverter = next(d for d in report["devices"] if d["name"] == "Rooftop inverter")
    assert inverter["total"]["return_kwh"] == pytest.approx(expected["return_kwh"], abs=0.01)
    assert inverter["total"]["net_cost"] == pytest.approx(-expected["credit"], abs=0.01)
    # No bar is ever negative use or a double count: the replaced heater never bills its 5,000 kWh.
    for device in report["devices"]:
        assert min(device["kwh"]) >= 0 and min(device["return_kwh"]) >= 0
        assert max(device["kwh"]) <= 3 * 24 + 0.01


async def test_a_month_with_a_price_change_a_reset_a_replaced_device_and_export(tmp_path: Path, start_hub) -> None:
    month = bill.last_month(time.time())
    expected = month.expected()
    config = write_config(tmp_path / "config", bill.config(month), {"billdevices": bill.DEVICES})
    runtime = await start_hub(config)
    hub = runtime.hub
    hub.auth._rounds = 4
    user = await hub.auth.add_user("reader", PASSWORD, "read-only")
    token = await hub.auth.create_long_lived_token(user.id, "bill")
    await bill.load(hub, month)
    async with aiohttp.ClientSession() as session:
        ws = await WsClient.open(session, runtime.url)
        await ws.authenticate(token)

        # Before the downsampler reached the month: the report reads raw points.
        before = await ws.command("energy/report", view="month", date=month.label)
        assert before["source"]["raw_points"] > 0
        assert_bill(before, expected)
        assert before["start"].startswith(month.label) and before["next"] is not None
        assert len(before["bars"]) == month.days and before["bar"] == "day"
        # Day 15 is the first at the new prices: 72 kWh, 45 of them at peak.
        day15 = 14
        total_day15 = sum(d["cost"][day15] for d in before["devices"])
        assert total_day15 == pytest.approx(18.90, abs=0.01)
        assert sum(d["cost"][13] for d in before["devices"]) == pytest.approx(18.00, abs=0.01)

        # The old heater's node is replaced and removed: its use until then stays on the bill.
        await bill.replace_old_heater(hub)
        assert hub.states.get("sensor.heater_old_energy") is None
        await hub.services.call("recorder", "purge", {})  # downsample now: the month is in the hour tier
        after = await ws.command("energy/report", view="month", date=month.label)
        assert after["source"]["raw_points"] == 0 and after["source"]["hour_rows"] > 0
        assert_bill(after, expected)

        # The year view has the month as one bar with the same bill.
        year = await ws.command("energy/report", view="year", date=month.label)
        index = next(i for i, bar in enumerate(year["bars"]) if bar.startswith(month.label[:7]))
        assert sum(d["kwh"][index] for d in year["devices"]) == pytest.approx(expected["kwh"], abs=0.01)
        assert sum(d["cost"][index] for d in year["devices"]) == pytest.approx(expected["cost"], abs=0.01)

        # The next month compares itself with this one, up to the same point.
        following = await ws.command("energy/report", view="month", date=before["next"][:10])
        assert following["comparison"]["start"].startswith(month.label)
        if following["comparison"]["complete"]:
            assert following["comparison"]["net_cost"] == pytest.approx(expected["net_cost"], abs=0.01)
        # Its bars: this month's days, day by day, as far as the following month has days so far.
        compared = following["comparison"]["bars"]
        assert len(compared["kwh"]) == len(following["bars"])
        assert sum(compared["kwh"]) == pytest.approx(following["comparison"]["kwh"], abs=0.01)
        if time.gmtime().tm_mday > 1:  # the same point of the bill's month is past its first day
            assert compared["kwh"][0] == pytest.approx(72.0, abs=0.01) and compared["cost"][0] == pytest.approx(18.00, abs=0.01)

        # One device's own report: the kitchen alone, the reset counted as new use.
        kitchen = next(d for d in after["devices"] if d["name"] == "Kitchen node")
        own = await ws.command("energy/report", view="day", date=month.label[:8] + "10", device_id=kitchen["device_id"])
        assert [d["name"] for d in own["devices"]] == ["Kitchen node"]
        assert own["bar"] == "hour" and len(own["bars"]) == 24
        assert own["devices"][0]["kwh"] == pytest.approx([1.0] * 24, abs=0.001)
        assert own["totals"]["cost"] == pytest.approx(24 * 0.25, abs=0.01)

        error = await ws.error("energy/report", view="month", date="last tuesday")
        assert error["code"] == "invalid_format" and "2024-05-14" in error["message"]
        error = await ws.error("energy/report", view="fortnight")
        assert error["code"] == "invalid_format"

        # /api/v1 answers the same, to anybody with a token (read-only included).
        headers = {"Authorization": f"Bearer {token}"}
        async with session.get(f"{runtime.url}/api/v1/energy/report", params={"view": "month", "date": month.label},
                               headers=headers) as response:
            assert response.status == 200
            assert_bill(await response.json(), expected)
        async with session.get(f"{runtime.url}/api/v1/energy/report", params={"view": "month", "date": "soon"},
                               headers=headers) as response:
            assert response.status == 400
            assert "expected a date" in (await response.json())["message"]
        async with session.get(f"{runtime.url}/api/v1/energy/report") as response:
            assert response.status == 401
        await ws.ws.close()
    assert get_recorder(hub) is not None
