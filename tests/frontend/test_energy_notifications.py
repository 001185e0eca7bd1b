"""The energy and notifications pages in a real browser: usage, cost and budgets; live list and dismiss."""

from __future__ import annotations

import pytest

from integrations.notify import persistent
from tests.frontend.conftest import login_with_token, wait_until

pytestmark = pytest.mark.timeout(180)

METER = {"device_class": "energy", "state_class": "total_increasing", "unit_of_measurement": "kWh",
         "friendly_name": "Kitchen energy"}
ENERGY = """
recorder:
  commit_interval: 0.05
energy:
  tariffs: {grid: 0.5}
  budgets:
    - {name: house_day, period: day, kwh: 4}
"""


async def test_energy_page_shows_kwh_cost_and_budget(start_site, page):
    site = await start_site(ENERGY)
    site.hub.states.set("sensor.kitchen_energy", "10", METER)
    site.hub.states.set("sensor.kitchen_energy", "13", METER)  # 3 kWh at 0.50 EUR
    await login_with_token(page, site, "/energy")
    table = page.get_by_test_id("energy-devices")
    kitchen = table.get_by_role("row").filter(has_text="Kitchen energy")
    await kitchen.wait_for()
    cells = await kitchen.get_by_role("cell").all_inner_texts()
    assert cells == ["3.00 kWh", "€1.50", "100%"]
    assert " ".join((await page.get_by_test_id("energy-used").inner_text()).split()) == "Used 3.00 kWh €1.50"
    bar = page.get_by_role("progressbar", name="House day budget: 75 % used")
    assert await bar.get_attribute("aria-valuenow") == "75"


async def test_notifications_list_live_and_dismiss(start_site, page):
    site = await start_site("notify:\n")
    hub = site.hub
    await hub.services.call("persistent_notification", "create",
                            {"title": "Overpower", "message": "Relay 1 switched off", "notification_id": "relay1"})
    await login_with_token(page, site, "/notifications")
    cards = page.get_by_test_id("notification")
    await cards.filter(has_text="Relay 1 switched off").wait_for()

    # A new notification appears without a reload.
    await hub.services.call("notify", "persistent_notification", {"message": "Daily energy: 12 kWh"})
    await cards.filter(has_text="Daily energy: 12 kWh").wait_for()

    await cards.filter(has_text="Overpower").get_by_role("button", name="Dismiss").click()
    await cards.filter(has_text="Overpower").wait_for(state="detached")
    store = persistent.store_of(hub)
    await wait_until(lambda: [n.message for n in store.all()] == ["Daily energy: 12 kWh"])
