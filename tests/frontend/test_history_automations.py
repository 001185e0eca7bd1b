"""History charts and the automation editor in a real browser."""

from __future__ import annotations

import importlib.util

import pytest

from tests.frontend.conftest import login_with_token, screenshots, wait_until

pytestmark = pytest.mark.timeout(180)

POWER = "sensor.relay_node_power"
AUTOMATION = """
automation:
  - id: relay_on_power
    alias: Relay on power
    triggers:
      - trigger: state
        entity_id: sensor.relay_node_power
    actions:
      - action: select.select_option
        target:
          entity_id: select.relay_node_mode
        data:
          option: manual
"""


def needs(module: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(importlib.util.find_spec(module) is None, reason=f"{module} is not in this hub yet")


@needs("hub.recorder")
async def test_chart_shows_recorded_values_and_saves(start_site, page):
    site = await start_site("recorder:\n")
    for value in (100, 250, 180):
        site.entity(POWER).set(value)
    await login_with_token(page, site, "/history")
    await page.get_by_role("checkbox", name="Relay node Power").check()
    await page.get_by_label("Range").select_option("1h")
    await page.get_by_role("button", name="Show chart").click()
    chart = page.get_by_test_id("chart")
    await chart.wait_for()
    await chart.locator("canvas").wait_for()
    assert await chart.get_by_text("Values in W").count() == 1

    await page.get_by_label("Name", exact=True).fill("Kitchen power")
    await page.get_by_role("button", name="Save chart").click()
    await page.get_by_role("button", name="Kitchen power", exact=True).wait_for()
    await screenshots(page, "history")

    # The saved chart lives in the hub's database: a fresh page lists and opens it.
    await page.reload()
    await page.get_by_role("button", name="Kitchen power", exact=True).click()
    await page.get_by_test_id("chart").locator("canvas").wait_for()


@needs("automations.integration")
async def test_break_fix_run_and_trace_an_automation(start_site, page):
    site = await start_site(AUTOMATION)
    await login_with_token(page, site, "/automations")
    row = page.locator('tr[data-entity-id="automation.relay_on_power"]')
    await row.wait_for()
    await screenshots(page, "automations")
    await row.get_by_role("link", name="Relay on power").click()

    editor = page.locator(".cm-content")
    await editor.wait_for()
    await page.get_by_text("trigger: state").wait_for()
    # Break the trigger: the hub names the problem and the editor marks its line.
    line = page.locator(".cm-line", has_text="trigger: state")
    await line.click()
    await page.keyboard.press("End")
    for _ in range(len("state")):
        await page.keyboard.press("Backspace")
    await page.keyboard.type("nonsense")
    problem = page.get_by_test_id("problem")
    await problem.wait_for()
    text = await problem.inner_text()
    broken_line = await page.evaluate(
        "() => [...document.querySelectorAll('.cm-line')].findIndex(l => l.textContent.includes('nonsense')) + 1"
    )
    assert f"Line {broken_line}:" in text and "unknown trigger platform" in text, text
    await page.locator(".cm-lintRange-error").first.wait_for()
    await screenshots(page, "automation-editor-error")

    # Fix it: the problem goes away.
    for _ in range(len("nonsense")):
        await page.keyboard.press("Backspace")
    await page.keyboard.type("state")
    await page.get_by_text("The hub accepts this automation.").wait_for()
    assert await page.get_by_test_id("problem").count() == 0

    # Run it, then open its trace step by step.
    await page.get_by_role("button", name="Run now").click()
    await wait_until(lambda: site.hub.states.get("select.relay_node_mode").state == "manual")
    await page.get_by_role("button", name="Open trace").first.click()
    steps = page.get_by_test_id("trace-step")
    await steps.first.wait_for()
    assert "action/0" in await page.get_by_test_id("trace").inner_text()
    await screenshots(page, "automation-trace")
