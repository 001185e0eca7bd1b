"""A new hub from a fresh data dir, in a real browser: onboarding, a second user, an automation
written in the editor, saved, triggered by a device, its trace, and a reload of its page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml

from hub import bootstrap
from tests.frontend.conftest import screenshots, wait_until, write_config

pytestmark = pytest.mark.timeout(180)

AUTOMATION = """alias: Relay manual on power
description: Made in the browser
triggers:
  - trigger: state
    entity_id: sensor.relay_node_power
actions:
  - action: select.select_option
    target:
      entity_id: select.relay_node_mode
    data:
      option: manual
mode: single
"""


@pytest_asyncio.fixture(loop_scope="session")  # on the browser's loop (tests/frontend/conftest.py)
async def fresh_hub(tmp_path: Path, frontend_dist: Path) -> Any:
    """A hub with the demo devices, an empty automations.yaml and no user at all."""
    config = write_config(tmp_path / "config", "automation: !include automations.yaml\n")
    (config / "automations.yaml").write_text("[]\n")
    runtime = await bootstrap.start(config, tmp_path / "data", port=0)
    runtime.hub.auth._rounds = 4
    try:
        yield runtime, config
    finally:
        await bootstrap.stop(runtime)


async def test_from_a_fresh_hub_to_a_saved_automation_and_its_trace(fresh_hub: Any, page: Any) -> None:
    runtime, config = fresh_hub
    hub = runtime.hub
    await page.goto(runtime.url + "/")

    # Onboarding: the first page of a hub without users creates its owner.
    await page.get_by_role("heading", name="Welcome: create the owner").wait_for()
    await page.get_by_label("Name", exact=True).fill("Ann")
    await page.get_by_label("User name").fill("ann")
    await page.get_by_label("Password", exact=True).fill("ann's long password")
    await page.get_by_label("Password again").fill("ann's long password")
    await screenshots(page, "onboarding")
    await page.get_by_role("button", name="Create owner").click()
    await page.get_by_role("navigation", name="Main").wait_for()
    assert [(u.name, u.role) for u in await hub.auth.list_users()] == [("ann", "owner")]

    # A second user, with role user.
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    await page.locator('tr[data-user="ann"]').wait_for()
    await page.get_by_label("User name").fill("bob")
    await page.get_by_label("Password", exact=True).fill("bob's long password")
    await page.get_by_label("Role").select_option("user")
    await page.get_by_role("button", name="Add user").click()
    await page.locator('tr[data-user="bob"]').wait_for()
    assert {u.name: u.role for u in await hub.auth.list_users()} == {"ann": "owner", "bob": "user"}
    await screenshots(page, "users")

    # A new automation, written in the editor and saved.
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Automations").click()
    await page.get_by_role("button", name="New automation").click()
    editor = page.locator(".cm-content")
    await editor.wait_for()
    await editor.click()
    await page.keyboard.press("Control+A")
    await page.keyboard.press("Delete")
    await page.keyboard.insert_text(AUTOMATION)
    await page.get_by_text("The hub accepts this automation.").wait_for()
    await page.get_by_role("button", name="Save", exact=True).click()
    await page.get_by_role("heading", name="Relay manual on power").wait_for()
    assert page.url.endswith("/automations/automation.relay_manual_on_power")
    saved = yaml.safe_load((config / "automations.yaml").read_text())
    assert len(saved) == 1 and saved[0]["alias"] == "Relay manual on power" and saved[0]["id"]
    assert hub.states.get("automation.relay_manual_on_power").state == "on"

    # The demo's meter reports: the automation runs and the page offers its trace.
    assert hub.states.get("select.relay_node_mode").state != "manual"
    hub.entities.get("sensor.relay_node_power").set(1234)
    await wait_until(lambda: hub.states.get("select.relay_node_mode").state == "manual")
    await page.get_by_role("button", name="Open trace").first.click()
    await page.get_by_test_id("trace-step").first.wait_for()
    assert "action/0" in await page.get_by_test_id("trace").inner_text()
    await screenshots(page, "first-run-trace")

    # The automation's page survives a reload (its path ends in an entity id with a dot).
    await page.reload()
    await page.get_by_role("heading", name="Relay manual on power").wait_for()
    await page.get_by_text("alias: Relay manual on power").wait_for()
    await page.get_by_test_id("trace-step").first.wait_for()
    await screenshots(page, "first-run-reloaded")

    # Duplicate it, save the copy, then delete the copy: automations.yaml follows.
    await page.get_by_role("button", name="Duplicate").click()
    await page.get_by_text("alias: Relay manual on power (copy)").wait_for()
    await page.get_by_role("button", name="Save", exact=True).click()
    await page.get_by_role("heading", name="Relay manual on power (copy)").wait_for()
    aliases = [a["alias"] for a in yaml.safe_load((config / "automations.yaml").read_text())]
    assert aliases == ["Relay manual on power", "Relay manual on power (copy)"]
    await page.get_by_role("button", name="Delete").click()
    await page.get_by_role("button", name="Really delete").click()
    await page.locator('tr[data-entity-id="automation.relay_manual_on_power"]').wait_for()
    aliases = [a["alias"] for a in yaml.safe_load((config / "automations.yaml").read_text())]
    assert aliases == ["Relay manual on power"]
    await wait_until(lambda: hub.states.get("automation.relay_manual_on_power_copy") is None)
