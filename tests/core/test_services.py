"""The service registry: schemas, targets, blocking, responses and errors."""

from __future__ import annotations

import asyncio

import pytest
import voluptuous as vol

from hub.core.bus import Event, callback
from hub.core.context import Context
from hub.core.hub import Hub
from hub.core.services import ServiceCall, SupportsResponse
from hub.exceptions import ServiceNotFound, ServiceValidationError


async def test_call_runs_handler_with_validated_data(hub: Hub) -> None:
    calls: list[ServiceCall] = []

    async def handler(call: ServiceCall) -> None:
        calls.append(call)

    hub.services.register("notify", "send", handler, vol.Schema({vol.Required("message"): str, vol.Optional("level", default="info"): str}))
    await hub.services.call("notify", "send", {"message": "hi"})
    assert calls[0].data == {"message": "hi", "level": "info"}
    assert calls[0].entity_ids is None


async def test_unknown_service_raises_service_not_found(hub: Hub) -> None:
    with pytest.raises(ServiceNotFound, match=r"Service light.blink not found\."):
        await hub.services.call("light", "blink")


async def test_invalid_data_raises_validation_error_naming_the_field(hub: Hub) -> None:
    hub.services.register("number", "set", lambda call: None, vol.Schema({vol.Required("value"): vol.Coerce(float)}))
    with pytest.raises(ServiceValidationError, match=r"Validation error: .*value"):
        await hub.services.call("number", "set", {"value": "lots"})


async def test_target_entity_and_device_ids_are_expanded(hub: Hub) -> None:
    from hub.core.entity import SwitchEntity

    class Relay(SwitchEntity):
        def __init__(self, name: str, device: str) -> None:
            self.name = name
            self.is_on = False
            self.device_id_value = device

        async def added_to_hub(self) -> None:
            self.device_id = self.device_id_value

        async def turn_on(self, **kwargs: object) -> None:
            self.is_on = True
            self.write_state()

    await hub.entities.add(Relay("Relay A", "dev1"), "test")
    await hub.entities.add(Relay("Relay B", "dev1"), "test")
    await hub.entities.add(Relay("Relay C", "dev2"), "test")
    seen: list[ServiceCall] = []
    hub.services.register("test", "probe", seen.append)
    await hub.services.call("test", "probe", target={"device_id": "dev1", "entity_id": "switch.relay_c"})
    assert seen[0].entity_ids == ["switch.relay_c", "switch.relay_a", "switch.relay_b"]
    await hub.services.call("test", "probe", {"entity_id": "switch.relay_a, switch.relay_b"})
    assert seen[1].entity_ids == ["switch.relay_a", "switch.relay_b"]
    await hub.services.call("switch", "turn_on", target={"device_id": ["dev1"]})
    assert [hub.states.get(f"switch.relay_{x}").state for x in "abc"] == ["on", "on", "off"]


async def test_non_blocking_call_returns_before_the_handler_finishes(hub: Hub) -> None:
    gate = asyncio.Event()
    finished: list[bool] = []

    async def slow(call: ServiceCall) -> None:
        await gate.wait()
        finished.append(True)

    hub.services.register("test", "slow", slow)
    await hub.services.call("test", "slow", blocking=False)
    assert finished == []
    gate.set()
    await hub.block_till_done()
    assert finished == [True]


async def test_return_response(hub: Hub) -> None:
    hub.services.register("weather", "forecast", lambda call: {"temp": 21}, supports_response=SupportsResponse.ONLY)
    hub.services.register("test", "plain", lambda call: None)
    assert await hub.services.call("weather", "forecast", return_response=True) == {"temp": 21}
    with pytest.raises(ServiceValidationError, match="requires responses"):
        await hub.services.call("weather", "forecast")
    with pytest.raises(ServiceValidationError, match="does not support responses"):
        await hub.services.call("test", "plain", return_response=True)
    with pytest.raises(ServiceValidationError, match="blocking=False"):
        await hub.services.call("weather", "forecast", blocking=False, return_response=True)


async def test_call_service_event_carries_the_context(hub: Hub) -> None:
    seen: list[Event] = []
    hub.bus.listen("call_service", callback(seen.append))
    hub.services.register("test", "x", lambda call: None)
    context = Context(user_id="u")
    await hub.services.call("test", "x", {"a": 1}, context=context)
    assert seen[0].data == {"domain": "test", "service": "x", "service_data": {"a": 1}}
    assert seen[0].context is context


async def test_register_and_remove_fire_events(hub: Hub) -> None:
    seen: list[tuple[str, dict]] = []
    hub.bus.listen("service_registered", callback(lambda e: seen.append((e.event_type, e.data))))
    hub.bus.listen("service_removed", callback(lambda e: seen.append((e.event_type, e.data))))
    remove = hub.services.register("Test", "X", lambda call: None)
    assert hub.services.has_service("test", "x")
    remove()
    assert not hub.services.has_service("test", "x")
    assert seen == [
        ("service_registered", {"domain": "test", "service": "x"}),
        ("service_removed", {"domain": "test", "service": "x"}),
    ]
