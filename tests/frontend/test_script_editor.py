"""The script editor in a real browser: create, break and fix, save to scripts.yaml, run, trace,
duplicate, delete, and a reload of the script's page."""

from __future__ import annotations

import importlib.util

import pytest
import yaml

from tests.frontend.conftest import expect, login_with_token, screenshots, wait_until

WIDTHS = {"phone": (390, 844), "desktop": (1280, 860)}

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(importlib.util.find_spec("automations.scripts") is None, reason="no script engine"),
]

MODE = "select.relay_node_mode"
# A broken script: an action is domain.service; the hub refuses it with file:line.
BROKEN = """alias: Relay to manual
sequence:
  - action: select_option
"""
SCRIPT = """alias: Relay to manual
description: Made in the browser
sequence:
  - action: select.select_option
    target:
      entity_id: select.relay_node_mode
    data:
      option: manual
mode: single
"""


async def type_into_editor(page, text: str) -> None:
    editor = page.locator(".cm-content")
    await editor.wait_for()
    await editor.click()
    await page.keyboard.press("Control+A")
    await page.keyboard.press("Delete")
    await page.keyboard.insert_text(text)


async def test_create_save_run_duplicate_delete_and_reload_a_script(start_site, page, tmp_path):
    # start_site writes its first hub's configuration into config0: an empty scripts.yaml is there first.
    (tmp_path / "config0").mkdir()
    (tmp_path / "config0" / "scripts.yaml").write_text("{}\n")
    # As the shipped configuration.yaml: the config API comes with the automation engine.
    site = await start_site("automation: []\nscript: !include scripts.yaml\n")
    config = site.hub.config.config_dir
    scripts_yaml = config / "scripts.yaml"
    await login_with_token(page, site, "/")

    # Next to Automations in the navigation; no scripts yet.
    nav = page.get_by_role("navigation", name="Main")
    labels = [t.strip() for t in await nav.get_by_role("link").all_inner_texts()]
    assert labels[labels.index("Automations") + 1] == "Scripts"
    await nav.get_by_role("link", name="Scripts").click()
    await page.get_by_role("heading", name="Scripts", exact=True).wait_for()
    await page.get_by_text("No scripts are loaded.").wait_for()

    # A broken script is refused, with the file and line of the problem next to the editor.
    await page.get_by_role("button", name="New script").click()
    await type_into_editor(page, BROKEN)
    await page.get_by_role("button", name="Save", exact=True).click()
    problem = page.get_by_test_id("problem").first
    await problem.wait_for()
    assert "scripts.yaml:4: script.relay_to_manual" in await problem.inner_text()
    assert "expected 'domain.service'" in await problem.inner_text()
    await page.get_by_text("Not saved: scripts.yaml would have 1 problem.").wait_for()
    # ... and marked in the editor at the line of the action.
    marked = page.locator(".cm-line:has(.cm-lintRange-error)")
    await marked.first.wait_for()
    assert [t.strip() for t in await marked.all_inner_texts()] == ["- action: select_option"]
    assert scripts_yaml.read_text() == "{}\n"
    await screenshots(page, "script-editor-error", WIDTHS)

    # Fixed and saved: in scripts.yaml under an id made from its alias, and loaded.
    await type_into_editor(page, SCRIPT)
    await page.get_by_role("button", name="Save", exact=True).click()
    await page.get_by_role("heading", name="Relay to manual").wait_for()
    await wait_until(lambda: page.url.endswith("/scripts/script.relay_to_manual"))
    saved = yaml.safe_load(scripts_yaml.read_text())
    assert list(saved) == ["relay_to_manual"]
    assert saved["relay_to_manual"]["alias"] == "Relay to manual"
    assert saved["relay_to_manual"]["sequence"][0]["target"] == {"entity_id": MODE}
    assert site.hub.states.get("script.relay_to_manual") is not None

    # Run it: the demo relay's mode changes, and the run's trace opens.
    assert site.hub.states.get(MODE).state != "manual"
    await page.get_by_role("button", name="Run now").click()
    await wait_until(lambda: site.hub.states.get(MODE).state == "manual")
    await page.get_by_role("button", name="Open trace").first.click()
    await page.get_by_test_id("trace-step").first.wait_for()
    assert "sequence/0" in await page.get_by_test_id("trace").inner_text()
    await screenshots(page, "script-editor", WIDTHS)

    # The script's page survives a reload (a deep link ending in an entity id with a dot).
    await page.reload()
    await page.get_by_role("heading", name="Relay to manual").wait_for()
    await page.get_by_text("alias: Relay to manual").wait_for()
    await page.get_by_test_id("trace-step").first.wait_for()

    # Duplicate, save the copy (a new id), then delete the copy: scripts.yaml follows.
    await page.get_by_role("button", name="Duplicate").click()
    await page.get_by_text("alias: Relay to manual (copy)").wait_for()
    await page.get_by_role("button", name="Save", exact=True).click()
    await page.get_by_role("heading", name="Relay to manual (copy)").wait_for()
    await wait_until(lambda: page.url.endswith("/scripts/script.relay_to_manual_copy"))
    assert list(yaml.safe_load(scripts_yaml.read_text())) == ["relay_to_manual", "relay_to_manual_copy"]
    await page.get_by_role("button", name="Delete").click()
    await page.get_by_role("button", name="Really delete").click()
    await page.locator('tr[data-entity-id="script.relay_to_manual"]').wait_for()
    assert list(yaml.safe_load(scripts_yaml.read_text())) == ["relay_to_manual"]
    assert (config / "scripts.yaml.bak").exists()
    await wait_until(lambda: site.hub.states.get("script.relay_to_manual_copy") is None)
    # The list is drawn from the live states: the copy's row goes when the hub says it went.
    await expect(page.locator('tr[data-entity-id="script.relay_to_manual_copy"]')).to_have_count(0)

    # The list runs a script too, after a reload.
    await site.hub.services.call("select", "select_option", {"entity_id": MODE, "option": "auto"}, blocking=True)
    assert site.hub.states.get(MODE).state == "auto"
    await page.reload()
    row = page.locator('tr[data-entity-id="script.relay_to_manual"]')
    await row.get_by_role("button", name="Run now").click()
    await wait_until(lambda: site.hub.states.get(MODE).state == "manual")
    await screenshots(page, "scripts", WIDTHS)
