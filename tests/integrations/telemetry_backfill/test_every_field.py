"""Batch telemetry keeps every field (not only the meter's six), takes ts or timestamp in any of
the usual forms, and names what it could not keep, once a minute per node (real Mosquitto)."""

from __future__ import annotations

import asyncio
import logging
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import orjson
import pytest

from hub.core.bus import callback
from hub.recorder import get_recorder
from integrations.telemetry_backfill.batch import parse
from tests.hubs import write_config

pytestmark = pytest.mark.services


def test_every_field_is_kept_and_what_cannot_be_is_named() -> None:
    now = 1_800_000_000.0
    batch = parse("n1", orjson.dumps({"readings": [
        {"ts": (now - 60) * 1000, "power": 5, "temperature": 21.5, "relay": True, "mode": "eco", "x": None},
        {"timestamp": datetime.fromtimestamp(now - 30, UTC).isoformat(), "temperature": 22, "Bad Name": 1, "l": [1]},
    ]}), now=now)
    assert batch.points == {
        "power": [(now - 60, 5.0)],
        "temperature": [(now - 60, 21.5), (now - 30, 22.0)],
        "relay": [(now - 60, "on")],
        "mode": [(now - 60, "eco")],
    }
    assert set(batch.dropped) == {"x", "Bad Name", "l"}


async def test_custom_fields_reach_history_and_drops_are_logged_once_a_minute(
        tmp_path: Path, start_hub: Any, mosquitto_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    config = write_config(tmp_path / "config", textwrap.dedent(f"""\
        mqtt:
          broker: {mosquitto_server.url}
        recorder:
          commit_interval: 0.05
        telemetry_backfill:
        """))
    runtime = await start_hub(config)
    hub = runtime.hub
    batches: list[dict[str, Any]] = []
    hub.bus.listen("telemetry_backfilled", callback(lambda event: batches.append(event.data)))
    ts = int(time.time()) - 600
    node = f"node-{int(time.time() * 1000) % 100000}"
    body = {"node_id": node, "readings": [{"ts": ts, "power": 120.5, "temperature": 21.25, "note": {"a": 1}},
                                          {"ts": ts + 10, "power": 121, "temperature": 21.5, "note": None}]}
    caplog.set_level(logging.WARNING, "integrations.telemetry_backfill")
    async with aiomqtt.Client(mosquitto_server.host, mosquitto_server.port) as device:
        for _ in range(3):
            await device.publish(f"devices/{node}/telemetry", orjson.dumps(body), qos=1)
        for _ in range(500):
            if len(batches) == 3:
                break
            await asyncio.sleep(0.01)
    assert len(batches) == 3
    slug = node.replace("-", "_")
    assert batches[0]["entities"] == {"power": f"sensor.{slug}_power", "temperature": f"sensor.{slug}_temperature"}
    recorder = get_recorder(hub)
    await recorder.flush()
    history = await recorder.backend.read_states([f"sensor.{slug}_temperature"], ts - 1, ts + 11)
    assert [(s.ts, s.value) for s in history[f"sensor.{slug}_temperature"]] == [(ts, 21.25), (ts + 10, 21.5)]
    warnings = [r.getMessage() for r in caplog.records if "dropped fields" in r.getMessage()]
    assert warnings == [f"Telemetry of {node} on devices/+/telemetry: dropped fields note (null, a list or an object)"]
