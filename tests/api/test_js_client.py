"""Home Assistant's official JavaScript client (home-assistant-js-websocket) against the hub."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

import pytest

from .conftest import Api

JS_DIR = Path(__file__).parent / "js"


async def _run(*args: str, cwd: Path, timeout: float) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *args, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout)
    finally:
        if process.returncode is None:  # timed out (or the test was stopped): not left running
            process.kill()
            await process.wait()
    return process.returncode or 0, output.decode(errors="replace")


@pytest.fixture
async def node_client() -> Path:
    """The client folder with its npm packages installed (npm ci on first use)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        if os.environ.get("HUB_REQUIRE_SERVICES") == "1":
            pytest.fail("node and npm are required (HUB_REQUIRE_SERVICES=1)")
        pytest.skip("node/npm not installed: cannot run Home Assistant's JavaScript client")
    if not (JS_DIR / "node_modules" / "home-assistant-js-websocket").is_dir():
        code, output = await _run(npm, "ci", "--no-audit", "--no-fund", cwd=JS_DIR, timeout=50)
        assert code == 0, f"npm ci failed:\n{output}"
    return JS_DIR / "client.mjs"


@pytest.mark.timeout(90)
async def test_home_assistant_js_websocket_client(api: Api, node_client: Path) -> None:
    await api.hub.area_registry.create("Boiler room", aliases=["Utility"])
    await api.hub.area_registry.create("Attic")
    (node,) = api.hub.device_registry.devices
    await api.hub.device_registry.update(node.id, area_id="boiler_room")
    process = await asyncio.create_subprocess_exec(
        shutil.which("node") or "node", str(node_client),
        env={**os.environ, "HUB_URL": api.url, "HUB_TOKEN": api.tokens["user"],
             "HUB_ADMIN_TOKEN": api.tokens["admin"]},
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None

    async def line() -> str:
        text = (await asyncio.wait_for(process.stdout.readline(), 30)).decode().strip()
        if not text:
            error = (await process.stderr.read()).decode()
            pytest.fail(f"the JS client ended early:\n{error}")
        return text

    try:
        kind, _, payload = (await line()).partition(" ")
        assert kind == "STATES"
        # subscribeEntities delivered every state the hub has.
        assert json.loads(payload) == sorted(api.hub.states.entity_ids())
        # Then the changes: a state set in the hub reaches the client's entity map.
        api.hub.states.set("sensor.test_power", "1234", {"unit_of_measurement": "W"})
        process.stdin.write(b"CHANGE sensor.test_power 1234\n")
        await process.stdin.drain()
        assert await line() == "CHANGED"
        # callService toggles the relay, and the client sees the new state.
        assert await line() == "TOGGLED on"
        assert api.hub.states.get("switch.test_relay").state == "on"
        # The entity and device registries, as HA's frontend lists them.
        kind, _, payload = (await line()).partition(" ")
        assert kind == "REGISTRY"
        assert json.loads(payload) == {
            "entities": sorted(e.entity_id for e in api.hub.entity_registry),
            "devices": ["Relay node"],
        }
        # The area registry, and the device's area, as HA's frontend lists them.
        kind, _, payload = (await line()).partition(" ")
        assert kind == "AREAS"
        assert json.loads(payload) == {
            "areas": [["attic", "Attic", []], ["boiler_room", "Boiler room", ["Utility"]]],
            "deviceAreas": ["boiler_room"],
        }
        # render_template renders, then renders again when the entity it read changes.
        assert await line() == "RENDERED Relay is on"
        assert await line() == "RERENDERED Relay is off"
        assert await asyncio.wait_for(process.wait(), 10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
