"""History through a real hub: REST, CSV, WebSocket commands, the services and the backend hook."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

import aiohttp

from hub.api import ws_messages as messages
from hub.api.ws_commands import collect_commands
from hub.recorder import get_recorder
from hub.recorder.backends.sqlite import SQLiteBackend
from tests.hubs import write_config

CONFIG = """
recorder:
  commit_interval: 0.05
  exclude:
    domains: [automation]
"""


class FakeConnection:
    """The WebSocket connection port: records what a handler sends."""

    def __init__(self) -> None:
        self.user = None
        self.subscriptions: dict[int, Any] = {}
        self.sent: list[tuple[str, int, Any]] = []

    def send_result(self, msg_id: int, result: Any = None) -> None:
        # Encoded and decoded as the socket would: results may be pre-encoded JSON fragments.
        self.sent.append(("result", msg_id, messages.loads(messages.dumps(result))))

    def send_error(self, msg_id: int, code: str, message: str) -> None:
        self.sent.append(("error", msg_id, (code, message)))


async def started(tmp_path: Path, start_hub, yaml: str = CONFIG, integrations: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    write_config(tmp_path / "config", yaml, integrations)
    runtime = await start_hub(tmp_path / "config")
    user = await runtime.hub.auth.add_user("ann", "correct horse", "owner")
    token = await runtime.hub.auth.create_long_lived_token(user.id, "test")
    return runtime, {"Authorization": f"Bearer {token}"}


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(ts))


async def test_rest_history_period_and_csv_export(tmp_path: Path, start_hub) -> None:  # type: ignore[no-untyped-def]
    runtime, headers = await started(tmp_path, start_hub)
    hub = runtime.hub
    now = time.time()
    hub.states.set("sensor.power", "100", {"unit_of_measurement": "W"}, timestamp=now - 30)
    hub.states.set("sensor.power", "250.5", {"unit_of_measurement": "W"}, timestamp=now - 20)
    hub.states.set("sensor.power", "300", {"unit_of_measurement": "W"}, timestamp=now - 10)
    async with aiohttp.ClientSession(headers=headers) as session:
        url = f"{runtime.url}/api/history/period/{iso(now - 60)}"
        async with session.get(url, params={"filter_entity_id": "sensor.power"}) as response:
            assert response.status == 200
            (entity,) = await response.json()
        assert [s["state"] for s in entity] == ["100", "250.5", "300"]
        assert entity[0]["entity_id"] == "sensor.power"
        assert entity[0]["attributes"] == {"unit_of_measurement": "W"}
        params = {"filter_entity_id": "sensor.power", "minimal_response": ""}
        async with session.get(url, params=params) as response:
            (minimal,) = await response.json()
        assert set(minimal[1]) == {"state", "last_changed"} and "attributes" in minimal[-1]
        async with session.get(f"{runtime.url}/api/history/period") as response:
            assert response.status == 400
        async with session.get(
            f"{runtime.url}/api/history/export.csv",
            params={"entity_id": "sensor.power", "start": iso(now - 60)},
        ) as response:
            assert response.headers["Content-Type"].startswith("text/csv")
            rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[0] == ["entity_id", "time", "state"]
    assert [r[2] for r in rows[1:]] == ["100", "250.5", "300"]


async def test_websocket_history_and_statistics(tmp_path: Path, start_hub) -> None:  # type: ignore[no-untyped-def]
    runtime, _headers = await started(tmp_path, start_hub)
    hub = runtime.hub
    now = time.time()
    hub.states.set("sensor.power", "1", {"friendly_name": "Power"}, timestamp=now - 30)
    hub.states.set("sensor.power", "1", {"friendly_name": "Power!"}, timestamp=now - 20)
    hub.states.set("sensor.power", "2", {"friendly_name": "Power!"}, timestamp=now - 10)
    registry = await collect_commands(hub)
    command = registry.get("history/history_during_period")
    assert command is not None and command.schema is not None
    connection = FakeConnection()
    msg = command.schema({"id": 5, "type": "history/history_during_period", "start_time": iso(now - 60), "entity_ids": ["sensor.power"]})
    await command.handler(hub, connection, msg)
    kind, msg_id, result = connection.sent[-1]
    assert (kind, msg_id) == ("result", 5)
    rows = result["sensor.power"]
    assert [r["s"] for r in rows] == ["1", "2"]  # the attribute-only change is not significant
    assert rows[0]["a"] == {"friendly_name": "Power"} and rows[1]["a"] == {"friendly_name": "Power!"}
    assert abs(rows[0]["lu"] - (now - 30)) < 1e-3
    msg = command.schema({**msg, "id": 6, "significant_changes_only": False, "minimal_response": True})
    await command.handler(hub, connection, msg)
    rows = connection.sent[-1][2]["sensor.power"]
    # As Home Assistant: a minimal response lists changes of state only, even when asked for all.
    assert [r["s"] for r in rows] == ["1", "2"] and set(rows[1]) == {"s", "lu"}
    await command.handler(hub, connection, {**msg, "id": 7, "start_time": "yesterday"})
    assert connection.sent[-1] == ("error", 7, ("invalid_start_time", "Invalid start_time"))
    stats = registry.get("recorder/statistics_during_period")
    assert stats is not None
    await stats.handler(
        hub, connection, {"id": 8, "start_time": iso(now - 3600), "period": "hour", "statistic_ids": ["sensor.power"]}
    )
    assert connection.sent[-1] == ("result", 8, {})  # no completed hour yet


async def test_backfill_service(tmp_path: Path, start_hub) -> None:  # type: ignore[no-untyped-def]
    runtime, _headers = await started(tmp_path, start_hub)
    hub = runtime.hub
    hub.states.set("sensor.energy", "10")
    response = await hub.services.call(
        "recorder",
        "backfill",
        {"entity_id": "sensor.energy", "points": [["2024-01-01T00:00:00+00:00", 1.5], [1704067260, 2]]},
        blocking=True,
        return_response=True,
    )
    assert response == {"points": 2}
    recorder = get_recorder(hub)
    assert recorder is not None
    await recorder.flush()
    found = await recorder.backend.read_states(["sensor.energy"], 1704067200, 1704067300)
    assert [s.value for s in found["sensor.energy"]] == [1.5, 2.0]
    assert hub.states.get("sensor.energy").state == "10"  # type: ignore[union-attr]


ARCHIVE = """
from hub import hookimpl
from hub.recorder.backends.sqlite import SQLiteBackend

@hookimpl
def register_history_backends(hub):
    return {"archive": lambda hub, config: SQLiteBackend(hub.config.data_dir / "archive.db")}
"""


async def test_hook_register_history_backends(tmp_path: Path, start_hub) -> None:  # type: ignore[no-untyped-def]
    runtime, _headers = await started(
        tmp_path, start_hub, "recorder:\n  backend: archive\narchive:\n", {"archive": ARCHIVE}
    )
    hub = runtime.hub
    hub.states.set("sensor.power", "5", timestamp=1000.0)
    recorder = get_recorder(hub)
    assert recorder is not None
    await recorder.flush()
    assert (tmp_path / "data" / "archive.db").exists()
    backend = SQLiteBackend(tmp_path / "data" / "archive.db")
    await backend.open()
    try:
        assert (await backend.read_states(["sensor.power"], 0, 2000))["sensor.power"][0].value == 5.0
    finally:
        await backend.close()
