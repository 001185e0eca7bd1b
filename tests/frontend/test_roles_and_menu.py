"""The UI offers only what the user's role may do, and its top navigation works on a phone.

Roles as the hub has them (hub/api/permissions.py): owner and admin manage, user controls,
read-only only reads. A read-only user sees scenes, schedules and the dashboard without a button
the hub would refuse; a user activates but does not edit. At 390 px the pages are a menu.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from tests.frontend.conftest import HubSite, login_with_token, screenshots

pytestmark = pytest.mark.timeout(180)

RELAY = "switch.relay_node_relay"
WIDTHS = {"phone": (390, 844), "desktop": (1280, 860)}
EXTRA = "scene: !include scenes.yaml\nschedule:\n  boiler:\n    name: Boiler\n    monday: [{from: '06:00', to: '08:00'}]\n"
SCENES = "- id: evening\n  name: Evening\n  entities:\n    switch.relay_node_relay: 'on'\n"
PAGES = ["Dashboard", "History", "Energy", "Automations", "Scripts", "Scenes", "Schedules", "Notifications", "Devices"]


async def _site_as(start_site: Any, tmp_path: Path, role: str) -> HubSite:
    (tmp_path / "config0").mkdir()
    (tmp_path / "config0" / "scenes.yaml").write_text(SCENES)
    site = await start_site(EXTRA)
    auth = site.hub.auth
    user = await auth.add_user(f"a-{role}", "password123", role)
    return dataclasses.replace(site, token=await auth.create_long_lived_token(user.id, "browser test"))


async def test_a_read_only_user_sees_no_button_the_hub_would_refuse(start_site, page, tmp_path: Path):
    site = await _site_as(start_site, tmp_path, "read-only")
    await login_with_token(page, site, "/scenes")
    scene = page.locator("li[data-scene='evening']")
    await scene.wait_for()
    await page.get_by_test_id("role-note").get_by_text("read-only").wait_for()
    assert await scene.get_by_role("button").count() == 0
    assert await page.get_by_role("button", name="New scene").count() == 0
    banner = page.get_by_role("banner")
    await banner.get_by_text("read-only", exact=True).wait_for()
    await screenshots(page, "read-only-scenes", WIDTHS)

    await page.get_by_role("link", name="Schedules").click()
    schedule = page.locator("li[data-schedule='boiler']")
    await schedule.wait_for()
    assert await schedule.get_by_role("button").count() == 0

    # The dashboard shows the relay's state without its switch; no admin pages in the navigation.
    await page.goto(site.url + "/")
    row = page.locator(f"li[data-entity-id='{RELAY}']")
    await row.get_by_test_id("state").wait_for()
    assert await row.get_by_role("switch").count() == 0
    nav = page.get_by_role("navigation", name="Main")
    assert await nav.get_by_role("link", name="Users").count() == 0
    assert await nav.get_by_role("link", name="Add device").count() == 0
    await page.goto(site.url + "/scripts")
    await page.get_by_role("heading", name="Scripts").wait_for()
    assert await page.get_by_role("button", name="New script").count() == 0


async def test_a_user_activates_a_scene_but_does_not_edit_it(start_site, page, tmp_path: Path):
    site = await _site_as(start_site, tmp_path, "user")
    await login_with_token(page, site, "/scenes")
    scene = page.locator("li[data-scene='evening']")
    await scene.get_by_role("button", name="Activate").click()
    await scene.get_by_text("Evening activated.").wait_for()
    assert await scene.get_by_role("button", name="Edit").count() == 0
    assert await scene.get_by_role("button", name="Delete").count() == 0
    await page.get_by_test_id("role-note").get_by_text("Only admins").wait_for()
    await page.goto(site.url + "/")
    assert await page.locator(f"li[data-entity-id='{RELAY}']").get_by_role("switch").is_enabled()


async def test_the_pages_are_a_menu_on_a_phone_and_one_row_on_a_desktop(start_site, page, tmp_path: Path):
    site = await _site_as(start_site, tmp_path, "admin")
    await login_with_token(page, site, "/scenes")
    nav = page.get_by_role("navigation", name="Main")
    # Desktop: every page is in the bar, none cut off, no menu button.
    for name in [*PAGES, "Add device", "Users"]:
        box = await nav.get_by_role("link", name=name, exact=True).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 1280, name
    assert not await page.get_by_role("button", name="Menu").is_visible()
    assert await page.evaluate("() => { const ul = document.querySelector('#main-nav ul'); return ul.scrollWidth <= ul.clientWidth; }")

    # Phone: the menu button opens every page, each fully on screen; choosing one closes it.
    await page.set_viewport_size({"width": 390, "height": 844})
    menu = page.get_by_role("button", name="Menu")
    assert await menu.get_attribute("aria-expanded") == "false"
    assert not await nav.is_visible()
    await screenshots(page, "menu-closed", {"phone": (390, 844)})
    await menu.click()
    assert await menu.get_attribute("aria-expanded") == "true"
    for name in [*PAGES, "Add device", "Users"]:
        box = await nav.get_by_role("link", name=name, exact=True).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, name
    await screenshots(page, "menu-open", {"phone": (390, 844)})
    await nav.get_by_role("link", name="Schedules", exact=True).click()
    await page.get_by_role("heading", name="Schedules", exact=True).wait_for()
    await page.wait_for_function("document.querySelector('.menu-button').getAttribute('aria-expanded') === 'false'")
    # Escape closes it too; the slot for a home switcher is in the bar, empty for a user of one home.
    await menu.click()
    await page.wait_for_function("document.querySelector('.menu-button').getAttribute('aria-expanded') === 'true'")
    await page.keyboard.press("Escape")
    await page.wait_for_function("document.querySelector('.menu-button').getAttribute('aria-expanded') === 'false'")
    assert await page.get_by_role("banner").locator("[data-slot='home-switcher']").inner_html() == ""
    assert await page.get_by_role("combobox", name="Home").count() == 0
