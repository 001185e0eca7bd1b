"""The command policy seam of toggle entities: another integration decides how commands reach a device."""

from __future__ import annotations

from typing import Any

import pytest

from hub.core.context import Context
from hub.core.entity import SwitchEntity, ToggleCommand, ToggleEntity
from hub.core.hub import Hub
from hub.exceptions import HubError, ServiceValidationError


class Plug(SwitchEntity):
    """A device that echoes its state later: the state changes only on a report."""

    def __init__(self) -> None:
        self.name = "Plug"
        self.is_on = False
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def turn_on(self, **kwargs: Any) -> None:
        self.sent.append(("on", kwargs))

    async def turn_off(self, **kwargs: Any) -> None:
        self.sent.append(("off", kwargs))

    def report(self, is_on: bool) -> None:
        """What the integration does when the device reports its state."""
        self.is_on = is_on
        self.device_reported()
        self.write_state()


class Gatekeeper:
    """A policy that sends "on" at once, refuses "off", and notes every report with the state then."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.commands: list[tuple[str, Context | None, dict[str, Any]]] = []
        self.reports: list[tuple[bool, str]] = []

    async def command(self, entity: ToggleEntity, command: ToggleCommand, context: Context | None, data: dict[str, Any]) -> None:
        self.commands.append((command, context, data))
        if command == "off":
            raise ServiceValidationError(f"{entity.entity_id} stays on")
        await entity.send(command, **data)

    def reported(self, entity: ToggleEntity, is_on: bool) -> None:
        state = self.hub.states.get(str(entity.entity_id))
        self.reports.append((is_on, state.state if state else "none"))


async def test_services_hand_commands_to_the_policy(hub: Hub) -> None:
    plug = Plug()
    await hub.entities.add(plug, "test")
    policy = Gatekeeper(hub)
    plug.use_command_policy(policy)
    context = Context(user_id="ann")

    await hub.services.call("switch", "turn_on", {"entity_id": "switch.plug", "speed": 2, "command": "x"}, context=context)
    assert policy.commands == [("on", context, {"speed": 2, "command": "x"})]  # any data key passes through
    assert plug.sent == [("on", {"speed": 2, "command": "x"})]  # the policy sent it, through entity.send
    assert hub.states.get("switch.plug").state == "off"  # nothing reported yet

    with pytest.raises(ServiceValidationError, match="switch.plug stays on"):
        await hub.services.call("switch", "turn_off", target={"entity_id": "switch.plug"})
    await hub.services.call("homeassistant", "toggle", {"entity_id": "switch.plug"})
    assert [command for command, _, _ in policy.commands] == ["on", "off", "toggle"]
    assert plug.sent[1:] == [("on", {})]  # toggle of an off plug, sent by the policy


async def test_the_policy_hears_every_report_before_it_is_written(hub: Hub) -> None:
    plug = Plug()
    await hub.entities.add(plug, "test")
    policy = Gatekeeper(hub)
    plug.use_command_policy(policy)
    plug.report(True)
    plug.report(True)  # changes no state, fires no state_changed: still a report
    plug.is_on = None
    plug.device_reported()  # unknown is not a report
    assert policy.reports == [(True, "off"), (True, "on")]


async def test_one_policy_per_entity_until_released(hub: Hub) -> None:
    plug = Plug()
    await hub.entities.add(plug, "test")
    release = plug.use_command_policy(Gatekeeper(hub))
    with pytest.raises(HubError, match="switch.plug already has a command policy"):
        plug.use_command_policy(Gatekeeper(hub))
    release()
    assert plug.command_policy is None
    await hub.services.call("switch", "turn_off", target={"entity_id": "switch.plug"})
    assert plug.sent == [("off", {})]  # straight to the device again
