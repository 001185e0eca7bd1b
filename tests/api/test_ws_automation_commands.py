"""validate_config and subscribe_trigger over the WebSocket, in Home Assistant's shapes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.hubs import write_config

from .conftest import DEVICES, PASSWORD, Api, wait_for


@pytest.fixture
async def api(tmp_path: Path, start_hub: Any) -> AsyncIterator[Api]:
    """The test devices and users of every role, with the automation integration loaded."""
    write_config(tmp_path / "config", "homeassistant:\n  name: Test home\ntestdevices:\nautomation: []\n",
                 {"testdevices": DEVICES})
    runtime = await start_hub(tmp_path / "config")
    runtime.hub.auth._rounds = 4
    async with aiohttp.ClientSession() as session:
        api = Api(runtime, session)
        for role in ("admin", "user"):
            user = await runtime.hub.auth.add_user(role, PASSWORD, role)
            api.tokens[role] = await runtime.hub.auth.create_long_lived_token(user.id, role)
        yield api


async def test_validate_config_names_what_is_wrong(api: Api) -> None:
    client = await api.ws("user")
    result = await client.command(
        "validate_config",
        trigger=[{"trigger": "state", "entity_id": "switch.test_relay"}],
        condition=[{"condition": "numeric_state", "entity_id": "sensor.test_power", "above": 10}],
        action=[{"action": "switch.turn_on", "target": {"entity_id": "switch.test_relay"}}],
    )
    assert result == {k: {"valid": True, "error": None} for k in ("trigger", "condition", "action")}
    broken = await client.command("validate_config", trigger={"trigger": "nonsense"},
                                  condition={"condition": "nope"})
    assert broken["trigger"]["valid"] is False and "unknown trigger platform 'nonsense'" in broken["trigger"]["error"]
    assert broken["condition"]["valid"] is False and "nope" in broken["condition"]["error"]
    assert set(broken) == {"trigger", "condition"}


async def test_subscribe_trigger_sends_each_firing_until_unsubscribed(api: Api) -> None:
    client = await api.ws("admin")
    sub = await client.send_command("subscribe_trigger", trigger={"platform": "state", "entity_id": "sensor.test_power"},
                                    variables={"who": "test"})
    assert (await client.result(sub))["success"] is True
    api.hub.states.set("sensor.test_power", "99", {"unit_of_measurement": "W"})
    event = await client.event(sub)
    assert event["variables"]["who"] == "test"
    trigger = event["variables"]["trigger"]
    assert trigger["platform"] == "state" and trigger["to_state"]["state"] == "99"
    assert await client.command("unsubscribe_events", subscription=sub) is None
    api.hub.states.set("sensor.test_power", "100")
    await wait_for(lambda: api.hub.states.get("sensor.test_power").state == "100")
    # A plain user may not listen to arbitrary triggers (they read every state).
    assert (await (await api.ws("user")).error("subscribe_trigger", trigger={"platform": "event", "event_type": "x"}))[
        "code"] == "unauthorized"
    bad = await client.error("subscribe_trigger", trigger={"platform": "nonsense"})
    assert bad["code"] == "invalid_format"


async def test_get_services_describes_built_in_services_from_services_yaml(api: Api) -> None:
    services = await (await api.ws("user")).command("get_services")
    trigger = services["automation"]["trigger"]
    assert trigger["name"] == "Trigger" and trigger["target"] == {"entity": {"domain": "automation"}}
    assert trigger["fields"]["skip_condition"]["selector"] == {"boolean": None}
    switch = services["switch"]["turn_on"]
    assert switch["name"] == "Turn on" and switch["target"] == {"entity": {"domain": "switch"}}
    # What an integration registers itself still wins.
    assert services["testdevices"]["echo"]["name"] == "Echo"
