"""The discovery cache at a warm start: validated configs reused, the broker's changes never lost.

The cache keeps each config as validated; a restart recreates the entities from it without
validating again. What changed on the broker while the hub was away (a config changed, one
removed) is applied all the same, and a damaged cache costs one warning, never an entity.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from hub.storage.engine import SQLITE_FILENAME
from integrations.mqtt import discovery as discovery_module
from integrations.mqtt import runtime_of
from integrations.mqtt.cache import SCHEMA_FINGERPRINT
from tests.integrations.mqtt.conftest import CLIENT_ENV, settled, wait_removed, wait_state

pytestmark = pytest.mark.services


@pytest.fixture(params=["gmqtt"])
def mqtt_client_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The default client only: the cache does not depend on the client library."""
    monkeypatch.setenv(CLIENT_ENV, request.param)
    return str(request.param)


def meter(n: int, name: str = "Power", unit: str = "W") -> dict[str, Any]:
    return {"name": name, "unique_id": f"meter{n}_power", "state_topic": f"meter{n}/power", "unit_of_measurement": unit,
            "device_class": "power", "device": {"identifiers": [f"meter{n}"], "name": f"Meter {n}"}}


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How often each discovery topic's config went through its component's schema."""
    counted: Counter[str] = Counter()
    validate = discovery_module.Discovery._validate

    def counting(self: Any, component: str, config: dict[str, Any], where: str = "") -> dict[str, Any]:
        counted[config.get("unique_id", "?")] += 1
        return validate(self, component, config, where)

    monkeypatch.setattr(discovery_module.Discovery, "_validate", counting)
    return counted


def rows(data: Path) -> dict[str, tuple[str, str | None, str | None]]:
    with sqlite3.connect(data / SQLITE_FILENAME) as db:
        found = db.execute("SELECT discovery_topic, payload, config, config_schema FROM mqtt_discovery").fetchall()
    return {topic.rsplit("/", 2)[-2]: (payload, config, schema) for topic, payload, config, schema in found}


async def test_a_warm_start_reuses_validated_configs_and_applies_what_changed_meanwhile(
    start_mqtt_hub, device, prefix, tmp_path, validations
) -> None:
    runtime = await start_mqtt_hub()
    hub = runtime.hub
    for n in (1, 2, 3):
        await device.config(f"sensor/meter{n}/config", meter(n))
    await device.config("sensor/meter1e/config", {**meter(1, name="Energy", unit="kWh"), "unique_id": "meter1_energy",
                                                  "device_class": "energy", "state_topic": "meter1/energy"})
    for n in (1, 2, 3):
        await wait_state(hub, f"sensor.meter_{n}_power")
    await wait_state(hub, "sensor.meter_1_energy")
    await settled(hub)
    await device.publish("meter1/power", "1500")
    await wait_state(hub, "sensor.meter_1_power", "1500")
    await start_mqtt_hub.stop(runtime)
    assert all(schema == SCHEMA_FINGERPRINT and config for _, config, schema in rows(tmp_path / "data").values())
    assert validations == {"meter1_power": 1, "meter2_power": 1, "meter3_power": 1, "meter1_energy": 1}

    # While the hub is away: meter 2's config changes, meter 3's is removed (empty retained payload).
    await device.config("sensor/meter2/config", meter(2, name="Mains", unit="kW"))
    await device.config("sensor/meter3/config", "")
    validations.clear()
    hub = (await start_mqtt_hub()).hub
    await wait_state(hub, "sensor.meter_2_power", lambda s: s.attributes.get("unit_of_measurement") == "kW", timeout=10)
    await wait_removed(hub, "sensor.meter_3_power", timeout=10)
    await settled(hub)
    # Unchanged configs came from the cache as validated; only the changed one was validated.
    assert validations == {"meter2_power": 1}
    assert hub.states.get("sensor.meter_1_power").state == "1500"
    assert hub.states.get("sensor.meter_1_power").attributes["unit_of_measurement"] == "W"
    assert hub.states.get("sensor.meter_2_power").attributes["friendly_name"] == "Meter 2 Mains"
    assert "sensor.meter_3_power" not in hub.entity_registry
    await device.publish("meter1/power", "1600")
    await wait_state(hub, "sensor.meter_1_power", "1600")
    # A device's entities recreated from the cache share its device block, as when discovered.
    entities = runtime_of(hub).discovery.entities
    assert entities[("sensor", "meter1")].device_info is entities[("sensor", "meter1e")].device_info
    await runtime_of(hub).store.flush()
    cached = rows(tmp_path / "data")
    assert set(cached) == {"meter1", "meter1e", "meter2"}
    assert '"Mains"' in cached["meter2"][0] and '"kW"' in cached["meter2"][1]


async def test_a_damaged_cache_costs_one_warning_and_no_entity(start_mqtt_hub, device, prefix, tmp_path, caplog,
                                                                validations) -> None:
    runtime = await start_mqtt_hub()
    for n in range(1, 7):
        await device.config(f"sensor/meter{n}/config", meter(n))
    for n in range(1, 7):
        await wait_state(runtime.hub, f"sensor.meter_{n}_power")
    await settled(runtime.hub)
    await start_mqtt_hub.stop(runtime)

    with sqlite3.connect(tmp_path / "data" / SQLITE_FILENAME) as db:
        # Payloads that are not JSON (rows as an older hub wrote them: no validated config), a validated
        # config that is not JSON, one validated by other schemas, one that is not an object.
        db.execute("UPDATE mqtt_discovery SET payload = '{not json', config = NULL WHERE discovery_topic LIKE "
                   "'%/meter1/config' OR discovery_topic LIKE '%/meter2/config'")
        db.execute("UPDATE mqtt_discovery SET config = '{garbage' WHERE discovery_topic LIKE '%/meter3/config'")
        db.execute("UPDATE mqtt_discovery SET config_schema = 'an older hub' WHERE discovery_topic LIKE '%/meter4/config'")
        db.execute("UPDATE mqtt_discovery SET config = '[1, 2]' WHERE discovery_topic LIKE '%/meter5/config'")
    validations.clear()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="integrations.mqtt"):
        hub = (await start_mqtt_hub()).hub
        for n in range(1, 7):  # meters 1 and 2 from the broker's retained configs
            await wait_state(hub, f"sensor.meter_{n}_power", timeout=10)
        await settled(hub)
    warnings = [r.getMessage() for r in caplog.records if r.name.startswith("integrations.mqtt.discovery")]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("Ignored 2 unusable entries of the MQTT discovery cache")
    # Meters 3-5 validated again from their (intact) payloads, meters 1-2 from the broker's; meter 6 not at all.
    assert validations == {f"meter{n}_power": 1 for n in range(1, 6)}
    await runtime_of(hub).store.flush()
    assert all(schema == SCHEMA_FINGERPRINT and payload.startswith("{\"name\"")
               for payload, _, schema in rows(tmp_path / "data").values())


async def test_an_unreadable_cache_is_one_warning_and_the_broker_fills_in(start_mqtt_hub, device, prefix, tmp_path,
                                                                         caplog) -> None:
    runtime = await start_mqtt_hub()
    await device.config("sensor/meter1/config", meter(1))
    await wait_state(runtime.hub, "sensor.meter_1_power")
    await settled(runtime.hub)
    await start_mqtt_hub.stop(runtime)
    with sqlite3.connect(tmp_path / "data" / SQLITE_FILENAME) as db:
        db.execute("ALTER TABLE mqtt_discovery RENAME COLUMN config TO damaged")
    with caplog.at_level(logging.WARNING, logger="integrations.mqtt"):
        hub = (await start_mqtt_hub()).hub
        await wait_state(hub, "sensor.meter_1_power", timeout=10)
    unreadable = [r for r in caplog.records if "discovery cache could not be read" in r.getMessage()]
    assert len(unreadable) == 1
    assert "\n" not in unreadable[0].getMessage() and unreadable[0].exc_info is None


async def test_a_warm_start_does_not_wait_for_more_configs_after_the_cached_ones(start_mqtt_hub, device, prefix,
                                                                                 monkeypatch) -> None:
    runtime = await start_mqtt_hub()
    for n in (1, 2, 3):
        await device.config(f"sensor/meter{n}/config", meter(n))
    for n in (1, 2, 3):
        await wait_state(runtime.hub, f"sensor.meter_{n}_power")
    await settled(runtime.hub)
    await start_mqtt_hub.stop(runtime)

    # A storm's registry batch waits this long for the broker's next config; the cached configs
    # are all there at once, so recreating their entities waits for none.
    monkeypatch.setattr(discovery_module, "_LINGER", 10.0)
    began = time.monotonic()
    hub = (await start_mqtt_hub()).hub
    assert time.monotonic() - began < 5
    assert all(hub.states.get(f"sensor.meter_{n}_power") is not None for n in (1, 2, 3))
