"""A rule made over /api/v1 is an automation of the web editor, and an edit there is the rule's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.frontend.conftest import login_with_token, screenshots

pytestmark = pytest.mark.timeout(180)

RULE = {
    "id": "api_rule",
    "alias": "Made over the API",
    "triggers": [{"trigger": "state", "entity_id": "sensor.relay_node_power"}],
    "actions": [{"action": "select.select_option", "target": {"entity_id": "select.relay_node_mode"},
                 "data": {"option": "manual"}}],
}


async def test_a_rule_from_the_api_is_edited_in_the_editor(tmp_path: Path, start_site: Any, page: Any) -> None:
    (tmp_path / "config0").mkdir()
    (tmp_path / "config0" / "automations.yaml").write_text("[]\n")
    site = await start_site("automation: !include automations.yaml\n")
    headers = {"Authorization": f"Bearer {site.token}"}
    url = f"{site.url}/api/v1/automation/rules"
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json=RULE, headers=headers) as answer:
            assert answer.status == 201, await answer.text()

        await login_with_token(page, site, "/automations")
        row = page.locator('tr[data-entity-id="automation.made_over_the_api"]')
        await row.wait_for()
        await row.get_by_role("link", name="Made over the API").click()
        await page.locator(".cm-content").wait_for()
        line = page.locator(".cm-line", has_text="alias: Made over the API")
        await line.wait_for()
        await line.click()
        await page.keyboard.press("End")
        for _ in range(len("over the API")):
            await page.keyboard.press("Backspace")
        await page.keyboard.type("in the editor")
        await page.get_by_role("button", name="Save", exact=True).click()
        await page.get_by_text("Saved to automations.yaml.").wait_for()
        await screenshots(page, "rule-in-editor")

        async with http.get(f"{url}/api_rule", headers=headers) as answer:
            rule = await answer.json()
        assert rule["alias"] == "Made in the editor"
        assert rule["config"]["triggers"] == RULE["triggers"] and rule["state"] == "on"
