"""The Scenes and Schedules pages in a real browser: list, create, edit, activate, switch off,
delete, and a schedule's weekly blocks edited with the refused field marked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.frontend.conftest import login_with_token, screenshots, wait_until

pytestmark = pytest.mark.timeout(180)

RELAY = "switch.relay_node_relay"
WIDTHS = {"phone": (390, 844), "desktop": (1280, 860)}
EXTRA = "scene: !include scenes.yaml\nschedule:\n"


async def test_make_activate_edit_and_delete_a_scene(start_site, page, tmp_path: Path):
    (tmp_path / "config0").mkdir()
    (tmp_path / "config0" / "scenes.yaml").write_text("[]\n")
    site = await start_site(EXTRA)
    await login_with_token(page, site, "/scenes")
    await page.get_by_text("No scenes yet").wait_for()
    await page.get_by_role("button", name="New scene").click()
    await page.get_by_label("Name", exact=True).fill("Evening")
    await page.get_by_label("Entity 1", exact=True).fill("Relay Node")  # a name, not an entity id
    await page.get_by_label("State of entity 1").fill("on")
    await page.get_by_role("button", name="Save scene").click()
    # The hub refuses it; the form says so next to the row, and keeps what was typed.
    await page.get_by_text("not an entity id").wait_for()
    await page.get_by_text("Please fix the fields marked above.").wait_for()
    assert await page.get_by_role("button", name="Save scene").is_enabled()
    await screenshots(page, "scene-form", WIDTHS)
    await page.get_by_label("Entity 1", exact=True).fill(RELAY)
    await page.get_by_role("button", name="Save scene").click()
    item = page.locator("li[data-scene='evening']")
    await item.wait_for()
    assert yaml.safe_load((tmp_path / "config0" / "scenes.yaml").read_text()) == [
        {"id": "evening", "name": "Evening", "entities": {RELAY: {"state": "on"}}}]

    await item.get_by_role("button", name="Activate").click()
    await item.get_by_text("Evening activated.").wait_for()
    # The demo relay takes the command and reports when told to (as a node acknowledges).
    await wait_until(lambda: site.entity(RELAY).wanted is True)
    site.entity(RELAY).ack()
    assert site.hub.states.get(RELAY).state == "on"
    await screenshots(page, "scenes", WIDTHS)

    await item.get_by_role("button", name="Edit").click()
    await page.get_by_label("Name", exact=True).fill("Evening light")
    await page.get_by_role("button", name="Save scene").click()
    await page.get_by_role("heading", name="Evening light").wait_for()

    item = page.locator("li[data-scene='evening']")
    await item.get_by_role("button", name="Delete").click()
    await item.get_by_role("button", name="Really delete").click()
    await page.get_by_text("No scenes yet").wait_for()
    assert yaml.safe_load((tmp_path / "config0" / "scenes.yaml").read_text()) == []


async def test_edit_a_schedules_weekly_blocks_switch_it_off_and_delete_it(start_site, page, tmp_path: Path):
    (tmp_path / "config0").mkdir()
    (tmp_path / "config0" / "scenes.yaml").write_text("[]\n")
    site = await start_site(EXTRA)
    await login_with_token(page, site, "/schedules")
    await page.get_by_text("No schedules yet").wait_for()
    await page.get_by_role("button", name="New schedule").click()
    await page.get_by_label("Name", exact=True).fill("Boiler")
    await page.get_by_role("button", name="Add a block on Monday").click()
    await page.get_by_label("Monday block 1 from").fill("06:00")
    await page.get_by_label("Monday block 1 to").fill("08:30")
    await page.get_by_role("button", name="Add a block on Saturday").click()
    await page.get_by_label("Saturday block 1 from").fill("10:00")
    await page.get_by_label("Saturday block 1 to").fill("09:00")
    await page.get_by_role("button", name="Save schedule").click()
    # The refused block is marked, with what is wrong, next to it.
    await page.get_by_text("must be after from (10:00:00)").wait_for()
    assert await page.get_by_label("Saturday block 1 to").get_attribute("aria-invalid") == "true"
    await screenshots(page, "schedule-form", WIDTHS)

    await page.get_by_label("Saturday block 1 to").fill("00:00")  # until midnight
    await page.get_by_role("button", name="Save schedule").click()
    item = page.locator("li[data-schedule='boiler']")
    await item.wait_for()
    await item.get_by_text("Mon 06:00–08:30 · Sat 10:00–24:00").wait_for()
    stored = json.loads((tmp_path / "data0" / "schedule").read_text())["data"]["items"][0]
    assert stored["saturday"] == [{"from": "10:00:00", "to": "24:00:00"}]
    await screenshots(page, "schedules", WIDTHS)

    await item.get_by_role("button", name="Switch off").click()
    await item.get_by_text("off by hand").wait_for()
    assert site.hub.states.get("schedule.boiler").attributes["enabled"] is False
    await item.get_by_role("button", name="Switch on").click()
    await item.get_by_role("button", name="Switch off").wait_for()

    await item.get_by_role("button", name="Edit").click()
    assert await page.get_by_label("Saturday block 1 to").input_value() == "00:00"
    await page.get_by_role("button", name="Remove Saturday block 1").click()
    await page.get_by_role("button", name="Copy to Tuesday–Friday").click()
    await page.get_by_role("button", name="Save schedule").click()
    await item.get_by_text("Mon 06:00–08:30 · Tue 06:00–08:30 · Wed 06:00–08:30 · Thu 06:00–08:30 · Fri 06:00–08:30").wait_for()

    await item.get_by_role("button", name="Delete").click()
    await item.get_by_role("button", name="Really delete").click()
    await page.get_by_text("No schedules yet").wait_for()
    assert site.hub.states.get("schedule.boiler") is None
