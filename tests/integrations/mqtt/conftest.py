"""Fixtures for MQTT tests: a hub connected to the test Mosquitto, and a device-side client."""

from __future__ import annotations

import asyncio
import os
import re
import textwrap
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from hub import bootstrap
from hub.core.bus import Event, callback
from hub.core.hub import Hub
from hub.core.states import State


class Device:
    """The device side: publishes configs and states, records what the hub sends."""

    def __init__(self, client: aiomqtt.Client, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.received: list[aiomqtt.Message] = []
        self._waiters: list[tuple[str, asyncio.Future[aiomqtt.Message]]] = []

    async def publish(self, topic: str, payload: Any, retain: bool = False, qos: int = 1) -> None:
        if isinstance(payload, (dict, list)):
            import json

            payload = json.dumps(payload)
        await self.client.publish(topic, payload, qos=qos, retain=retain)

    async def config(self, path: str, payload: Any, retain: bool = True) -> None:
        """Publish a discovery config under this test's prefix: path like 'sensor/x/config'."""
        await self.publish(f"{self.prefix}/{path}", payload, retain=retain)

    async def expect(self, topic: str, timeout: float = 5.0) -> aiomqtt.Message:
        """Wait for the next message on topic (subscribe first with listen())."""
        for message in self.received:
            if message.topic.matches(topic):
                self.received.remove(message)
                return message
        future: asyncio.Future[aiomqtt.Message] = asyncio.get_running_loop().create_future()
        self._waiters.append((topic, future))
        return await asyncio.wait_for(future, timeout)

    async def listen(self, topic: str) -> None:
        await self.client.subscribe(topic, qos=1)

    def _deliver(self, message: aiomqtt.Message) -> None:
        for waiter in list(self._waiters):
            topic, future = waiter
            if message.topic.matches(topic) and not future.done():
                self._waiters.remove(waiter)
                future.set_result(message)
                return
        self.received.append(message)


# The client backend (`mqtt: client:`) hubs started by start_mqtt_hub use; unset: the default.
CLIENT_ENV = "HUB_TEST_MQTT_CLIENT"


@pytest.fixture(autouse=True, params=["gmqtt", "paho"])
def mqtt_client_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run every MQTT test against both client backends."""
    monkeypatch.setenv(CLIENT_ENV, request.param)
    return str(request.param)


def with_client_backend(text: str) -> str:
    """Add `client: <backend>` to the mqtt section when CLIENT_ENV names one and the YAML doesn't."""
    backend = os.environ.get(CLIENT_ENV)
    if not backend or re.search(r"^\s+client:", text, re.MULTILINE):
        return text
    return re.sub(r"^mqtt:[ \t]*\n", f"mqtt:\n  client: {backend}\n", text, count=1, flags=re.MULTILINE)


@pytest.fixture
def prefix() -> str:
    """A discovery prefix of its own for each test: retained configs never leak between tests."""
    return f"test_{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def device(mosquitto_server: Any, prefix: str) -> AsyncIterator[Device]:
    async with aiomqtt.Client(mosquitto_server.host, mosquitto_server.port, identifier=f"dev-{prefix}") as client:
        dev = Device(client, prefix)

        async def pump() -> None:
            try:
                async for message in client.messages:
                    dev._deliver(message)
            except aiomqtt.MqttError:
                pass  # the broker went away (outage tests)

        task = asyncio.create_task(pump())
        try:
            yield dev
        finally:
            task.cancel()


def mqtt_config(url: str, prefix: str, extra: str = "") -> str:
    return textwrap.dedent(
        f"""\
        mqtt:
          broker: {url}
          discovery_prefix: {prefix}
          reconnect_max_delay: 1
        """
    ) + textwrap.indent(textwrap.dedent(extra), "  ")


@pytest.fixture
async def start_mqtt_hub(tmp_path: Path, mosquitto_server: Any, prefix: str) -> AsyncIterator[Callable[..., Any]]:
    """Start hubs with the mqtt integration on the test broker; unhandled loop errors fail the test."""
    started: list[bootstrap.Runtime] = []
    errors: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))

    async def start(extra: str = "", *, data: str = "data", yaml: str | None = None) -> bootstrap.Runtime:
        config_dir = tmp_path / "config"
        config_dir.mkdir(exist_ok=True)
        text = with_client_backend(yaml if yaml is not None else mqtt_config(mosquitto_server.url, prefix, extra))
        (config_dir / "configuration.yaml").write_text(text)
        runtime = await bootstrap.start(config_dir, tmp_path / data, port=0)
        started.append(runtime)
        return runtime

    async def stop(runtime: bootstrap.Runtime) -> None:
        started.remove(runtime)
        await bootstrap.stop(runtime)

    start.stop = stop  # type: ignore[attr-defined]
    try:
        yield start
    finally:
        for runtime in started:
            await bootstrap.stop(runtime)
        loop.set_exception_handler(previous)
    if errors:
        pytest.fail(f"Unhandled errors in the event loop: {errors}")


async def wait_state(
    hub: Hub, entity_id: str, expected: str | Callable[[State], bool] | None = None, timeout: float = 5.0
) -> State:
    """Wait until entity_id exists (and has the expected state); return it."""
    check: Callable[[State], bool]
    if expected is None:
        check = lambda state: True  # noqa: E731
    elif isinstance(expected, str):
        check = lambda state: state.state == expected  # noqa: E731
    else:
        check = expected
    current = hub.states.get(entity_id)
    if current is not None and check(current):
        await settled(hub)
        return current
    future: asyncio.Future[State] = asyncio.get_running_loop().create_future()

    @callback
    def changed(event: Event) -> None:
        new = event.data["new_state"]
        if new is not None and new.entity_id == entity_id and check(new) and not future.done():
            future.set_result(new)

    undo = hub.bus.listen("state_changed", changed)
    try:
        state = await asyncio.wait_for(future, timeout)
    except TimeoutError:
        state = hub.states.get(entity_id)
        raise AssertionError(f"{entity_id} did not reach the expected state; it is {state}") from None
    finally:
        undo()
    await settled(hub)
    return state


async def settled(hub: Hub, timeout: float = 5.0) -> None:
    """Wait until discovery is idle and the broker acknowledged every subscription.

    Then a message a test publishes reaches the entities that exist now.
    """
    from integrations.mqtt import runtime_of

    runtime = runtime_of(hub)
    if runtime is None:
        return
    if runtime.discovery is not None:
        await asyncio.wait_for(runtime.discovery.wait_idle(), timeout)
    await asyncio.wait_for(runtime.client.wait_subscribed(), timeout)


async def wait_event(hub: Hub, event_type: str, timeout: float = 5.0) -> Event:
    """Wait for the next event of a type."""
    future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()

    @callback
    def fired(event: Event) -> None:
        if not future.done():
            future.set_result(event)

    undo = hub.bus.listen(event_type, fired)
    try:
        return await asyncio.wait_for(future, timeout)
    finally:
        undo()


async def wait_removed(hub: Hub, entity_id: str, timeout: float = 5.0) -> None:
    """Wait until entity_id's state is removed and discovery finished what it was doing."""
    from integrations.mqtt import runtime_of

    if hub.states.get(entity_id) is not None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        @callback
        def changed(event: Event) -> None:
            if event.data["entity_id"] == entity_id and event.data["new_state"] is None and not future.done():
                future.set_result(None)

        undo = hub.bus.listen("state_changed", changed)
        try:
            await asyncio.wait_for(future, timeout)
        finally:
            undo()
    runtime = runtime_of(hub)
    assert runtime is not None and runtime.discovery is not None
    await asyncio.wait_for(runtime.discovery.wait_idle(), timeout)
