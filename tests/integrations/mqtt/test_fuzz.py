"""Broken payloads never raise: seeded configs and state payloads, no traceback, bounded warnings."""

from __future__ import annotations

import asyncio
import collections
import logging

import aiomqtt
import pytest

from integrations.mqtt import runtime_of
from tests.integrations.mqtt.conftest import CLIENT_ENV, wait_state
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
async def test_broken_payloads_leave_no_traceback(start_mqtt_hub, mosquitto_server, prefix, seed) -> None:
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
