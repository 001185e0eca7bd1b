"""A device key writes its own device's entities only, not too far back, and dies when revoked."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import insert

from hub import bootstrap
from integrations.http_ingest.keys import hash_key
from integrations.http_ingest.models import DeviceApiKeyRow
from tests.hubs import write_config

from .test_telemetry import Setup, run


@pytest.fixture
async def setup(start_hub: Any, tmp_path: Path) -> Any:
    """A hub with http_ingest (no rate limit in the way) and an owner's token."""
    config = write_config(tmp_path / "config", "recorder:\nhttp_ingest:\n  rate_limit: 1000\n  burst: 1000\n")
    runtime = await start_hub(config)
    runtime.hub.auth._rounds = 4
    admin = await runtime.hub.auth.add_user("root", "password123", "owner")
    token = await runtime.hub.auth.create_long_lived_token(admin.id, "admin")
    async with aiohttp.ClientSession() as http:
        yield Setup(runtime, http, token)


async def post(setup: Setup, key: str, body: Any) -> tuple[int, Any]:
    async with setup.http.post(f"{setup.url}/api/v1/telemetry", json=body, headers={"X-API-Key": key}) as response:
        return response.status, await response.json()


async def test_a_key_writes_only_its_device(setup: Setup) -> None:
    garden = await setup.new_key("Garden sensor", device="garden")
    kitchen = await setup.new_key("kitchen")
    assert (await post(setup, kitchen["key"], {"measurements": {"temperature": 19}}))[0] == 201
    hub = setup.hub
    before = hub.states.get("sensor.kitchen_temperature")
    # The garden's key tries to write the kitchen's sensor: by naming the device ...
    status, body = await post(setup, garden["key"], {"device": "kitchen", "measurements": {"temperature": -40}})
    assert status == 403
    assert "belongs to device 'garden'" in body["message"] and "'kitchen'" in body["message"]
    assert hub.states.get("sensor.kitchen_temperature") == before
    # ... or the hub's own sensors, whatever it calls its device.
    recorder = await setup.new_key("recorder")
    status, body = await post(setup, recorder["key"], {"measurements": {"backlog": 0}})
    assert status == 403 and "sensor.recorder_backlog belongs to the hub's recorder integration" in body["message"]
    assert hub.states.get("sensor.recorder_backlog").attributes.get("friendly_name") == "Recorder backlog"
    http = await setup.new_key("http ingest")
    status, body = await post(setup, http["key"], {"measurements": {"rejected_requests": 0}})
    assert status == 403 and "sensor.http_ingest_rejected_requests" in body["message"]
    # Nothing of a refused request is written, not even its allowed measurements.
    status, _ = await post(setup, recorder["key"], {"measurements": {"fine": 1, "backlog": 0}})
    assert status == 403 and hub.states.get("sensor.recorder_fine") is None
    # Its own device works, and the entities are registered under the device.
    assert (await post(setup, garden["key"], {"measurements": {"temperature": 21}}))[0] == 201
    entry = hub.entity_registry.get("sensor.garden_temperature")
    device = hub.device_registry.get(entry.device_id)
    assert entry.platform == "http_ingest" and device.name == "Garden sensor"
    # Refusals are audited with the key (by its prefix) and the reason.
    rows = await hub.auth.audit.entries(action="telemetry")
    assert {r.result for r in rows} == {"refused"} and len(rows) == 4
    assert any(r.user_name.startswith(f"apikey {recorder['prefix']}...") and "recorder_backlog" in (r.reason or "") for r in rows)
    assert any(r.user_name.startswith(f"apikey {garden['prefix']}...") and "'kitchen'" in (r.reason or "") for r in rows)
    for key in (garden, kitchen, recorder, http):  # a prefix identifies a key; the key itself is never stored
        assert all(key["key"] not in f"{r.user_name} {r.target} {r.reason}" for r in rows)


async def test_a_renamed_entity_stays_the_devices(setup: Setup) -> None:
    garden = await setup.new_key("garden")
    assert (await post(setup, garden["key"], {"measurements": {"power": 5}}))[0] == 201
    registry = setup.hub.entity_registry
    await registry.update("sensor.garden_power", new_entity_id="sensor.pump_in_the_garden")
    assert (await post(setup, garden["key"], {"measurements": {"power": 7}}))[0] == 201
    assert setup.hub.states.get("sensor.pump_in_the_garden").state == "7"
    # Another device's key cannot take the old id over by naming itself "garden_power".
    other = await setup.new_key("garden power")
    assert (await post(setup, other["key"], {"measurements": {"x": 1}}))[0] == 201
    assert setup.hub.states.get("sensor.garden_power_x") is not None


async def test_backfill_goes_back_only_as_far_as_the_device_buffer(setup: Setup) -> None:
    garden = await setup.new_key("garden")
    assert (await post(setup, garden["key"], {"measurements": {"power": 50}}))[0] == 201
    year_2001 = datetime(2001, 1, 1, tzinfo=UTC).timestamp()
    status, body = await post(setup, garden["key"], {"ts": year_2001, "measurements": {"power": 1}})
    assert status == 403 and "2001-01-01T00:00:00Z is older than the backfill window" in body["message"]
    eight_days = time.time() - 8 * 86400
    assert (await post(setup, garden["key"], {"measurements": {"power": {"value": 1, "ts": eight_days}}}))[0] == 403
    six_days = time.time() - 6 * 86400
    assert (await post(setup, garden["key"], {"measurements": {"power": {"value": 2, "ts": six_days}}}))[0] == 201
    # A device with a longer buffer gets a longer window.
    logger = await setup.new_key("logger", backfill_days=30)
    assert (await post(setup, logger["key"], {"measurements": {"t": {"value": 2, "ts": eight_days}}}))[0] == 201
    # Nonsense times are a bad body, not a crash.
    for ts in (10**400, -5, float("inf")):
        async with setup.http.post(f"{setup.url}/api/v1/telemetry", data=f'{{"ts": {ts}, "measurements": {{"x": 1}}}}'.replace("inf", "1e999"),
                                   headers={"X-API-Key": logger["key"]}) as response:
            assert response.status == 400, ts


async def test_a_revoked_key_is_refused_on_the_next_request(setup: Setup) -> None:
    garden = await setup.new_key("garden")
    assert (await post(setup, garden["key"], {"measurements": {"power": 50}}))[0] == 201
    # Revoked by another process (the CLI writes the database; the hub keeps no cache of keys).
    config, data = setup.hub.config.config_dir, setup.hub.config.data_dir
    code, out, err = await asyncio.to_thread(run, "apikey", "revoke", garden["id"], "-c", str(config), "--data", str(data))
    assert code == 0, err
    assert (await post(setup, garden["key"], {"measurements": {"power": 51}}))[0] == 401
    assert setup.hub.states.get("sensor.garden_power").state == "50"


async def test_keys_from_before_binding_bind_on_first_use(start_hub: Any, tmp_path: Path) -> None:
    config = write_config(tmp_path / "config", "http_ingest:\n")
    runtime = await start_hub(config)
    raw = "phk_" + "L" * 43
    async with runtime.hub.db() as session, session.begin():
        await session.execute(insert(DeviceApiKeyRow).values(
            id="legacy", name="Barn meter", key_hash=hash_key(raw), prefix=raw[:10], created_by=None,
            created_at=datetime.now(UTC) - timedelta(days=100), expires_at=None, last_used_at=None,
            usage_count=0, revoked_at=None, device=None, backfill_days=7.0))
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{runtime.url}/api/v1/telemetry", json={"device": "barn", "measurements": {"kwh": 3}},
                             headers={"X-API-Key": raw}) as response:
            assert response.status == 201
        async with http.post(f"{runtime.url}/api/v1/telemetry", json={"device": "house", "measurements": {"kwh": 3}},
                             headers={"X-API-Key": raw}) as response:
            assert response.status == 403
    assert runtime.hub.states.get("sensor.barn_kwh").state == "3"


async def test_device_entities_come_back_after_a_restart(start_hub: Any, tmp_path: Path) -> None:
    config = write_config(tmp_path / "config", "http_ingest:\n")
    runtime = await start_hub(config, tmp_path / "data")
    auth = runtime.hub.auth
    owner = await auth.add_user("root", "password123", "owner")
    token = await auth.create_long_lived_token(owner.id, "t")
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{runtime.url}/api/v1/apikeys", json={"name": "garden"},
                             headers={"Authorization": f"Bearer {token}"}) as response:
            key = (await response.json())["key"]
        async with http.post(f"{runtime.url}/api/v1/telemetry", json={"measurements": {"power": 9}},
                             headers={"X-API-Key": key}) as response:
            assert response.status == 201
    await bootstrap.stop(runtime)
    again = await start_hub(config, tmp_path / "data")
    assert again.hub.states.get("sensor.garden_power").state == "9"
