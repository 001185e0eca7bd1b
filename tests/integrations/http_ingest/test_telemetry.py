"""Devices post telemetry with API keys; admins make and revoke the keys (REST, WebSocket, CLI)."""

from __future__ import annotations

import io
import time
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select, update

from hub.cli import main
from integrations.http_ingest.models import DeviceApiKeyRow
from tests.hubs import write_config


class Setup:
    def __init__(self, runtime: Any, http: aiohttp.ClientSession, admin_token: str) -> None:
        self.runtime, self.hub, self.http, self.admin_token = runtime, runtime.hub, http, admin_token
        self.url = runtime.url

    async def new_key(self, name: str = "garden", **extra: Any) -> dict[str, Any]:
        async with self.http.post(f"{self.url}/api/v1/apikeys", json={"name": name, **extra}, headers={"Authorization": f"Bearer {self.admin_token}"}) as response:
            assert response.status == 201, await response.text()
            return await response.json()

    async def post(self, key: str | None, body: Any, bearer: bool = False) -> aiohttp.ClientResponse:
        headers = {} if key is None else {"Authorization": f"Bearer {key}"} if bearer else {"X-API-Key": key}
        async with self.http.post(f"{self.url}/api/v1/telemetry", json=body, headers=headers) as response:
            await response.read()
            return response


@pytest.fixture
async def setup(start_hub: Any, tmp_path: Path) -> Any:
    config = write_config(tmp_path / "config", """\
        recorder:
          commit_interval: 0.05
        http_ingest:
          rate_limit: 0.5
          burst: 3
        """)
    runtime = await start_hub(config)
    admin = await runtime.hub.auth.add_user("root", "password123", "owner")
    token = await runtime.hub.auth.create_long_lived_token(admin.id, "admin")
    async with aiohttp.ClientSession() as http:
        yield Setup(runtime, http, token)


async def test_measurements_become_states_and_the_key_is_counted(setup: Setup) -> None:
    key = await setup.new_key("garden", expires_days=30)
    body = {"device": "Garden", "measurements": {
        "temperature": {"value": 21.5, "unit": "°C", "device_class": "temperature", "state_class": "measurement"},
        "door_open": True,
        "status": "ok",
        "position": {"lat": 1.5, "lon": 2.5},
        "power": {"value": 120, "unit": "W", "attributes": {"phase": "L1"}},
    }}
    response = await setup.post(key["key"], body)
    assert response.status == 201
    states = setup.hub.states
    temperature = states.get("sensor.garden_temperature")
    assert temperature.state == "21.5" and temperature.attributes["unit_of_measurement"] == "°C"
    assert temperature.attributes["device_class"] == "temperature" and temperature.attributes["friendly_name"] == "Garden temperature"
    assert states.get("binary_sensor.garden_door_open").state == "on"
    assert states.get("sensor.garden_status").state == "ok"
    position = states.get("sensor.garden_position")
    assert position.attributes["lat"] == 1.5 and position.state == '{"lat":1.5,"lon":2.5}'
    assert states.get("sensor.garden_power").attributes["phase"] == "L1"

    # Without "device" a body is for the key's own device.
    assert (await setup.post(key["key"], {"measurements": {"status": "dry"}}, bearer=True)).status == 201
    assert states.get("sensor.garden_status").state == "dry"
    async with setup.http.get(f"{setup.url}/api/v1/apikeys", headers={"Authorization": f"Bearer {setup.admin_token}"}) as response:
        [listed] = await response.json()
    assert listed["usage_count"] == 2 and listed["last_used_at"] is not None and "key" not in listed
    assert listed["expires_at"].startswith(str((datetime.now(UTC) + timedelta(days=30)).date()))
    async with setup.hub.db() as session:
        row = (await session.execute(select(DeviceApiKeyRow))).scalar_one()
    assert row.key_hash != key["key"] and key["key"] not in row.key_hash and len(row.key_hash) == 64


async def test_wrong_revoked_or_expired_keys_are_401_counted_and_change_nothing(setup: Setup, caplog: Any) -> None:
    key = await setup.new_key()
    body = {"measurements": {"intruder": 1}}
    assert (await setup.post("phk_not-a-key", body)).status == 401
    assert (await setup.post(None, body)).status == 401
    assert (await setup.post("phk_" + "a" * 5_000, body)).status == 401
    async with setup.http.delete(f"{setup.url}/api/v1/apikeys/{key['id']}", headers={"Authorization": f"Bearer {setup.admin_token}"}) as response:
        assert response.status == 200
    assert (await setup.post(key["key"], body)).status == 401

    expired = await setup.new_key("old")
    async with setup.hub.db() as session, session.begin():
        await session.execute(update(DeviceApiKeyRow).where(DeviceApiKeyRow.id == expired["id"]).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert (await setup.post(expired["key"], body)).status == 401

    assert setup.hub.states.get("sensor.intruder") is None
    assert setup.hub.states.get("sensor.http_ingest_rejected_requests").state == "5"
    assert caplog.text.count("Refused telemetry") == 1  # logged once a minute, counted every time


async def test_each_key_is_rate_limited_with_retry_after(setup: Setup) -> None:
    first, second = await setup.new_key("a"), await setup.new_key("b")
    body = {"measurements": {"x": 1}}
    assert [(await setup.post(first["key"], body)).status for _ in range(3)] == [201, 201, 201]
    refused = await setup.post(first["key"], body)
    assert refused.status == 429 and refused.headers["Retry-After"] == "2"
    assert (await setup.post(second["key"], body)).status == 201  # another key has its own budget


async def test_stamped_late_readings_go_to_history_not_the_live_state(setup: Setup) -> None:
    from hub.recorder import get_recorder

    key = (await setup.new_key("pump"))["key"]
    assert (await setup.post(key, {"device": "pump", "measurements": {"power": 50}})).status == 201
    an_hour_ago = time.time() - 3600
    body = {"device": "pump", "ts": an_hour_ago, "measurements": {"power": 75.5}}
    response = await setup.post(key, body)
    assert response.status == 201
    assert setup.hub.states.get("sensor.pump_power").state == "50"
    recorder = get_recorder(setup.hub)
    await recorder.flush()
    history = await recorder.backend.read_states(["sensor.pump_power"], an_hour_ago - 1, an_hour_ago + 1)
    assert [(round(p.ts), p.value) for p in history["sensor.pump_power"]] == [(round(an_hour_ago), 75.5)]
    iso = datetime.now(UTC).isoformat()
    assert (await setup.post(key, {"device": "pump", "measurements": {"power": {"value": 60, "ts": iso}}})).status == 201
    assert setup.hub.states.get("sensor.pump_power").state == "60"


@pytest.mark.parametrize(("body", "message"), [
    ({"measurements": {"x": {"value": 1, "colour": "red"}}}, "measurements.x: unknown keys colour"),
    ({"measurements": {"x": 1}, "ts": "yesterday"}, "ts: 'yesterday' is not an ISO 8601 time"),
    ({"measurements": {"!!": 1}}, "measurements.!!: the name needs letters or digits"),
    ({"measurements": {"x": "y" * 300}}, "measurements.x: the state is longer than 255 characters"),
    ({"values": {}}, '"measurements"'),
])
async def test_bad_bodies_name_the_field(setup: Setup, body: Any, message: str) -> None:
    key = (await setup.new_key())["key"]
    async with setup.http.post(f"{setup.url}/api/v1/telemetry", json=body, headers={"X-API-Key": key}) as response:
        assert response.status == 400
        assert message in (await response.json())["message"]


async def test_keys_over_the_websocket_are_for_admins(setup: Setup) -> None:
    user = await setup.hub.auth.add_user("kid", "password123", "user")
    user_token = await setup.hub.auth.create_long_lived_token(user.id, "t")

    async def session(token: str) -> aiohttp.ClientWebSocketResponse:
        ws = await setup.http.ws_connect(f"{setup.url}/api/websocket")
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": token})
        assert (await ws.receive_json())["type"] == "auth_ok"
        return ws

    ws = await session(setup.admin_token)
    await ws.send_json({"id": 1, "type": "http_ingest/apikey/create", "name": "meter", "expires_days": 2})
    created = (await ws.receive_json())["result"]
    assert created["key"].startswith("phk_") and created["name"] == "meter"
    assert (await setup.post(created["key"], {"measurements": {"m": 1}})).status == 201
    await ws.send_json({"id": 2, "type": "http_ingest/apikey/list"})
    assert [k["usage_count"] for k in (await ws.receive_json())["result"]] == [1]
    await ws.send_json({"id": 3, "type": "http_ingest/apikey/revoke", "key_id": created["id"]})
    assert (await ws.receive_json())["success"] is True
    assert (await setup.post(created["key"], {"measurements": {"m": 2}})).status == 401
    await ws.close()

    ws = await session(user_token)
    await ws.send_json({"id": 1, "type": "http_ingest/apikey/create", "name": "sneaky"})
    answer = await ws.receive_json()
    assert answer["success"] is False and answer["error"]["code"] == "unauthorized"
    await ws.close()
    async with setup.http.post(f"{setup.url}/api/v1/apikeys", json={"name": "x"}, headers={"Authorization": f"Bearer {user_token}"}) as response:
        assert response.status == 401


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_cli_creates_lists_and_revokes_keys(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "configuration.yaml").write_text("http_ingest:\n")
    where = ["-c", str(config)]
    code, key, note = run("apikey", "create", "barn meter", "--expires-days", "7", *where)
    assert code == 0 and key.strip().startswith("phk_") and "not shown again" in note
    code, listing, _ = run("apikey", "list", *where)
    assert code == 0 and "barn meter" in listing and "never used" in listing and key.strip() not in listing
    key_id = listing.split()[0]
    assert run("apikey", "revoke", key_id, *where)[:2] == (0, f"Revoked API key {key_id}.\n")
    assert "revoked" in run("apikey", "list", *where)[1]
    assert run("apikey", "revoke", key_id, *where)[0] == 1
