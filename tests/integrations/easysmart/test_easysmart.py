"""EasySmart-style devices on a real Mosquitto: discovery in the platform's own format becomes
entities, values (with their own times) become states, commands go out on set topics, and
nothing a device sends is dropped without a line in the log."""

from __future__ import annotations

import asyncio
import logging
import textwrap
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import orjson
import pytest

from hub.recorder import get_recorder
from tests.hubs import write_config

pytestmark = pytest.mark.services

DISCOVERY = {
    "device": {"id": "", "name": "Kitchen plug", "manufacturer": "EasySmart", "model": "ES-P1",
               "firmware": "1.4.2", "hardware": "rev B"},
    "entities": [
        {"id": "power", "type": "sensor", "name": "Power", "unit": "W", "device_class": "power",
         "state_class": "measurement"},
        {"id": "relay", "type": "switch", "name": "Relay"},
        {"id": "limit", "type": "number", "name": "Power limit", "min": 0, "max": 3600, "step": 50, "unit": "W"},
        {"id": "mode", "type": "select", "name": "Mode", "options": ["auto", "manual"]},
        {"id": "overload", "type": "binary_sensor", "name": "Overload", "device_class": "problem"},
    ],
}


async def until(predicate: Callable[[], Any], what: str | Callable[[], str], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what() if callable(what) else what}")
        await asyncio.sleep(0.01)


@pytest.fixture
async def world(tmp_path: Path, start_hub: Any, mosquitto_server: Any) -> AsyncIterator[dict[str, Any]]:
    root = f"t{uuid.uuid4().hex[:6]}/"
    config = write_config(tmp_path / "config", textwrap.dedent(f"""\
        mqtt:
          broker: {mosquitto_server.url}
        recorder:
          commit_interval: 0.05
        easysmart:
          root: {root}
        """))
    runtime = await start_hub(config)
    async with aiomqtt.Client(mosquitto_server.host, mosquitto_server.port) as device:
        yield {"hub": runtime.hub, "device": device, "root": root}


async def announce(world: dict[str, Any], device_id: str, **changes: Any) -> None:
    payload = {**DISCOVERY, "device": {**DISCOVERY["device"], "id": device_id}, **changes}
    await world["device"].publish(f"{world['root']}devices/{device_id}/discovery", orjson.dumps(payload),
                                  qos=1, retain=True)
    await until(lambda: world["hub"].states.get("binary_sensor.kitchen_plug_overload") is not None, "the entities")


async def test_discovery_becomes_entities_of_one_device_and_values_become_states(world: dict[str, Any]) -> None:
    hub, device, root = world["hub"], world["device"], world["root"]
    await announce(world, "plug-7")
    power = hub.states.get("sensor.kitchen_plug_power")
    assert (power.state, power.attributes["unit_of_measurement"], power.attributes["device_class"]) == (
        "unknown", "W", "power")
    assert hub.states.get("number.kitchen_plug_power_limit").attributes["max"] == 3600
    assert hub.states.get("select.kitchen_plug_mode").attributes["options"] == ["auto", "manual"]
    [entry] = [d for d in hub.require_device_registry().devices if ("easysmart", "plug-7") in d.identifiers]
    assert (entry.name, entry.manufacturer, entry.model, entry.sw_version, entry.hw_version) == (
        "Kitchen plug", "EasySmart", "ES-P1", "1.4.2", "rev B")

    await device.publish(f"{root}devices/plug-7/power/state", b"230.5", qos=1)
    await device.publish(f"{root}devices/plug-7/overload/state", b"false", qos=1)
    await device.publish(f"{root}devices/plug-7/mode/state", orjson.dumps({"value": "auto"}), qos=1)
    await until(lambda: hub.states.get("select.kitchen_plug_mode").state == "auto"
                and hub.states.get("binary_sensor.kitchen_plug_overload").state == "off", "the mode and overload")
    assert hub.states.get("sensor.kitchen_plug_power").state == "230.5"

    await device.publish(f"{root}devices/plug-7/status", b"offline", qos=1, retain=True)
    await until(lambda: hub.states.get("sensor.kitchen_plug_power").state == "unavailable", "offline")
    await device.publish(f"{root}devices/plug-7/status", orjson.dumps({"status": "online"}), qos=1, retain=True)
    await device.publish(f"{root}devices/plug-7/power/state", b"231", qos=1)
    await until(lambda: hub.states.get("sensor.kitchen_plug_power").state == "231", "online again")

    # An empty retained discovery removes the device's entities, as in Home Assistant.
    await device.publish(f"{root}devices/plug-7/discovery", b"", qos=1, retain=True)
    await until(lambda: hub.states.get("sensor.kitchen_plug_power") is None, "the removal")


async def test_commands_go_out_on_set_topics_and_the_reported_state_follows(world: dict[str, Any]) -> None:
    hub, device, root = world["hub"], world["device"], world["root"]
    await announce(world, "plug-8")
    await device.subscribe(f"{root}devices/plug-8/+/set", qos=1)
    received: list[tuple[str, bytes]] = []

    async def listen() -> None:
        async for message in device.messages:
            received.append((str(message.topic), message.payload))
            if str(message.topic).endswith("relay/set"):
                await device.publish(f"{root}devices/plug-8/relay/state", message.payload, qos=1)

    listener = asyncio.create_task(listen())
    try:
        await hub.services.call("switch", "turn_on", {"entity_id": "switch.kitchen_plug_relay"}, blocking=True)
        await hub.services.call("number", "set_value", {"entity_id": "number.kitchen_plug_power_limit", "value": 1500},
                                blocking=True)
        await hub.services.call("select", "select_option", {"entity_id": "select.kitchen_plug_mode", "option": "manual"},
                                blocking=True)
        await until(lambda: len(received) == 3 and hub.states.get("switch.kitchen_plug_relay").state == "on", "commands")
    finally:
        listener.cancel()
    assert sorted(received) == [(f"{root}devices/plug-8/limit/set", b"1500"), (f"{root}devices/plug-8/mode/set", b"manual"),
                                (f"{root}devices/plug-8/relay/set", b"ON")]


async def test_a_readings_own_time_is_honoured_within_the_skew(world: dict[str, Any],
                                                              caplog: pytest.LogCaptureFixture) -> None:
    hub, device, root = world["hub"], world["device"], world["root"]
    await announce(world, "plug-9")
    topic = f"{root}devices/plug-9/power/state"
    minute_ago = time.time() - 60
    await device.publish(topic, orjson.dumps({"value": 100, "ts": int(minute_ago * 1000)}), qos=1)
    await until(lambda: hub.states.get("sensor.kitchen_plug_power").state == "100", "the reading")
    assert hub.states.get("sensor.kitchen_plug_power").last_updated_timestamp == pytest.approx(int(minute_ago * 1000) / 1000)

    # An older reading goes to history only: the live state stays.
    iso = datetime.fromtimestamp(minute_ago - 30, UTC).isoformat()
    await device.publish(topic, orjson.dumps({"value": 90, "timestamp": iso}), qos=1)
    # A clock two days behind is not believed: the reading is taken when received, with a warning.
    caplog.set_level(logging.WARNING, "integrations.easysmart")
    await device.publish(topic, orjson.dumps({"value": 120, "ts": int(time.time()) - 2 * 86400}), qos=1)
    await until(lambda: hub.states.get("sensor.kitchen_plug_power").state == "120", "the skewed reading")
    assert hub.states.get("sensor.kitchen_plug_power").last_updated_timestamp > time.time() - 5
    assert any("taken at the time it was received" in r.getMessage() and "86400 s before" in r.getMessage()
               for r in caplog.records)
    recorder = get_recorder(hub)
    await until(lambda: True, "")
    await asyncio.sleep(0.1)
    await recorder.flush()
    history = await recorder.backend.read_states(["sensor.kitchen_plug_power"], minute_ago - 31, time.time() + 1)
    values = [(round(s.ts), s.value) for s in history["sensor.kitchen_plug_power"]]
    assert values[:2] == [(round(minute_ago - 30), 90.0), (round(minute_ago), 100.0)]
    assert values[-1][1] == 120.0


async def test_telemetry_keeps_every_field_and_names_what_it_drops_once_a_minute(
        world: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    hub, device, root = world["hub"], world["device"], world["root"]
    await announce(world, "plug-10")
    caplog.set_level(logging.WARNING, "integrations.easysmart")
    topic = f"{root}devices/plug-10/telemetry"
    for value in (2000, 2100):
        await device.publish(topic, orjson.dumps({"power": value, "temperature": 41.5, "rssi": -61,
                                                  "wiring": {"bad": 1}, "ts": time.time()}), qos=1)
    def shown(entity_id: str) -> str | None:
        state = hub.states.get(entity_id)
        return None if state is None else state.state

    fields = ("sensor.kitchen_plug_power", "sensor.kitchen_plug_temperature", "sensor.kitchen_plug_rssi")
    await until(lambda: tuple(map(shown, fields)) == ("2100", "41.5", "-61"),
                lambda: f"the fields, have {tuple(map(shown, fields))}")
    dropped = [r.getMessage() for r in caplog.records if "dropped fields" in r.getMessage()]
    assert dropped == [f"Telemetry of plug-10 on {topic}: dropped fields wiring (null, a list or an object)"]

    # A batch goes to history at each reading's time.
    base = int(time.time()) - 300
    await device.publish(topic, orjson.dumps({"readings": [{"ts": base + i * 10, "temperature": 30 + i} for i in range(3)]}),
                         qos=1)
    recorder = get_recorder(hub)

    async def points() -> list[Any]:
        await recorder.flush()
        history = await recorder.backend.read_states(["sensor.kitchen_plug_temperature"], base - 1, base + 21)
        return [(s.ts, s.value) for s in history.get("sensor.kitchen_plug_temperature", [])]

    for _ in range(200):
        if len(await points()) == 3:
            break
        await asyncio.sleep(0.02)
    assert await points() == [(base, 30.0), (base + 10, 31.0), (base + 20, 32.0)]


async def test_a_bad_discovery_is_named_and_changes_nothing(world: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    hub, device, root = world["hub"], world["device"], world["root"]
    caplog.set_level(logging.WARNING, "integrations.easysmart")
    bad = {"device": {"name": "Broken"}, "entities": [{"id": "power"}, {"id": "mode", "type": "select", "options": []}]}
    await device.publish(f"{root}devices/broken-1/discovery", orjson.dumps(bad), qos=1)
    await device.publish(f"{root}devices/broken-1/discovery", b"{nope", qos=1)
    await until(lambda: len([r for r in caplog.records if "broken-1" in r.getMessage()]) >= 1, "the warning")
    await asyncio.sleep(0.1)
    [line] = [r.getMessage() for r in caplog.records if "broken-1" in r.getMessage()]  # once a minute
    assert f"Ignored the discovery of broken-1 on {root}devices/broken-1/discovery: entities[1].options" in line
    assert not any(s.entity_id.startswith("sensor.broken") for s in hub.states.all())
