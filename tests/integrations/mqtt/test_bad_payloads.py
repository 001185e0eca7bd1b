"""Bad discovery payloads and values that don't fit: logged, an event fired, nothing else hurt."""

from __future__ import annotations

import asyncio
import logging

import pytest

from hub.core.bus import callback
from tests.integrations.mqtt.conftest import settled, wait_state

pytestmark = pytest.mark.services


async def _errors_for(hub, device, path: str, payload, count: int = 1) -> list[dict]:
    errors: list[dict] = []
    done = asyncio.get_running_loop().create_future()

    @callback
    def record(event) -> None:
        errors.append(event.data)
        if len(errors) >= count and not done.done():
            done.set_result(None)

    undo = hub.bus.listen("mqtt_discovery_error", record)
    try:
        await device.config(path, payload, retain=False)
        await asyncio.wait_for(done, 5)
    finally:
        undo()
    return errors


@pytest.mark.parametrize(
    ("path", "payload", "reason"),
    [
        ("sensor/broken/config", "{not json", "Unable to parse JSON broken"),
        ("sensor/list/config", "[1, 2]", "payload must be a JSON object"),
        ("climate/thermo/config", {"name": "T", "mode_cmd_t": "x"}, "component 'climate' is not supported"),
        ("sensor/nostate/config", {"name": "No state"}, "required key not provided @ data['state_topic']"),
        ("switch/bad_avail/config", {"command_topic": "c", "availability": "incorrect"}, "@ data['availability']"),
        ("sensor/wild/config", {"state_topic": "a/#/b"}, "invalid subscribe topic"),
        ("switch/wildcmd/config", {"command_topic": "a/+/set"}, "wildcards are not allowed"),
        ("number/range/config", {"command_topic": "n", "min": 10, "max": 5}, "'min' (10.0) must not be greater than 'max'"),
        ("sensor/badtpl/config", {"state_topic": "s", "value_template": "{{ value_json.x "}, "emplate"),
        ("binary_sensor/rörkrökare/config", {"state_topic": "s"}, "illegal discovery topic"),
        ("device/dev1/config", {"dev": {"ids": "d"}, "o": {"name": "x"}, "cmps": "nope"}, "@ data['components']"),
        ("device/dev2/config", {"dev": {"ids": "d"}, "o": {"name": "x"}, "cmps": {"a": {"stat_t": "s"}}}, "@ data['components']['a']['platform']"),
        ("sensor/origin/config", {"state_topic": "s", "o": {"sw": "1"}}, "@ data['origin']['name']"),
    ],
)
async def test_bad_discovery_payload(start_mqtt_hub, device, caplog, path, payload, reason):
    hub = (await start_mqtt_hub()).hub
    await device.config("sensor/good/config", {"name": "Good", "state_topic": "good/state"})
    await wait_state(hub, "sensor.good")
    caplog.set_level(logging.WARNING, "integrations.mqtt")

    errors = await _errors_for(hub, device, path, payload)
    assert reason in errors[0]["reason"]
    assert errors[0]["topic"] == f"{device.prefix}/{path}"
    assert reason in caplog.text and errors[0]["topic"] in caplog.text

    # Logged once, even when the device repeats itself; an event each time.
    caplog.clear()
    await _errors_for(hub, device, path, payload)
    assert reason not in caplog.text

    # Nothing else was affected.
    await device.publish("good/state", "ok")
    await wait_state(hub, "sensor.good", "ok")


async def test_values_that_do_not_fit_set_nothing(start_mqtt_hub, device, caplog):
    hub = (await start_mqtt_hub()).hub
    await device.config("sensor/power/config", {"name": "Power", "state_topic": "p", "unit_of_measurement": "W"})
    await device.config("select/mode/config", {"name": "Mode", "command_topic": "m/set", "state_topic": "m", "options": ["a", "b"]})
    await device.config("number/level/config", {"name": "Level", "command_topic": "l/set", "state_topic": "l", "max": 10})
    await wait_state(hub, "sensor.power")
    await wait_state(hub, "select.mode")
    await wait_state(hub, "number.level")
    await device.publish("p", "12")
    await device.publish("m", "a")
    await device.publish("l", "3")
    await wait_state(hub, "number.level", "3")
    await wait_state(hub, "sensor.power", "12")
    await wait_state(hub, "select.mode", "a")

    caplog.set_level(logging.WARNING, "integrations.mqtt")
    await device.publish("p", "twelve")
    await device.publish("m", "c")
    await device.publish("l", "11")
    await device.publish("l", "4")  # a marker: once it lands, the bad ones were handled
    await wait_state(hub, "number.level", "4")
    assert hub.states.get("sensor.power").state == "12"
    assert hub.states.get("select.mode").state == "a"
    assert "'twelve'" in caplog.text and "a number is expected" in caplog.text
    assert "Invalid option for select.mode: 'c'" in caplog.text
    assert "Invalid value for number.level: 11" in caplog.text
    await settled(hub)
