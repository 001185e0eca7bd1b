"""The Energy page in a real browser shows the bill of a hand-computed month (tests/integrations/energy/bill.py).

Bars per day stacked by device, totals with return to the grid and net, the time-of-use bands,
navigation between periods, CSV of what is shown, budgets with their projection, a device's
own energy on its page, and live refresh. Screenshots at 1280 and 390 px.
"""

from __future__ import annotations

import csv
import io
import re
import time
from pathlib import Path

import pytest

from tests.frontend.conftest import login_with_token, screenshots
from tests.integrations.energy import bill

pytestmark = pytest.mark.timeout(180)
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
BUDGETS = """
  budgets:
    - {name: house_month, period: month, cost: 900}
    - {name: kitchen_day, period: day, kwh: 30, meters: [sensor.kitchen_energy]}
"""


async def bill_site(start_site):  # type: ignore[no-untyped-def]
    month = bill.last_month(time.time())
    site = await start_site(bill.config(month, core=False, extra=BUDGETS), integrations={"billdevices": bill.DEVICES})
    await bill.load(site.hub, month)
    return site, month


def figure(text: str) -> str:
    return " ".join(text.split())


async def test_the_month_reads_like_the_bill(start_site, page) -> None:
    site, month = await bill_site(start_site)
    expected = month.expected()
    await bill.replace_old_heater(site.hub)  # the replaced heater's use stays on the bill
    await login_with_token(page, site, f"/energy?view=month&date={month.label}")
    summary = page.get_by_test_id("energy-summary")
    await summary.wait_for()
    month_name = time.strftime("%B %Y", time.gmtime(month.start))
    await page.get_by_test_id("energy-period").filter(has_text=month_name).wait_for()

    used = figure(await page.get_by_test_id("energy-used").inner_text())
    assert used == f"Used {expected['kwh']:,.2f} kWh €{expected['cost']:,.2f}"
    returned = figure(await page.get_by_test_id("energy-returned").inner_text())
    assert returned == f"Returned to grid {expected['return_kwh']:,.2f} kWh earned €{expected['credit']:,.2f}"
    net = figure(await page.get_by_test_id("energy-net").inner_text())
    assert net == f"Net {expected['net_kwh']:,.2f} kWh €{expected['net_cost']:,.2f}"

    # Per device, priced by hand: 0.25 until day 14; then 0.30 for 15 peak hours and 0.20 for 9.
    late = month.days - 14
    total = expected["kwh"]

    def row(name: str, kwh: float, cost: float, returned: float = 0.0, credit: float = 0.0) -> str:
        return f"{name} {kwh:,.2f} kWh €{cost:,.2f} {returned:,.2f} kWh €{credit:,.2f} {round(100 * kwh / total)}%"

    rows = await page.get_by_test_id("energy-devices").locator("tbody tr").all_inner_texts()
    assert [figure(r) for r in rows] == [
        row("Heater (new node)", 48 * (month.days - 19), 12.60 * (month.days - 19)),
        row("Heater (old node)", 48 * 19, 14 * 12.00 + 5 * 12.60),
        row("Kitchen node", 24 * month.days, 14 * 6.00 + late * 6.30),
        row("Rooftop inverter", 0, 0, expected["return_kwh"], expected["credit"]),
    ]

    bands = page.get_by_test_id("energy-bands")
    text = figure(await bands.inner_text())
    peak_kwh, peak_cost = expected["bands"]["peak"]
    assert f"Peak 33% · {peak_kwh:,.2f} kWh · €{peak_cost:,.2f}" in text
    assert "Off-peak 20%" in text and "Standard 47%" in text

    # One bar a day; pointing at day 15 shows the first day at the new prices.
    bars = page.locator("[data-testid=energy-chart] svg g.energy-bar")
    assert await bars.count() == month.days
    await bars.nth(14).locator("rect.energy-hit").click()
    detail = figure(await page.get_by_test_id("energy-bar-detail").inner_text())
    assert "used 72.00 kWh" in detail and "returned 3.00 kWh" in detail
    await page.get_by_role("button", name="Cost", exact=True).click()
    await bars.nth(14).locator("rect.energy-hit").click()
    assert "used €18.90" in figure(await page.get_by_test_id("energy-bar-detail").inner_text())
    await page.get_by_role("button", name="kWh", exact=True).click()

    # CSV of what is shown: a row per day and device, and the totals.
    async with page.expect_download() as waiting:
        await page.get_by_role("button", name="Download CSV").click()
    download = await waiting.value
    assert download.suggested_filename == f"energy-month-{month.label}.csv"
    rows_csv = list(csv.reader(io.StringIO(Path(await download.path()).read_text(encoding="utf-8"))))
    assert rows_csv[0][:5] == ["start", "end", "device", "consumption_kwh", "cost_EUR"]
    total = rows_csv[-1]
    assert total[2] == "Total" and float(total[3]) == pytest.approx(expected["kwh"], abs=0.01)
    assert float(total[8]) == pytest.approx(expected["net_cost"], abs=0.01)
    kitchen_days = [r for r in rows_csv[1:-1] if r[2] == "Kitchen node"]
    assert len(kitchen_days) == month.days
    assert sum(float(r[3]) for r in rows_csv[1:-1]) == pytest.approx(expected["kwh"], abs=0.05)

    await screenshots(page, "energy-month", WIDTHS)

    # Back a month: nothing was used; forward again, then on to the month in progress.
    await page.get_by_role("button", name="Previous period").click()
    await page.get_by_test_id("energy-used").filter(has_text="0.00 kWh").wait_for()
    assert "view=month" in page.url
    await page.get_by_role("button", name="Next period").click()
    await page.get_by_test_id("energy-period").filter(has_text=month_name).wait_for()
    await page.get_by_role("button", name="Next period").click()
    await page.get_by_test_id("energy-comparison").filter(has_text="Last month at this point").wait_for()
    # Dashed marks: the bill's month day by day, up to the same point.
    await page.get_by_test_id("energy-compare-key").filter(has_text="Last month, same day").wait_for()
    marks = await page.locator("[data-testid=energy-chart] g.energy-bar line.energy-compare").count()
    assert time.gmtime().tm_mday - 1 <= marks <= time.gmtime().tm_mday
    await screenshots(page, "energy-month-in-progress", WIDTHS)
    assert await page.get_by_role("button", name="Next period").is_disabled()
    assert await page.get_by_role("button", name="Now").is_disabled()
    # The year: one bar a month.
    await page.get_by_role("button", name="Year", exact=True).click()
    await page.get_by_test_id("energy-period").filter(has_text=re.compile(rf"^{time.strftime('%Y')}$")).wait_for()
    assert await bars.count() == 12


async def test_budgets_devices_and_live_refresh(start_site, page) -> None:
    site, month = await bill_site(start_site)
    await login_with_token(page, site, "/energy")
    card = page.get_by_test_id("budget-house_month")
    await card.wait_for()
    text = figure(await card.inner_text())
    assert text.startswith("House month budget this month")
    assert "Projected by the month's end:" in text
    assert "The use so far" in text
    kitchen = page.get_by_test_id("budget-kitchen_day")
    assert "of 30.00 kWh" in figure(await kitchen.inner_text())
    assert "A projection adds to the use so far" in await page.locator("main").inner_text()

    # Live: the kitchen meter climbs 2 kWh; the open page shows it without a reload.
    used = page.get_by_test_id("energy-used")
    before = figure(await used.inner_text())
    state = site.hub.states.get("sensor.kitchen_energy")
    site.hub.states.set("sensor.kitchen_energy", f"{float(state.state) + 2:.4f}", dict(state.attributes))
    await used.filter(has_text="2.00 kWh").wait_for(timeout=15_000)
    assert figure(await used.inner_text()) != before
    # The budgets follow the same refresh: the kitchen's day budget shows the 2 kWh too.
    await kitchen.filter(has_text="2.00 kWh of 30.00 kWh").wait_for(timeout=15_000)
    await screenshots(page, "energy-today", WIDTHS)

    # The kitchen node's own page shows its energy the same way.
    device_id = site.hub.entity_registry.get("sensor.kitchen_energy").device_id
    await page.goto(f"{site.url}/devices/{device_id}")
    panel = page.get_by_test_id("device-energy")
    await panel.get_by_test_id("energy-used").filter(has_text="2.00 kWh").wait_for()
    assert [figure(t).split(" ")[0] for t in await panel.get_by_test_id("energy-devices").locator("tbody tr").all_inner_texts()] == ["Kitchen"]
    await panel.get_by_role("button", name="Month", exact=True).click()
    await panel.get_by_role("button", name="Previous period").click()
    await panel.get_by_test_id("energy-used").filter(has_text=f"{24 * month.days - 0.0003:,.2f} kWh").wait_for()
    await screenshots(page, "device-energy", WIDTHS)

    # A device without a meter has no energy section.
    switch_device = site.hub.entity_registry.get("switch.demo_relay_1")
    if switch_device is not None and switch_device.device_id:
        await page.goto(f"{site.url}/devices/{switch_device.device_id}")
        await page.get_by_role("heading", name="Entities").wait_for()
        assert await page.get_by_test_id("device-energy").count() == 0
