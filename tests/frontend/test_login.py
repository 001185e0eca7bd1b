"""Logging in with a password, and a silent token refresh that keeps the page."""

from __future__ import annotations

import asyncio

import pytest

from tests.frontend.conftest import OWNER, PASSWORD, screenshots

pytestmark = pytest.mark.timeout(120)


async def test_password_login_wrong_then_right_and_silent_refresh(site, page):
    await page.goto(site.url + "/history")
    await screenshots(page, "login")
    await page.get_by_label("User name").fill(OWNER)
    await page.get_by_label("Password").fill("wrong password")
    await page.get_by_role("button", name="Log in", exact=True).click()
    alert = page.get_by_role("alert")
    await alert.wait_for()
    if "does not offer password login" in await alert.inner_text():
        pytest.skip("this hub has no /api/v1/auth/login yet")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in", exact=True).click()
    await page.get_by_role("heading", name="History").wait_for()
    tokens = await page.evaluate("JSON.parse(localStorage.getItem('hub.tokens'))")
    assert tokens["refresh_token"] and tokens["expires_at"]

    # Pretend the access token expires now: the page refreshes it and stays where it is.
    await page.evaluate(
        "() => { const t = JSON.parse(localStorage.getItem('hub.tokens')); t.expires_at = Date.now() + 5000;"
        " localStorage.setItem('hub.tokens', JSON.stringify(t)); }"
    )
    await page.reload()
    await page.get_by_role("heading", name="History").wait_for()
    # Polled from here: page.wait_for_function compiles its predicate with eval, which the page's CSP forbids.
    deadline = asyncio.get_running_loop().time() + 15
    while await page.evaluate("JSON.parse(localStorage.getItem('hub.tokens')).refresh_token") == tokens["refresh_token"]:
        assert asyncio.get_running_loop().time() < deadline, "the access token was not refreshed within 15 s"
        await asyncio.sleep(0.1)
    assert await page.get_by_role("heading", name="History").count() == 1
    assert page.url.endswith("/history")
