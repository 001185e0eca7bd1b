"""A real hub with a test relay and users of every role, and a small WebSocket client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub import bootstrap
from tests.hubs import write_config

DEVICES = """
import voluptuous as vol
from hub import hookimpl
from hub.core.entity import SensorEntity, SwitchEntity
from hub.core.services import SupportsResponse
from hub.exceptions import HubError


NODE = {"identifiers": [["testdevices", "node-1"]], "name": "Relay node", "manufacturer": "Acme",
        "model": "R1", "sw_version": "1.0"}


class Relay(SwitchEntity):
    def __init__(self, name, unique_id):
        self.name = name
        self.unique_id = unique_id
        self.is_on = False
        self.device_info = NODE

    async def turn_on(self, **kwargs):
        self.is_on = True
        self.write_state()

    async def turn_off(self, **kwargs):
        self.is_on = False
        self.write_state()


class Meter(SensorEntity):
    def __init__(self):
        self.name = "Test power"
        self.unique_id = "power1"
        self.native_value = 42
        self.unit_of_measurement = "W"
        self.device_class = "power"
        self.device_info = NODE


def fail(call):
    raise HubError("The relay did not answer")


@hookimpl
async def setup_integration(hub, config):
    await hub.entities.add(Relay("Test relay", "relay1"), "testdevices")
    await hub.entities.add(Meter(), "testdevices")
    hub.services.register("testdevices", "echo", lambda call: {"echo": call.data},
                          vol.Schema({vol.Optional("text"): str}),
                          supports_response=SupportsResponse.OPTIONAL,
                          description={"name": "Echo", "description": "Answer with the data",
                                       "fields": {"text": {"example": "hi"}}})
    hub.services.register("testdevices", "only", lambda call: {"ok": True},
                          supports_response=SupportsResponse.ONLY)
    hub.services.register("testdevices", "fail", fail)
"""

PASSWORD = "correct horse battery"


@dataclass
class Api:
    """A running hub and what tests need to talk to it."""

    runtime: bootstrap.Runtime
    session: aiohttp.ClientSession
    tokens: dict[str, str] = field(default_factory=dict)
    users: dict[str, Any] = field(default_factory=dict)

    @property
    def hub(self) -> Any:
        return self.runtime.hub

    @property
    def url(self) -> str:
        return self.runtime.url

    def headers(self, role: str = "owner") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    async def ws(self, role: str = "owner", *, coalesce: bool = False) -> WsClient:
        """Return an authenticated WebSocket client for a user of the role."""
        client = await WsClient.open(self.session, self.url)
        await client.authenticate(self.tokens[role])
        if coalesce:
            assert await client.command("supported_features", features={"coalesce_messages": 1}) is None
        return client


class WsClient:
    """A bare WebSocket client: numbered commands, answers matched by id, event queues."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 1
        self.frames: list[Any] = []  # every decoded frame, as received
        self._pending: list[dict[str, Any]] = []  # rest of a coalesced array
        self._aside: list[dict[str, Any]] = []  # received, not yet asked for

    @classmethod
    async def open(cls, session: aiohttp.ClientSession, url: str) -> WsClient:
        return cls(await session.ws_connect(f"{url}/api/websocket"))

    async def authenticate(self, token: str) -> dict[str, Any]:
        hello = await self.receive()
        assert hello["type"] == "auth_required"
        await self.send({"type": "auth", "access_token": token})
        answer = await self.receive()
        assert answer["type"] == "auth_ok", answer
        return answer

    async def send(self, msg: Any) -> None:
        await self.ws.send_str(msg if isinstance(msg, str) else json.dumps(msg))

    async def receive(self, timeout: float = 5.0) -> dict[str, Any]:
        """Return the next message (unpacking coalesced arrays)."""
        if self._pending:
            return self._pending.pop(0)
        msg = await self.ws.receive(timeout)
        assert msg.type is aiohttp.WSMsgType.TEXT, msg
        data = json.loads(msg.data)
        self.frames.append(data)
        if isinstance(data, list):
            self._pending.extend(data[1:])
            return data[0]  # type: ignore[no-any-return]
        return data  # type: ignore[no-any-return]

    async def send_command(self, type_: str, **fields: Any) -> int:
        msg_id = self.next_id
        self.next_id += 1
        await self.send({"id": msg_id, "type": type_, **fields})
        return msg_id

    async def _take(self, wanted: Any) -> dict[str, Any]:
        """Return the first message (kept aside or new) that wanted() accepts; keep the rest."""
        for index, msg in enumerate(self._aside):
            if wanted(msg):
                return self._aside.pop(index)
        while True:
            msg = await self.receive()
            if wanted(msg):
                return msg
            self._aside.append(msg)

    async def result(self, msg_id: int) -> dict[str, Any]:
        """Return the result message of msg_id (events meanwhile are kept for event())."""
        return await self._take(lambda m: m.get("id") == msg_id and m["type"] in ("result", "pong"))

    async def command(self, type_: str, **fields: Any) -> Any:
        """Send a command and return its result; fail the test on an error result."""
        answer = await self.result(await self.send_command(type_, **fields))
        assert answer.get("success"), answer
        return answer["result"]

    async def error(self, type_: str, **fields: Any) -> dict[str, Any]:
        """Send a command that must fail; return its error {code, message}."""
        answer = await self.result(await self.send_command(type_, **fields))
        assert answer["success"] is False, answer
        return answer["error"]  # type: ignore[no-any-return]

    async def event(self, sub_id: int) -> Any:
        """Return the next event payload of a subscription."""
        return (await self._take(lambda m: m["type"] == "event" and m["id"] == sub_id))["event"]


@pytest.fixture
async def api(tmp_path: Path, start_hub) -> AsyncIterator[Api]:  # type: ignore[no-untyped-def]  # noqa: F811
    """A started hub with switch.test_relay and sensor.test_power, and one user per role."""
    write_config(tmp_path / "config", "homeassistant:\n  name: Test home\ntestdevices:\n",
                 {"testdevices": DEVICES})
    runtime = await start_hub(tmp_path / "config")
    auth = runtime.hub.auth
    auth._rounds = 4  # bcrypt's minimum: the tests check behaviour, not hashing cost
    async with aiohttp.ClientSession() as session:
        api = Api(runtime, session)
        for role in ("owner", "admin", "user", "read-only"):
            user = await auth.add_user(role, PASSWORD, role)
            api.users[role] = user
            api.tokens[role] = await auth.create_long_lived_token(user.id, f"{role} test")
        yield api


async def wait_for(predicate: Any, timeout: float = 5.0) -> None:
    """Wait until predicate() is true, polling the loop (never a fixed sleep)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
