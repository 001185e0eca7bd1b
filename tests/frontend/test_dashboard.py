"""The dashboard in a real browser: devices, live values, and controls confirmed by the hub."""

from __future__ import annotations

import asyncio
import json
import re
import time

import pytest

from tests.frontend.conftest import expect, login_with_token, screenshots, wait_until

pytestmark = pytest.mark.timeout(180)

RELAY = "switch.relay_node_relay"
POWER = "sensor.relay_node_power"
BUDGET_PER_BASELINE = 10  # the dashboard with 1,000 entities against the bare login page, same machine and moment


async def devices_a_second_late(route):
    """Pass the UI's WebSocket through, but answer its device list a second after the hub did."""
    server = route.connect_to_server()
    asked: set[int] = set()

    def from_page(message):
        for item in _messages(message):
            if item.get("type") == "frontend/devices":
                asked.add(item["id"])
        server.send(message)

    def from_server(message):
        if any(item.get("id") in asked for item in _messages(message)):
            asyncio.get_running_loop().call_later(1.0, route.send, message)
        else:
            route.send(message)

    route.on_message(from_page)
    server.on_message(from_server)


def _messages(message):
    found = json.loads(message) if isinstance(message, str) else None
    return [m for m in (found if isinstance(found, list) else [found]) if isinstance(m, dict)]


def row(page, entity_id):
    return page.locator(f'li[data-entity-id="{entity_id}"]')


async def test_devices_live_values_and_confirmed_toggle(site, page):
    await login_with_token(page, site)
    node = page.get_by_role("region", name="Relay node")
    await node.wait_for()
    await node.get_by_text("online").wait_for()
    garage = page.get_by_role("region", name="Garage meter")
    await garage.get_by_text("offline").wait_for()
    assert await row(page, POWER).get_by_test_id("state").inner_text() == "230.5 W"

    # A new reading shows up without a reload.
    site.entity(POWER).set(1234.567)
    await row(page, POWER).get_by_test_id("state").get_by_text("1234.57 W").wait_for()

    # The relay stays pending until the device confirms, then shows on.
    toggle = row(page, RELAY).get_by_role("switch")
    assert await toggle.get_attribute("aria-checked") == "false"
    await toggle.click()
    await row(page, RELAY).get_by_test_id("pending").wait_for()
    relay = site.entity(RELAY)
    await wait_until(lambda: relay.wanted is True)
    assert await toggle.get_attribute("aria-checked") == "false"
    await screenshots(page, "dashboard-pending")
    relay.ack()
    await row(page, RELAY).get_by_test_id("pending").wait_for(state="detached")
    assert await toggle.get_attribute("aria-checked") == "true"
    assert site.hub.states.get(RELAY).state == "on"
    await screenshots(page, "dashboard")


async def test_number_select_text_and_button_controls(site, page):
    await login_with_token(page, site)
    number = row(page, "number.relay_node_limit")
    await number.get_by_role("spinbutton").fill("2000")
    await number.get_by_role("spinbutton").press("Enter")
    await wait_until(lambda: site.hub.states.get("number.relay_node_limit").state == "2000.0")
    await number.get_by_test_id("pending").wait_for(state="detached")

    await row(page, "select.relay_node_mode").get_by_role("combobox").select_option("manual")
    await wait_until(lambda: site.hub.states.get("select.relay_node_mode").state == "manual")

    label = row(page, "text.relay_node_label")
    await label.get_by_role("textbox").fill("garage")
    await label.get_by_role("button", name="Set").click()
    await wait_until(lambda: site.hub.states.get("text.relay_node_label").state == "garage")
    await label.get_by_test_id("state").get_by_text("garage").wait_for()

    before = site.hub.states.get("button.relay_node_reset_energy").state
    await row(page, "button.relay_node_reset_energy").get_by_role("button", name="Press").click()
    await wait_until(lambda: site.hub.states.get("button.relay_node_reset_energy").state != before)


async def test_keyboard_reaches_the_relay(site, page):
    # A keyboard user who reaches the relay's switch as soon as it is drawn keeps it: the rows are
    # drawn once, in the card of their device, not first in a list of loose entities (the states
    # come before the device list, here by a second) and then again in the card, which took the
    # focus away.
    await page.route_web_socket(re.compile(r"/api/websocket"), devices_a_second_late)
    await login_with_token(page, site)
    toggle = row(page, RELAY).get_by_role("switch")
    await toggle.focus()
    await expect(toggle).to_be_focused()
    card = page.get_by_role("region", name="Relay node")
    await card.wait_for()
    await expect(card.locator(f'li[data-entity-id="{RELAY}"]').get_by_role("switch")).to_be_focused()
    await page.keyboard.press("Space")
    await expect(row(page, RELAY).get_by_test_id("pending")).to_be_visible()
    await wait_until(lambda: site.entity(RELAY).wanted is True)
    site.entity(RELAY).ack()
    await expect(toggle).to_have_attribute("aria-checked", "true")


async def test_rename_a_device(site, page):
    await login_with_token(page, site, "/devices")
    await page.get_by_role("link", name="Relay node").click()
    await page.get_by_label("Name shown in the hub (empty: the device's own name)").fill("Kitchen relay")
    await page.get_by_role("button", name="Rename").click()
    await page.get_by_role("status").get_by_text("Saved.").wait_for()
    device = site.hub.device_registry.get_by_identifier("demo", "node1")
    assert device.name_by_user == "Kitchen relay"
    await screenshots(page, "device")


async def test_a_thousand_entities_load_quickly(start_site, page):
    site = await start_site(extra_sensors=1000)
    # The machine's pace, measured here: the login page (the same bundle, no entities) loaded twice.
    await page.goto(site.url)
    await page.get_by_label("Long-lived access token").or_(page.get_by_role("button", name="Use a long-lived access token instead")).first.wait_for()
    started = time.monotonic()
    await page.reload()
    await page.get_by_label("Long-lived access token").or_(page.get_by_role("button", name="Use a long-lived access token instead")).first.wait_for()
    baseline = (time.monotonic() - started) * 1000
    await page.evaluate(f"localStorage.setItem('hub.tokens', JSON.stringify({{access_token: {site.token!r}}}))")
    started = time.monotonic()
    await page.reload()
    await page.locator('li[data-entity-id="sensor.extra_999"]').wait_for()
    elapsed = (time.monotonic() - started) * 1000
    rows = await page.locator("li.entity").count()
    assert rows >= 1000
    # Loopback, 2 cores: the budget is 1 s, and 3 s alone; on a loaded machine it grows with the
    # time the bare page took (a list that renders in quadratic time still fails: 1,000 rows).
    budget = max(3000, BUDGET_PER_BASELINE * baseline)
    print(f"dashboard with {rows} entities ready in {elapsed:.0f} ms (login page {baseline:.0f} ms, budget {budget:.0f} ms)")
    assert elapsed < budget, f"dashboard with 1,000 entities took {elapsed:.0f} ms (login page {baseline:.0f} ms)"
