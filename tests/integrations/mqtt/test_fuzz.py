"""Broken payloads never raise: seeded configs and state payloads, no traceback, bounded warnings."""

from __future__ import annotations

import asyncio
import collections
import gc
import logging
import sys
import textwrap
from typing import Any

import aiomqtt
import pytest

from integrations.mqtt import runtime_of
from tests.integrations.mqtt.conftest import CLIENT_ENV, mqtt_config, wait_state
from tests.integrations.mqtt.fuzz import campaign

pytestmark = [pytest.mark.services, pytest.mark.timeout(120)]

CONFIGS = 400  # CI; the long form (5,000 and RSS) is bench/payload_fuzz.py


@pytest.fixture(params=["gmqtt"])
def mqtt_client_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Payload handling is the entities', not the client backend's: the default client only."""
    monkeypatch.setenv(CLIENT_ENV, request.param)
    return str(request.param)


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.mark.parametrize("seed", [1, 2])
async def test_broken_payloads_leave_no_traceback(start_mqtt_hub, mosquitto_server, prefix, seed, monkeypatch) -> None:
    from hub.ops import allocator
    from integrations.mqtt import discovery as discovery_module

    trims: list[bool] = []
    monkeypatch.setattr(discovery_module, "_TRIM_AFTER", CONFIGS // 4)
    monkeypatch.setattr(allocator, "trim", lambda: trims.append(True) or True)
    records = Records()
    logging.getLogger().addHandler(records)
    try:
        hub = (await start_mqtt_hub()).hub
        discovery = runtime_of(hub).discovery
        plan = campaign(seed, CONFIGS, base=f"fz{prefix}")
        async with aiomqtt.Client(mosquitto_server.host, mosquitto_server.port) as client:
            for topic, payload in plan.configs:
                await client.publish(topic.format(prefix=prefix), payload, qos=0)
            await client.publish(f"{prefix}/sensor/marker/config", b'{"name": "Marker", "state_topic": "m", "unique_id": "mk"}', qos=1)
            await wait_state(hub, "sensor.marker", timeout=60)
            await discovery.wait_idle()
            for topic, payload in plan.states:
                await client.publish(topic, payload, qos=0)
            await client.publish("m", b"done", qos=1)
            await wait_state(hub, "sensor.marker", "done", timeout=60)
        await asyncio.sleep(0.2)
    finally:
        logging.getLogger().removeHandler(records)

    tracebacks = [r for r in records.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not tracebacks, [f"{r.name}: {r.getMessage()[:300]}" for r in tracebacks[:5]]
    assert len(discovery.entities) > CONFIGS // 4  # the campaign makes real entities, not only errors
    assert trims  # the burst of configs handled, discovery gave the freed heap back (hub.ops.allocator.trim)
    for state in hub.states.all():
        assert len(state.state) <= 255
    # At most one warning per entity (the test is well under a minute).
    per_entity = collections.Counter(
        entity for r in records.records if r.levelno == logging.WARNING and r.name.startswith("integrations.mqtt.")
        for entity in [_entity_of(r.getMessage())] if entity
    )
    assert all(n <= 1 for n in per_entity.values()), per_entity.most_common(3)


def _entity_of(message: str) -> str | None:
    for word in message.replace(",", " ").replace(":", " ").split():
        if "." in word and word.split(".", 1)[0] in ("sensor", "binary_sensor", "switch", "number", "select", "text",
                                                     "button", "light"):
            return word
    return None


async def test_discovery_warnings_remember_a_bounded_number_of_topics(start_mqtt_hub, caplog) -> None:
    """One warning per broken config topic, and a stream of ever new broken topics costs bounded memory."""
    from integrations.mqtt.discovery import _LOGGED_LIMIT

    discovery = runtime_of((await start_mqtt_hub()).hub).discovery
    with caplog.at_level(logging.WARNING, logger="integrations.mqtt.discovery"):
        for _ in range(3):
            discovery._error("p/sensor/a/config", "invalid sensor config: bad", b"{}")
        assert sum("p/sensor/a/config" in r.getMessage() for r in caplog.records) == 1
        for n in range(3 * _LOGGED_LIMIT):
            discovery._error(f"p/sensor/n{n}/config", "x" * 5000, b"{}")
            assert len(discovery._logged) <= _LOGGED_LIMIT


class StackProbe:
    """Run code at every garbage collection, as a hub's collections do, and catch what escapes.

    A collection runs finalizers (a suspended generator closed, a Future's `__del__` logging) at
    whatever depth the allocation that triggered it was made. Here the young generation is
    collected every 50 allocations and each collection calls a function 60 frames deep: if the
    handling of a payload recursed to the interpreter's limit (the standard library's JSON parser
    on `[` x 10,000 does, allocating a list per level), a collection comes within 50 levels of
    that limit, the probe's RecursionError escapes to `sys.unraisablehook`, and that hook, called
    with no stack left, fails too and prints "Exception ignored in sys.unraisablehook" to stderr.
    """

    CLIMB = 60

    def __init__(self) -> None:
        self.unraisable: list[str] = []
        self.collections = 0

    def __enter__(self) -> StackProbe:
        self._threshold = gc.get_threshold()
        self._hook = sys.unraisablehook
        sys.unraisablehook = self._record
        gc.callbacks.append(self._probe)
        gc.set_threshold(50, 1_000_000, 1_000_000)  # young collections only: older ones would scan the whole test process
        return self

    def __exit__(self, *exc: object) -> None:
        gc.set_threshold(*self._threshold)
        gc.callbacks.remove(self._probe)
        sys.unraisablehook = self._hook

    def _record(self, unraisable: Any) -> None:
        self.unraisable.append(f"{unraisable.err_msg or 'Exception ignored in'}: {unraisable.exc_type.__name__}")

    def _probe(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.collections += 1
            _climb(self.CLIMB)


def _climb(levels: int) -> int:
    return 0 if levels == 0 else 1 + _climb(levels - 1)


def _nested(depth: int, kind: str) -> bytes:
    if kind == "array":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


DEEP_PAYLOADS = [_nested(depth, kind) for depth in (10_000, 1_000, 150, 101) for kind in ("array", "object")]


async def test_deep_payloads_recurse_nowhere(start_mqtt_hub, device, mosquitto_server, prefix, capfd) -> None:
    """Payloads nested 101 to 10,000 deep, on every path that parses JSON: nothing escapes, last good states stay.

    The fuzz campaign's `[` x 10,000 on a value_template's state topic once printed
    "Exception ignored in sys.unraisablehook ... RecursionError" from the hub's process.
    """
    automation = textwrap.dedent(
        """\
        automation:
          - id: deep
            mode: queued
            max: 100
            triggers:
              - trigger: mqtt
                topic: "deep/trigger"
            actions:
              - action: test.record
                data:
                  json: "{{ trigger.payload_json | default('none') | tojson }}"
        """
    )
    hub = (await start_mqtt_hub(yaml=mqtt_config(mosquitto_server.url, prefix) + automation)).hub
    seen: list[str] = []
    hub.services.register("test", "record", lambda call: seen.append(str(call.data["json"])))
    configs = {
        "sensor/deep_v/config": {"name": "Deep v", "state_topic": "deep/v", "value_template": "{{ value_json.v }}",
                                 "json_attributes_topic": "deep/attrs"},
        "sensor/deep_whole/config": {"name": "Deep whole", "state_topic": "deep/v", "value_template": "{{ value_json | count }}"},
        "sensor/deep_filter/config": {"name": "Deep filter", "state_topic": "deep/v",
                                      "value_template": "{{ (value | from_json(default={'v': 'x'})).v }}"},
        "light/deep_light/config": {"name": "Deep light", "schema": "json", "state_topic": "deep/light", "command_topic": "deep/light/set"},
    }
    for path, config in configs.items():
        await device.config(path, config)
    await wait_state(hub, "light.deep_light")
    await device.publish("deep/v", {"v": 7})
    await device.publish("deep/attrs", {"kind": "meter"})
    await device.publish("deep/light", {"state": "ON"})
    await wait_state(hub, "sensor.deep_v", "7")
    await wait_state(hub, "light.deep_light", "on")
    await wait_state(hub, "sensor.deep_v", lambda state: state.attributes.get("kind") == "meter")
    capfd.readouterr()

    with StackProbe() as probe:
        for payload in DEEP_PAYLOADS:
            for topic in ("deep/v", "deep/attrs", "deep/light", "deep/trigger", f"{prefix}/sensor/deep_cfg/config"):
                await device.publish(topic, payload)
        await device.publish("deep/trigger", {"v": 1})
        await device.publish("deep/v", {"v": 8})
        await wait_state(hub, "sensor.deep_v", "8")
        for _ in range(100):
            if len(seen) == len(DEEP_PAYLOADS) + 1:
                break
            await asyncio.sleep(0.05)
    stderr = capfd.readouterr().err

    assert probe.collections > 100  # the probe ran while the payloads were handled
    assert not probe.unraisable, probe.unraisable
    assert "Exception ignored" not in stderr and "Traceback" not in stderr, stderr[-2000:]
    # Nested deeper than hub.payload_json.MAX_DEPTH is not JSON: the state, attributes, light and
    # trigger stayed as they were; the trigger fired without payload_json.
    assert hub.states.get("sensor.deep_v").attributes.get("kind") == "meter"
    assert hub.states.get("light.deep_light").state == "on"
    assert seen == ['"none"'] * len(DEEP_PAYLOADS) + ["{'v': 1}"]
    assert hub.states.get("sensor.deep_cfg") is None
