"""The Add device page: an admin registers a node and gets its config.json, whose password logs in."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from integrations.mqtt import runtime_of
from integrations.mqtt.dynsec import find_plugin
from tests.frontend.conftest import login_with_token, screenshots
from tests.integrations.mqtt.lan_broker import connect_code

pytestmark = pytest.mark.skipif(find_plugin() is None, reason="mosquitto with dynamic security not installed")

LAN = "mqtt:\n  embedded:\n    bind: 0.0.0.0\n    port: 0\n    tls_port: 0\n    host: 127.0.0.1\n"


async def test_add_device_page_shows_config_json_once(start_site: Any, page: Any) -> None:
    site = await start_site(LAN)
    broker = runtime_of(site.runtime.hub).broker
    await login_with_token(page, site)
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Add device").click()
    await page.get_by_role("heading", name="Add device").wait_for()
    await page.get_by_label("Node id").fill("kitchen-1")
    await page.get_by_label("Name").fill("Kitchen")
    await page.get_by_label("Location").fill("kitchen")
    await screenshots(page, "add-device-form")
    await page.get_by_role("button", name="Add device").click()
    shown = json.loads(await page.get_by_test_id("setup-config-json").inner_text())
    assert shown["node_id"] == "kitchen-1" and shown["mqtt"]["port"] == broker.tls_port
    assert shown["mqtt"]["fingerprint"] == broker.tls.fingerprint
    password = await page.get_by_test_id("device-password").inner_text()
    assert password == shown["mqtt"]["password"]
    assert await asyncio.to_thread(connect_code, broker.port, "kitchen-1", password, "kitchen-1") == 0
    await screenshots(page, "add-device-result")
    # Tasmota: the console line to paste.
    await page.get_by_role("button", name="Add another device").click()
    await page.get_by_label("Kind").select_option("tasmota")
    await page.get_by_label("Node id").fill("plug-1")
    await page.get_by_role("button", name="Add device").click()
    console = await page.get_by_test_id("setup-console").inner_text()
    assert "MqttUser plug-1" in console and "SetOption19 1" in console
    # A taken node id is refused with the reason.
    await page.get_by_role("button", name="Add another device").click()
    await page.get_by_label("Node id").fill("plug-1")
    await page.get_by_role("button", name="Add device").click()
    await page.get_by_role("alert").filter(has_text="exists already").wait_for()
