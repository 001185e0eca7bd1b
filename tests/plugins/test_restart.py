"""Registries and last known states survive a hub restart, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub import bootstrap
from tests.hubs import write_config

METER = """
from hub import hookimpl
from hub.core.entity import SensorEntity

class Meter(SensorEntity):
    unique_id = "pzem-01-power"
    name = "Power"
    has_entity_name = True
    unit_of_measurement = "W"
    device_class = "power"
    state_class = "measurement"
    device_info = {"identifiers": [["meter", "pzem-01"]], "name": "Garage meter", "manufacturer": "Peacefair", "model": "PZEM-004T"}

@hookimpl
async def setup_integration(hub, config):
    meter = Meter()
    meter.native_value = config.get("watts") if config else None
    await hub.entities.add(meter, "meter")
"""


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def storage_yaml(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return ""
    url = request.getfixturevalue("pg_url")
    return f"storage:\n  db_url: {url}\n"


async def test_rename_and_state_survive_restart(tmp_path: Path, storage_yaml: str) -> None:
    config = write_config(tmp_path / "config", storage_yaml + "meter:\n  watts: 230\n", {"meter": METER})
    data = tmp_path / "data"

    runtime = await bootstrap.start(config, data, port=0)
    hub = runtime.hub
    assert hub.states.get("sensor.garage_meter_power").state == "230"
    device = hub.device_registry.get_by_identifier("meter", "pzem-01")
    assert device.name == "Garage meter" and device.model == "PZEM-004T"
    await hub.entities.update_registry_entry(
        "sensor.garage_meter_power", new_entity_id="sensor.garage_power", name="Garage power"
    )
    assert hub.states.get("sensor.garage_meter_power") is None
    assert hub.states.get("sensor.garage_power").attributes["friendly_name"] == "Garage power"
    await hub.entities.update_device_entry(device.id, name_by_user="Garage")
    await bootstrap.stop(runtime)

    # Start without the integration configured: the entity is known and keeps its last state.
    write_config(config, storage_yaml + "meter:\n")
    (config / "configuration.yaml").write_text(storage_yaml)
    runtime = await bootstrap.start(config, data, port=0)
    try:
        restored = runtime.hub.states.get("sensor.garage_power")
        assert restored is not None and restored.state == "230"
        assert restored.attributes["unit_of_measurement"] == "W"
    finally:
        await bootstrap.stop(runtime)

    # With the integration back, the same unique_id gets the renamed entity_id and name.
    (config / "configuration.yaml").write_text(storage_yaml + "meter:\n  watts: 240\n")
    runtime = await bootstrap.start(config, data, port=0)
    try:
        hub = runtime.hub
        assert hub.states.get("sensor.garage_meter_power") is None
        state = hub.states.get("sensor.garage_power")
        assert state.state == "240"
        assert state.attributes["friendly_name"] == "Garage power"
        assert hub.device_registry.get_by_identifier("meter", "pzem-01").name_by_user == "Garage"
        assert hub.states.get("sensor.garage_power").attributes["friendly_name"] == "Garage power"
        assert len(hub.device_registry) == 1
    finally:
        await bootstrap.stop(runtime)


async def test_renaming_a_device_renames_its_entities_at_once(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config", "meter:\n  watts: 5\n", {"meter": METER})
    runtime = await bootstrap.start(config, tmp_path / "data", port=0)
    try:
        hub = runtime.hub
        assert hub.states.get("sensor.garage_meter_power").attributes["friendly_name"] == "Garage meter Power"
        device = hub.device_registry.get_by_identifier("meter", "pzem-01")
        await hub.entities.update_device_entry(device.id, name_by_user="Shed")
        assert hub.states.get("sensor.garage_meter_power").attributes["friendly_name"] == "Shed Power"
    finally:
        await bootstrap.stop(runtime)
