"""Zero loss against real databases: stop the server under a steady stream, start it, count."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from hub.core.hub import Hub
from hub.recorder.backends.base import HistoryBackend
from hub.recorder.recorder import BACKLOG_ENTITY_ID, Recorder
from hub.recorder.spool import Spool

from .conftest import open_backend, wait_for

pytestmark = pytest.mark.services
T0 = 1_750_000_000.0
OUTAGE = 3.0  # seconds the database stays down while points keep coming


async def stream_through_outage(hub: Hub, backend: HistoryBackend, server: Any) -> None:
    data = hub.config.data_dir
    assert data is not None
    recorder = Recorder(hub, backend, Spool(data / "spool"), commit_interval=0.05, retry_max=0.3)
    await recorder.start()
    produced = 0

    async def produce(count: int) -> None:
        nonlocal produced
        for _ in range(count):
            produced += 1
            hub.states.set("sensor.power", str(produced), timestamp=T0 + produced * 0.01)
            hub.states.set("sensor.energy", str(produced / 10), timestamp=T0 + produced * 0.01)
            if produced % 20 == 0:
                await asyncio.sleep(0.01)  # about 2,000 points a second

    try:
        await produce(200)
        await recorder.flush()
        await asyncio.to_thread(server.stop)
        loop = asyncio.get_running_loop()
        down_since = loop.time()
        # Keep streaming while the database is down for a few seconds and the backlog shows it.
        while loop.time() - down_since < OUTAGE or int(hub.states.get(BACKLOG_ENTITY_ID).state) == 0:  # type: ignore[union-attr]
            await produce(20)
        assert recorder.last_error is not None
        stop_task = asyncio.create_task(produce(600))  # the stream goes on while it comes back
        await asyncio.to_thread(server.start)
        await stop_task
        await produce(100)
        await recorder.flush(timeout=30)
        await wait_for(lambda: hub.states.get(BACKLOG_ENTITY_ID).state == "0")  # type: ignore[union-attr]
    finally:
        if not server.running:
            await asyncio.to_thread(server.start)
        await recorder.stop()
    found = await _reopen_and_read(backend)
    for entity_id, scale in (("sensor.power", 1.0), ("sensor.energy", 10.0)):
        values = [round(s.value * scale) for s in found[entity_id]]
        assert values == list(range(1, produced + 1)), f"{entity_id}: lost or duplicated points"


async def _reopen_and_read(backend: HistoryBackend) -> dict[str, Any]:
    await backend.open()
    try:
        return await backend.read_states(None, T0, T0 + 10_000)
    finally:
        await backend.close()


async def test_postgres_outage_loses_nothing(hub: Hub, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    backend = await open_backend("postgresql", request, tmp_path)
    await stream_through_outage(hub, backend, request.getfixturevalue("postgres_server"))


async def test_influxdb_outage_loses_nothing(hub: Hub, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    backend = await open_backend("influxdb", request, tmp_path)
    await stream_through_outage(hub, backend, request.getfixturevalue("influxdb_server"))
