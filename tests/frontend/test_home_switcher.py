"""The home switcher, in a real browser against a real hub of three homes (PostgreSQL, Mosquitto).

alice is admin in Flat A and read-only in Flat B (tenant acme); the Villa is another tenant's
(carol's); bob has Flat A only. Each home has a relay of its own from MQTT discovery under the
home's root. The switcher lists exactly alice's homes, switching shows the other home's relay
and never the first's, the controls follow her role in each, the choice outlives a reload, and
a user with one home sees no switcher (a single-home hub shows none either:
test_roles_and_menu.py, whose hub is one home).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import pytest
import pytest_asyncio

from hub import bootstrap
from tests.frontend.conftest import HubSite, login_with_token, screenshots, wait_until
from tests.homes.conftest import grant_roles, make_roles
from tests.hubs import write_config

pytestmark = pytest.mark.timeout(180)

WIDTHS = {"phone": (390, 844), "desktop": (1280, 860)}
HOMES_YAML = """
frontend:
scene:
homes:
  - id: flat-a
    tenant: acme
    name: Flat A
    topic_root: {run}/flat-a/
    members: {alice: admin, bob: user}
  - id: flat-b
    tenant: acme
    name: Flat B
    topic_root: {run}/flat-b/
    members: {alice: read-only}
  - id: villa
    tenant: zenith
    name: Villa
    topic_root: {run}/villa/
    members: {carol: owner}
"""
RELAYS = {"flat-a": "switch.flat_a_meter_flat_a_relay", "flat-b": "switch.flat_b_meter_flat_b_relay",
          "villa": "switch.villa_meter_villa_relay"}


@dataclass(slots=True)
class Homes:
    runtime: bootstrap.Runtime
    url: str
    tokens: dict[str, str]

    def site(self, user: str) -> HubSite:
        return HubSite(self.runtime, self.url, self.tokens[user])


async def _announce_relays(runtime: bootstrap.Runtime, broker: Any) -> None:
    """Each home's relay, from a discovery config under its root, switched on."""
    assert runtime.homes is not None
    async with aiomqtt.Client(broker.host, broker.port, identifier=f"relays-{uuid.uuid4().hex[:6]}") as device:
        for home_id, entity_id in RELAYS.items():
            home = runtime.homes.get(home_id)
            assert home is not None
            root, label = home.record.topic_root, home.record.name
            config = {"name": f"{label} relay", "unique_id": f"{home_id}_relay", "command_topic": f"{root}relay/set",
                      "state_topic": f"{root}relay/state", "device": {"identifiers": [f"{home_id}_meter"],
                                                                    "name": f"{label} meter"}}
            await device.publish(f"{root}homeassistant/switch/{home_id}/relay/config", json.dumps(config), qos=1,
                                 retain=True)
            await wait_until(lambda h=home, e=entity_id: h.hub.states.get(e) is not None, 15)
            await device.publish(f"{root}relay/state", "ON", qos=1, retain=True)
            await wait_until(lambda h=home, e=entity_id: h.hub.states.get(e).state == "on", 15)


@pytest_asyncio.fixture(scope="module", loop_scope="session")  # the browser's loop (tests/frontend/conftest.py)
async def homes(tmp_path_factory: pytest.TempPathFactory, frontend_dist: Path, postgres_server: Any,
                mosquitto_server: Any) -> AsyncIterator[Homes]:
    """One hub of three homes for the module, with long-lived tokens for alice, bob and carol."""
    tmp_path = tmp_path_factory.mktemp("switcher")
    # As a many-homes install runs: migrated by the owner, served as an application role.
    roles = await make_roles(postgres_server.url(postgres_server.create_database()))
    text = (f"{roles.storage_yaml()}mqtt:\n  broker: {mosquitto_server.url}\n"
            + HOMES_YAML.replace("{run}", f"s{uuid.uuid4().hex[:8]}"))
    config_dir = write_config(tmp_path / "config", text)
    checked = await grant_roles(roles, config_dir)
    runtime = await bootstrap.start(config_dir, tmp_path / "data", port=0, checked=checked)
    try:
        assert runtime.homes is not None
        tokens = {}
        # Each user is made in a home of theirs (the roles `homes: members:` lists follow them).
        for name, home_id, role in (("alice", "flat-a", "admin"), ("bob", "flat-a", "user"),
                                    ("carol", "villa", "owner")):
            home = runtime.homes.get(home_id)
            assert home is not None
            home.auth._rounds = 4  # hashing is not what these tests measure
            user = await home.auth.add_user(name, "correct horse battery", role=role)
            tokens[name] = await home.auth.create_long_lived_token(user.id, "browser test", lifespan_days=1)
        await _announce_relays(runtime, mosquitto_server)
        # A scene in Flat A only, made over REST as the UI makes it (alice is admin there).
        headers = {"Authorization": f"Bearer {tokens['alice']}", "X-Home-Id": "flat-a"}
        async with aiohttp.ClientSession() as http, http.post(
                runtime.url + "/api/v1/scenes", headers=headers,
                json={"id": "flat_a_evening", "name": "Flat A evening", "entities": {RELAYS["flat-a"]: "off"}}) as answer:
            assert answer.status == 201, await answer.text()
        yield Homes(runtime, runtime.url, tokens)
    finally:
        await bootstrap.stop(runtime)


def relay(page: Any, home_id: str) -> Any:
    return page.locator(f'li[data-entity-id="{RELAYS[home_id]}"]')


def watch_homes(page: Any) -> dict[str, set[str | None]]:
    """From now on, collect the homes the page's API calls name: REST calls by header, sockets by query.

    The list of homes itself names none (it comes before the page knows which home is allowed).
    """
    named: dict[str, set[str | None]] = {"rest": set(), "socket": set()}
    page.on("websocket", lambda socket: named["socket"].add(socket.url.partition("home_id=")[2] or None))
    page.on("request", lambda request: named["rest"].add(request.headers.get("x-home-id"))
            if "/api/" in request.url and "/api/v1/homes" not in request.url else None)
    return named


async def test_the_switcher_lists_the_users_homes_and_switching_shows_the_other_homes_things(
        homes: Homes, page: Any) -> None:
    await login_with_token(page, homes.site("alice"))
    switcher = page.get_by_role("combobox", name="Home")
    await switcher.wait_for()
    # Exactly alice's homes, in the hub's order; the villa (another tenant's) is not among them.
    assert await switcher.locator("option").all_inner_texts() == ["Flat A", "Flat B"]
    assert await switcher.input_value() == "flat-a"
    # Flat A: her relay with its switch (admin); never Flat B's.
    await relay(page, "flat-a").get_by_role("switch").wait_for()
    banner = page.get_by_role("banner")
    await banner.get_by_test_id("role-badge").get_by_text("admin", exact=True).wait_for()
    assert await relay(page, "flat-b").count() == 0
    assert await relay(page, "villa").count() == 0
    # The switcher and the badge leave every page of an admin in the bar's one row.
    nav = page.get_by_role("navigation", name="Main")
    for name in ("Dashboard", "Devices", "Add device", "Users"):
        box = await nav.get_by_role("link", name=name, exact=True).bounding_box()
        assert box is not None and box["x"] + box["width"] <= 1280, name
    assert await page.evaluate("() => { const ul = document.querySelector('#main-nav ul'); return ul.scrollWidth <= ul.clientWidth; }")
    await screenshots(page, "home-switcher-flat-a", WIDTHS)

    named = watch_homes(page)
    await switcher.select_option(label="Flat B")
    await relay(page, "flat-b").get_by_test_id("state").wait_for()
    await banner.get_by_test_id("role-badge").get_by_text("read-only", exact=True).wait_for()
    # Read-only in Flat B: the relay's state without its switch, and Flat A's relay is gone.
    assert await relay(page, "flat-b").get_by_role("switch").count() == 0
    assert await relay(page, "flat-a").count() == 0
    assert await page.get_by_role("navigation", name="Main").get_by_role("link", name="Add device").count() == 0
    # Pages over the socket and over REST read Flat B: its devices, none of Flat A's scenes.
    await page.get_by_role("link", name="Devices").click()
    await page.get_by_role("heading", name="Devices").wait_for()
    await page.get_by_text("Flat B meter").first.wait_for()
    assert await page.get_by_text("Flat A meter").count() == 0
    await page.get_by_role("link", name="Scenes").click()
    await page.get_by_text("No scenes yet.").wait_for()
    assert await page.get_by_text("Flat A evening").count() == 0
    # The socket named Flat B in its URL, every REST call in its header.
    assert named == {"socket": {"flat-b"}, "rest": {"flat-b"}}
    await page.get_by_role("link", name="Dashboard").click()
    await relay(page, "flat-b").wait_for()
    await screenshots(page, "home-switcher-flat-b", WIDTHS)

    # The choice outlives a reload.
    await page.reload()
    await relay(page, "flat-b").wait_for()
    assert await switcher.input_value() == "flat-b"
    assert await relay(page, "flat-a").count() == 0

    # Back to Flat A: the switch comes back with her admin role, and Flat A's scene.
    await switcher.select_option("flat-a")
    await relay(page, "flat-a").get_by_role("switch").wait_for()
    await banner.get_by_test_id("role-badge").get_by_text("admin", exact=True).wait_for()
    assert await relay(page, "flat-b").count() == 0
    await page.get_by_role("link", name="Scenes").click()
    await page.locator("li[data-scene='flat_a_evening']").get_by_role("button", name="Edit").wait_for()


async def test_a_stored_home_no_longer_allowed_falls_back_to_the_first(homes: Homes, page: Any) -> None:
    await login_with_token(page, homes.site("alice"))
    await relay(page, "flat-a").wait_for()
    for gone in ("villa", "no-such-home"):  # another tenant's home, a home that is no more
        await page.evaluate("id => localStorage.setItem('hub.home', id)", gone)
        await page.reload()
        await relay(page, "flat-a").get_by_role("switch").wait_for()
        assert await page.get_by_role("combobox", name="Home").input_value() == "flat-a"
        assert await page.evaluate("() => localStorage.getItem('hub.home')") is None
        assert await relay(page, "villa").count() == 0


async def test_on_a_phone_the_switcher_is_in_the_menu_and_the_bar_names_the_home(homes: Homes, page: Any) -> None:
    await login_with_token(page, homes.site("alice"))
    await page.set_viewport_size({"width": 390, "height": 844})
    banner = page.get_by_role("banner")
    current = banner.get_by_test_id("current-home")
    await current.get_by_text("Flat A").wait_for()
    switcher = page.get_by_role("combobox", name="Home")
    assert not await switcher.is_visible()
    menu = page.get_by_role("button", name="Menu")
    await menu.click()
    await switcher.wait_for()
    await screenshots(page, "home-switcher-menu", {"phone": WIDTHS["phone"]})
    # Keyboard: from the Menu button, Tab reaches the switcher; arrows choose the next home.
    await menu.focus()
    for _ in range(5):
        await page.keyboard.press("Tab")
        if await switcher.evaluate("element => element === document.activeElement"):
            break
    assert await switcher.evaluate("element => element === document.activeElement"), "Tab never reached it"
    await switcher.select_option("flat-b")  # what Enter and the arrows do on the open list
    await current.get_by_text("Flat B").wait_for()
    await relay(page, "flat-b").get_by_test_id("state").wait_for()
    assert not await switcher.is_visible(), "the menu closes once a home is chosen"
    assert await relay(page, "flat-a").count() == 0
    await screenshots(page, "home-switcher-phone-flat-b", {"phone": WIDTHS["phone"]})


async def test_a_user_with_one_home_sees_no_switcher(homes: Homes, page: Any) -> None:
    named = watch_homes(page)
    await login_with_token(page, homes.site("bob"))
    await relay(page, "flat-a").get_by_role("switch").wait_for()
    # It names no home, as on a hub of one home: the hub acts in bob's only one.
    assert named["socket"] == {None} and named["rest"] <= {None}
    assert await page.get_by_role("combobox", name="Home").count() == 0
    assert await page.get_by_test_id("current-home").count() == 0
    assert await page.get_by_test_id("role-badge").count() == 0  # a user's role, as on a hub of one home
    assert await relay(page, "flat-b").count() == 0
