"""The Users page at desktop and phone widths: a table on a desktop, one card per user on a phone,
with nothing to scroll sideways and every control in reach."""

from __future__ import annotations

import asyncio
from typing import Any

from .conftest import HubSite, login_with_token, screenshots

PHONE, DESKTOP = (390, 844), (1280, 860)


async def _sideways(page: Any) -> int:
    """How far the users list scrolls sideways (0 when everything fits)."""
    return int(await page.evaluate(
        "() => { const w = document.querySelector('.users-wrap'); return w.scrollWidth - w.clientWidth; }"
    ))


async def test_users_page_lays_out_as_cards_on_a_phone(site: HubSite, page: Any) -> None:
    auth = site.hub.auth
    await auth.add_user("bob", "bob's long password", "user")
    await auth.add_user("carol-with-a-rather-long-name", "carol's long password", "read-only")
    await login_with_token(page, site, "/users")
    bob = page.locator('[data-user="bob"]')
    await bob.wait_for()

    # Desktop: a table with its column headers.
    await page.set_viewport_size({"width": DESKTOP[0], "height": DESKTOP[1]})
    await page.get_by_role("columnheader", name="Role").wait_for()
    assert await _sideways(page) == 0

    # Phone: no header row, each user a card whose fields say what they are, nothing sideways.
    await page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    assert not await page.get_by_role("columnheader", name="Role").is_visible()
    assert await _sideways(page) <= 1, "the users list scrolls sideways on a phone"
    for label in ("Role", "Active"):
        assert await bob.locator(f'td[data-label="{label}"]').is_visible()
    box = await bob.bounding_box()
    assert box is not None and box["width"] <= PHONE[0]
    for control in (bob.get_by_label("Role of bob"), bob.get_by_label("bob may log in"),
                    bob.get_by_role("button", name="Reset password"), bob.get_by_role("button", name="Remove")):
        control_box = await control.bounding_box()
        assert control_box is not None and control_box["x"] >= 0 and control_box["x"] + control_box["width"] <= PHONE[0]

    # The controls still work there: bob becomes read-only.
    await bob.get_by_label("Role of bob").select_option("read-only")
    await page.wait_for_function("() => document.querySelector('[data-user=\"bob\"] select').value === 'read-only'")
    # The select shows the choice at once; the hub has it once its answer came (later on a loaded machine).
    for _ in range(250):
        role = {u.name: u.role for u in await auth.list_users()}["bob"]
        if role == "read-only":
            break
        await asyncio.sleep(0.02)
    assert role == "read-only"
    # Resetting a password opens a field in the card, which still fits.
    await bob.get_by_role("button", name="Reset password").click()
    field = bob.get_by_label("New password for bob")
    await field.wait_for()
    field_box = await field.bounding_box()
    assert field_box is not None and field_box["x"] + field_box["width"] <= PHONE[0]
    assert await _sideways(page) <= 1
    await screenshots(page, "users-page", {"phone": PHONE, "desktop": DESKTOP})
