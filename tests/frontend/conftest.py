"""Browser tests: a real hub on a free port, Debian's chromium driven by Playwright.

Without /usr/bin/chromium (or `chromium` on PATH) they skip with the reason; with
HUB_REQUIRE_SERVICES=1 (CI) that is a failure instead. The UI is built with
scripts/build-frontend when frontend/dist is missing or older than its sources.

One chromium serves the whole session (launching one took 0.5-1.5 s per test); every test gets
a fresh browser context of its own (`page`): no cookies, storage or cache shared between tests.
Playwright's objects belong to the event loop that made them, so the browser tests and their
async fixtures run on the session's loop (`SESSION_LOOP`, added to them at collection); a
fixture a browser test uses is declared with `loop_scope="session"` too.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import textwrap
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from pytest_asyncio import is_async_test

from hub import bootstrap

try:  # Playwright's assertions wait for what they check; without the package the browser tests skip
    from playwright.async_api import expect

    expect.set_options(timeout=10_000)  # as long as a page's own waits (below): the machine may be busy
except ImportError:  # pragma: no cover - chromium_path() says why
    expect = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "frontend"
DIST_INDEX = FRONTEND / "dist" / "index.html"
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
OWNER, PASSWORD = "owner", "correct horse battery"
WIDTHS = {"phone": (360, 740), "desktop": (1280, 860)}
HERE = Path(__file__).resolve().parent
SESSION_LOOP = pytest.mark.asyncio(loop_scope="session")
BROWSER_FIXTURES = {"page", "browser", "start_site", "site"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the browser tests here on the session's loop, where the one chromium lives."""
    for item in items:
        if (is_async_test(item) and HERE in item.path.parents
                and BROWSER_FIXTURES & set(getattr(item, "fixturenames", ()))):
            item.add_marker(SESSION_LOOP, append=False)


def _unavailable(reason: str) -> None:
    if os.environ.get("HUB_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (HUB_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Path of the system chromium; skip (or fail in CI) without it."""
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if found is None:
        _unavailable("chromium is not installed (apt-get install chromium)")
    try:
        import playwright.async_api  # noqa: F401, PLC0415
    except ImportError:
        _unavailable("the playwright Python package is not installed (pip install -e '.[test]')")
    return found  # type: ignore[return-value]


def _sources_newer_than_dist() -> bool:
    if not DIST_INDEX.exists():
        return True
    built = DIST_INDEX.stat().st_mtime
    watched = [FRONTEND / "index.html", FRONTEND / "package-lock.json", FRONTEND / "vite.config.ts"]
    watched += list((FRONTEND / "src").rglob("*"))
    return any(p.is_file() and p.stat().st_mtime > built for p in watched)


@pytest.fixture(scope="session")
def frontend_dist() -> Path:
    """frontend/dist, built now when missing or stale."""
    if _sources_newer_than_dist():
        if shutil.which("npm") is None:
            _unavailable("npm is not installed, so the web UI cannot be built")
        subprocess.run([str(ROOT / "scripts" / "build-frontend")], check=True, timeout=600)
    return DIST_INDEX.parent


@dataclass
class HubSite:
    """A running hub with an owner, a long-lived token and the demo devices."""

    runtime: bootstrap.Runtime
    url: str
    token: str

    @property
    def hub(self) -> Any:
        return self.runtime.hub

    def entity(self, entity_id: str) -> Any:
        return self.hub.entities.get(entity_id)


def write_config(config_dir: Path, extra_yaml: str = "", extra_sensors: int = 0,
                 integrations: dict[str, str] | None = None) -> Path:
    """configuration.yaml with the frontend and the demo integration (plus extra_yaml and custom integrations)."""
    config_dir.mkdir(parents=True, exist_ok=True)
    body = f"""
        homeassistant:
          name: Test home
          time_zone: UTC
        logger:
          default: warning
        frontend:
        demo:
          extra_sensors: {extra_sensors}
    """
    (config_dir / "configuration.yaml").write_text(textwrap.dedent(body) + textwrap.dedent(extra_yaml))
    folder = config_dir / "custom_integrations" / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "__init__.py").write_text((Path(__file__).parent / "demo_integration.py").read_text())
    (folder / "manifest.json").write_text('{"domain": "demo", "name": "Demo", "version": "1.0"}')
    for domain, source in (integrations or {}).items():
        folder = config_dir / "custom_integrations" / domain
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "__init__.py").write_text(textwrap.dedent(source))
        (folder / "manifest.json").write_text(f'{{"domain": "{domain}", "name": "{domain}", "version": "1.0"}}')
    return config_dir


@pytest_asyncio.fixture(loop_scope="session")
async def start_site(tmp_path: Path, frontend_dist: Path) -> AsyncIterator[Callable[..., Awaitable[HubSite]]]:
    """Start hubs with the demo devices and an owner; stop them at the end of the test."""
    started: list[bootstrap.Runtime] = []
    errors: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))

    async def start(extra_yaml: str = "", extra_sensors: int = 0, integrations: dict[str, str] | None = None) -> HubSite:
        config = write_config(tmp_path / f"config{len(started)}", extra_yaml, extra_sensors, integrations)
        runtime = await bootstrap.start(config, tmp_path / f"data{len(started)}", port=0)
        started.append(runtime)
        auth = runtime.hub.auth
        auth._rounds = 4  # bcrypt's cost only slows the test down
        user = await auth.add_user(OWNER, PASSWORD, "owner")
        token = await auth.create_long_lived_token(user.id, "browser test")
        return HubSite(runtime, runtime.url, token)

    try:
        yield start
    finally:
        for runtime in started:
            await bootstrap.stop(runtime)
        loop.set_exception_handler(previous)
    if errors:
        pytest.fail(f"Unhandled errors in the event loop: {errors}")


@pytest_asyncio.fixture(loop_scope="session")
async def site(start_site: Callable[..., Awaitable[HubSite]]) -> HubSite:
    """One hub with the demo devices."""
    return await start_site()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser(chromium_path: str) -> AsyncIterator[Any]:
    """The session's headless chromium (a test gets a context of its own from `page`)."""
    from playwright.async_api import async_playwright  # noqa: PLC0415

    async with async_playwright() as playwright:
        instance = await playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            await instance.close()


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Any) -> AsyncIterator[Any]:
    """A desktop-sized page that fails the test on uncaught page errors and Content-Security-Policy violations.

    The hub serves every page with its CSP (hub/api/headers.py); what the policy blocks (an
    inline style or script, a foreign host) is reported on the console, and fails the test.
    """
    context = await browser.new_context(viewport={"width": 1280, "height": 860})
    page = await context.new_page()
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    page.on("console", lambda message: page_errors.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text else None)
    page.set_default_timeout(10_000)
    try:
        yield page
    finally:
        await context.close()
    assert not page_errors, f"Errors in the page: {page_errors}"


async def login_with_token(page: Any, site: HubSite, path: str = "/") -> None:
    """Open the UI and log in with the site's long-lived token."""
    await page.goto(site.url + path)
    await page.get_by_role("button", name="Use a long-lived access token instead").click()
    await page.get_by_label("Long-lived access token").fill(site.token)
    await page.get_by_role("button", name="Log in", exact=True).click()
    await page.get_by_role("navigation", name="Main").wait_for()


async def screenshots(page: Any, name: str, widths: dict[str, tuple[int, int]] | None = None) -> list[Path]:
    """Save the page at phone and desktop width to tests/frontend/screenshots/<name>-<width>.png."""
    SCREENSHOTS.mkdir(exist_ok=True)
    original = page.viewport_size
    saved = []
    for label, (width, height) in (widths or WIDTHS).items():
        await page.set_viewport_size({"width": width, "height": height})
        await page.evaluate("() => { window.scrollTo(0, 0); return new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r))); }")
        path = SCREENSHOTS / f"{name}-{width}.png"
        await page.screenshot(path=str(path), full_page=True)
        saved.append(path)
        overflow = await page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{name} scrolls sideways by {overflow}px at {width}px ({label})"
    if original:
        await page.set_viewport_size(original)
    return saved


async def wait_until(condition: Callable[[], Any], timeout: float = 5.0) -> None:
    """Wait (without sleeping blindly) until condition() is true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
