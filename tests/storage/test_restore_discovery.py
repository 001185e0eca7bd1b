"""Restore states and the MQTT discovery cache, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from hub.exceptions import InvalidStateError
from hub.registry.restore import RestoreStateStore, StoredState
from integrations.mqtt.cache import DiscoveryCache

CEST = timezone(timedelta(hours=2))


async def test_restore_state_upsert_round_trip(sessions):
    store = RestoreStateStore(sessions)
    assert await store.load() == {}
    changed = datetime(2024, 6, 1, 14, 30, 15, 123456, tzinfo=CEST)
    updated = datetime(2024, 6, 1, 12, 31, tzinfo=UTC)
    written = await store.save_many(
        [
            ("sensor.power", "230.5", {"unit_of_measurement": "W", "friendly_name": "Power"}, changed, updated),
            ("light.desk", "on", {"brightness": 255, "rgb": [1, 2, 3], "nested": {"a": None}}, changed, changed),
        ]
    )
    assert written == 2
    loaded = await store.load()
    assert set(loaded) == {"sensor.power", "light.desk"}
    power = loaded["sensor.power"]
    assert power.state == "230.5"
    assert power.attributes == {"unit_of_measurement": "W", "friendly_name": "Power"}
    assert power.last_changed == changed  # the same instant...
    assert power.last_changed.tzinfo is UTC  # ...given back in UTC
    assert power.last_changed.hour == 12 and power.last_changed.microsecond == 123456
    assert power.last_updated == updated and power.last_updated.tzinfo is UTC
    assert loaded["light.desk"].attributes["nested"] == {"a": None}

    # Upsert: replace one, add one, and a later duplicate in the same call wins.
    later = updated + timedelta(minutes=5)
    await store.save_many(
        [
            StoredState("sensor.power", "100", {}, later, later),
            ("sensor.new", "1", {}, later, later),
            ("sensor.new", "2", {"x": 1}, later, later),
        ]
    )
    loaded = await store.load()
    assert len(loaded) == 3
    assert loaded["sensor.power"] == StoredState("sensor.power", "100", {}, later, later)
    assert loaded["sensor.new"].state == "2" and loaded["sensor.new"].attributes == {"x": 1}
    assert loaded["light.desk"].state == "on"

    with pytest.raises(InvalidStateError):
        await store.save_many([("sensor.long", "x" * 256, {}, later, later)])
    with pytest.raises(ValueError):
        await store.save_many([("sensor.naive", "1", {}, datetime(2024, 1, 1), later)])
    assert await store.save_many([]) == 0

    await store.remove_many(["sensor.new", "light.desk", "sensor.unknown"])
    assert set(await store.load()) == {"sensor.power"}


async def test_restore_state_many_rows(sessions):
    store = RestoreStateStore(sessions)
    now = datetime.now(UTC)
    rows = [(f"sensor.s{i}", str(i), {"i": i}, now, now) for i in range(4500)]
    assert await store.save_many(rows) == 4500
    rows = [(f"sensor.s{i}", str(-i), {"i": -i}, now, now) for i in range(0, 4500, 2)]
    await store.save_many(rows)
    loaded = await store.load()
    assert len(loaded) == 4500
    assert loaded["sensor.s4"].state == "-4" and loaded["sensor.s5"].state == "5"


async def test_discovery_cache_round_trip(sessions):
    cache = DiscoveryCache(sessions)
    assert await cache.load() == {}
    topic = "homeassistant/sensor/meter/power/config"
    payload = '{"name": "Power", "state_topic": "meter/power", "unique_id": "meter-power"}'
    await cache.put(topic, payload, "sensor", "meter power")
    await cache.put("homeassistant/switch/plug/config", "{}", "switch", "plug")
    assert await cache.load() == {topic: payload, "homeassistant/switch/plug/config": "{}"}

    newer = '{"name": "Power 2"}'
    await cache.put(topic, newer, "sensor", "meter power")
    entries = await cache.load_entries()
    assert entries[topic].payload == newer
    assert entries[topic].component == "sensor"
    assert entries[topic].discovery_id == "meter power"
    assert entries[topic].updated_at.tzinfo is UTC

    await cache.remove(topic)
    await cache.remove("homeassistant/none/config")  # unknown: no error
    assert await DiscoveryCache(sessions).load() == {"homeassistant/switch/plug/config": "{}"}
