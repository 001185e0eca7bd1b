"""The PowerTrack flow end to end, over /api/v1 only, with the node as a simulated device on MQTT.

A user logs in, provisions a node (POST /api/v1/devices), runs the firmware simulator with the
config.json the hub gave, sees the node in the device list, watches /api/v1/realtime, creates a
rule "power above 2 kW for 10 s -> relay off", sees telemetry.live, automation.trigger and
command.status confirmed, and queries an hour of telemetry at 5 minutes. The embedded Mosquitto
(dynamic security) is the broker; the rule's `for:` runs on the hub's manual clock, the node, the
broker and the recorder in real time.
"""

from __future__ import annotations

import asyncio
import json
import textwrap
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from integrations.mqtt.dynsec import find_plugin

pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(find_plugin() is None, reason="mosquitto with dynamic security is not installed"),
]

PASSWORD = "correct horse battery"
CONFIG = """\
homeassistant:
  name: PowerTrack
mqtt:
  embedded:
    bind: 127.0.0.1
    port: 0
    tls_port: 0
    host: 127.0.0.1
relay:
  timeout: 5
recorder:
  commit_interval: 0.2
automation: !include automations.yaml
"""


async def until(condition: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
    """Wait for condition() with a deadline, checking every 20 ms."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
    return result


class Realtime:
    """A /api/v1/realtime client that keeps every message it got."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.messages: list[dict[str, Any]] = []
        self.task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type is aiohttp.WSMsgType.TEXT:
                self.messages.append(json.loads(message.data))

    def of(self, kind: str, **fields: Any) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind and all(m.get(k) == v for k, v in fields.items())]


class PowerTrack:
    """The hub, its manual clock, the simulated node and a logged-in API client."""

    def __init__(self, runtime: Any, clock: Any, http: aiohttp.ClientSession, tmp_path: Path) -> None:
        self.runtime, self.hub, self.clock, self.http = runtime, runtime.hub, clock, http
        self.url = f"{runtime.url}/api/v1"
        self.tmp_path = tmp_path
        self.watts = [500.0]  # what the node's load draws now
        self.fleet: Any = None
        self.device_id = ""
        self.realtime: Realtime | None = None

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with self.http.request(method, f"{self.url}{path}", **kwargs) as response:
            body = await response.json() if response.content_type == "application/json" else await response.text()
            return response.status, body

    async def log_in(self) -> None:
        status, tokens = await self.call("POST", "/auth/login", json={"username": "pat", "password": PASSWORD})
        assert status == 200, tokens
        self.http.headers["Authorization"] = f"Bearer {tokens['access_token']}"

    async def provision_and_run_the_node(self) -> None:
        from firmware.sim.fleet import Fleet
        from firmware.sim.profiles import Load

        status, answer = await self.call("POST", "/devices", json={"node_id": "heat-pump", "name": "Heat pump",
                                                                    "location": "utility room", "kind": "powerhub"})
        assert status == 201, answer
        self.device_id = answer["id"]
        config = {**answer["setup"]["config.json"], "telemetry_interval": 0.2}
        self.fleet = Fleet("mqtt://127.0.0.1:1", 0, self.tmp_path / "fleet")
        node = self.fleet.add(config)
        node.board.meter.loads = [Load("heat pump", lambda t: self.watts[0], 0.95)]
        stop = threading.Event()
        thread = threading.Thread(target=self.fleet.run, args=(stop, 0.02), daemon=True)
        thread.start()
        self._stop = (stop, thread)

    async def see_the_node_in_the_device_list(self) -> dict[str, Any]:
        async def listed() -> dict[str, Any] | None:
            status, devices = await self.call("GET", "/devices")
            assert status == 200
            found = [d for d in devices if d["id"] == self.device_id]
            if not found or not found[0]["online"] or found[0]["power"] is None:
                return None
            relays = {c["entity_id"] for c in found[0]["capabilities"]["commands"] if c["command"] == "off"}
            ready = any(e["entity_id"] in relays and e["state"] in ("on", "off") for e in found[0]["entities"])
            return found[0] if ready else None

        deadline = time.monotonic() + 15
        while (device := await listed()) is None:
            assert time.monotonic() < deadline, "the node never showed online with its power in /api/v1/devices"
            await asyncio.sleep(0.1)
        return device

    async def watch(self) -> Realtime:
        ws = await self.http.ws_connect(f"{self.url}/realtime")
        assert await ws.receive_json(timeout=5) == {"type": "auth_ok"}
        await ws.send_json({"action": "subscribe", "device_ids": [self.device_id]})
        assert await ws.receive_json(timeout=5) == {"type": "subscribed"}
        self.realtime = Realtime(ws)
        return self.realtime

    async def switch(self, command: str) -> dict[str, Any]:
        """Switch the node's relay through POST .../commands?wait and return the confirmed command."""
        status, answer = await self.call("POST", f"/devices/{self.device_id}/commands?wait=10", json={"command": command})
        assert status == 200 and (answer["success"], answer["newState"]) == (True, command), answer
        return dict(answer["command"])

    def power_entity(self, device: dict[str, Any]) -> str:
        return next(m["entity_id"] for m in device["capabilities"]["metrics"] if m["device_class"] == "power")

    def relay(self, device: dict[str, Any]) -> str:
        return next(c["entity_id"] for c in device["capabilities"]["commands"] if c["command"] == "off")

    async def close(self) -> None:
        if self.realtime is not None:
            await self.realtime.ws.close()
            self.realtime.task.cancel()
        if self.fleet is not None:
            stop, thread = self._stop
            stop.set()
            await asyncio.get_running_loop().run_in_executor(None, thread.join, 10)
            self.fleet.close()


@pytest.fixture
async def powertrack(tmp_path: Path) -> AsyncIterator[PowerTrack]:
    from hub import bootstrap
    from hub.core.clock import ManualClock
    from integrations.relay import manager_of

    errors: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    config = tmp_path / "config"
    config.mkdir()
    (config / "configuration.yaml").write_text(textwrap.dedent(CONFIG))
    (config / "automations.yaml").write_text("[]\n")
    runtime = await bootstrap.start(config, tmp_path / "data", port=0)
    hub = runtime.hub
    await hub.auth.add_user("pat", PASSWORD, "owner")
    clock = ManualClock(time.time())
    hub.clock = clock  # rules created from now on time their `for:` on it
    manager_of(hub).clock = clock
    async with aiohttp.ClientSession() as http:
        flow = PowerTrack(runtime, clock, http, tmp_path)
        try:
            yield flow
        finally:
            await flow.close()
            await bootstrap.stop(runtime)
            loop.set_exception_handler(previous)
    if errors:
        pytest.fail(f"Unhandled errors in the event loop: {errors}")


async def test_the_node_is_provisioned_listed_streamed_and_commanded(powertrack: PowerTrack) -> None:
    """The flow's device half: everything but the rule and the telemetry query."""
    flow = powertrack
    await flow.log_in()
    await flow.provision_and_run_the_node()
    device = await flow.see_the_node_in_the_device_list()
    assert (device["name"], device["location"], device["manufacturer"]) == ("Heat pump", "utility room", "powerhub")
    assert device["firmware_version"] == "1.0.0" and device["last_seen"] and device["power"] == 0.0  # relay off
    realtime = await flow.watch()
    power = flow.power_entity(device)
    command = await flow.switch("on")
    statuses = [m["command"]["status"] for m in realtime.of("command.status") if m["command"]["id"] == command["id"]]
    assert statuses[-1] == "confirmed" and statuses[0] in ("sent", "acknowledged")
    await until(lambda: [m for m in realtime.of("telemetry.live", entity_id=power) if 450 <= m["value"] <= 550],
                "telemetry.live of the load drawing 500 W")
    status, listed = await flow.call("GET", f"/devices/{flow.device_id}")
    assert status == 200 and 450 <= listed["power"] <= 550
    await flow.switch("off")
    await until(lambda: [m for m in realtime.of("telemetry.live", entity_id=power) if m["value"] == 0], "the load off")
    status, history = await flow.call("GET", f"/devices/{flow.device_id}/commands")
    assert [(c["command"], c["status"]) for c in history] == [("off", "confirmed"), ("on", "confirmed")]
    # The firmware's restart button is the device's reboot command.
    assert any(c["command"] == "reboot" for c in device["capabilities"]["commands"])
    status, answer = await flow.call("POST", f"/devices/{flow.device_id}/commands?wait=5", json={"command": "reboot"})
    assert status == 200 and answer["success"] is True, answer
    await until(lambda: flow.fleet.nodes[0].reboots == 1, "the node rebooting")


async def test_powertrack_flow(powertrack: PowerTrack) -> None:
    flow = powertrack
    await flow.log_in()
    await flow.provision_and_run_the_node()
    device = await flow.see_the_node_in_the_device_list()
    realtime = await flow.watch()
    power, relay = flow.power_entity(device), flow.relay(device)
    await flow.switch("on")
    rule = {
        "alias": "Heat pump above 2 kW",
        "description": "Power above 2 kW for 10 s switches the relay off",
        "triggers": [{"trigger": "numeric_state", "entity_id": power, "above": 2000, "for": {"seconds": 10}}],
        "actions": [{"action": "switch.turn_off", "target": {"entity_id": relay}}],
        "mode": "single",
    }
    status, created = await flow.call("POST", "/automation/rules", json=rule)
    assert status == 201, created

    # The hub's clock is manual: move it on, so that the 2.5 kW reading is stamped after the ones
    # before it (the recorder keeps one point per entity and time).
    await flow.clock.advance(1.0)
    flow.watts[0] = 2500.0
    await until(lambda: [m for m in realtime.of("telemetry.live", entity_id=power) if m["value"] > 2000],
                "telemetry.live above 2 kW")
    await flow.clock.advance(10.1)  # ten seconds above the threshold
    [trigger] = await until(lambda: realtime.of("automation.trigger"), "automation.trigger")
    assert trigger["name"] == "Heat pump above 2 kW"
    await until(lambda: [m for m in realtime.of("command.status") if m["command"]["status"] == "confirmed"],
                "command.status confirmed")
    await until(lambda: flow.hub.states.get(relay).state == "off", "the relay off")

    end = datetime.fromtimestamp(flow.clock.time(), UTC)  # the hub's time, which the readings carry
    start = end - timedelta(hours=1)
    query = {"device_id": flow.device_id, "entity_id": power, "start": start.isoformat(), "end": end.isoformat(),
             "aggregate": "5m", "fn": "max"}
    series: dict[str, Any] = {}
    for _ in range(50):  # the recorder commits on its own interval: the reading is there within it
        status, series = await flow.call("GET", "/telemetry", params=query)
        assert status == 200, series
        if any(row["value"] > 2000 for row in series["data"]):
            break
        await asyncio.sleep(0.1)
    assert [row["value"] for row in series["data"] if row["value"] > 2000], series
    assert all(row["ts"] % 300 == 0 for row in series["data"]), series  # 5-minute buckets
