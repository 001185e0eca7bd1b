"""GET /api/history/period streams: the same answer as built whole, in bounded memory for a large range."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from hub.recorder import chunked, get_recorder, history
from hub.recorder.backends.base import AttributeChange, Batch, Point
from hub.recorder.backends.sqlite import SQLiteBackend
from tests.recorder.test_api import started

T = 1_700_000_000.0


@pytest.mark.parametrize("significant", [False, True])
@pytest.mark.parametrize("minimal", [False, True])
@pytest.mark.parametrize("no_attributes", [False, True])
async def test_parts_join_to_the_answer_built_whole(tmp_path: Path, significant: bool, minimal: bool, no_attributes: bool) -> None:
    backend = SQLiteBackend(tmp_path / "h.db")
    await backend.open()
    try:
        points = [Point("sensor.a", T - 50, 1.0, None)]
        points += [Point("sensor.a", T + i * 7.5, float(i % 13 // 4), None) for i in range(30_000)]
        points += [Point("sensor.b", T + 100, None, "on"), Point("sensor.b", T + 90_000, None, "off")]
        changes = [AttributeChange("sensor.a", T - 50, '{"unit_of_measurement": "W"}'),
                   AttributeChange("sensor.a", T + 70_000, '{"unit_of_measurement": "kW"}')]
        await backend.write(Batch(points, changes))
        ids = ["sensor.a", "sensor.none", "sensor.b"]
        whole = history.full(
            await history.history_during_period(backend, None, ids, T, T + 300_000, include_start_time_state=True,
                                                significant_changes_only=significant, no_attributes=no_attributes),
            minimal_response=minimal,
        )
        parts = [p async for p in chunked.history_parts(backend, None, ids, T, T + 300_000, include_start=True,
                                                        significant_changes_only=significant, minimal_response=minimal,
                                                        no_attributes=no_attributes, now=T + 300_000)]
        assert len(parts) > 10  # written in parts, not at once
        assert orjson.loads(b"".join(parts)) == whole
    finally:
        await backend.close()


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


async def test_a_large_range_streams_complete_in_bounded_memory(tmp_path: Path, start_hub: Any) -> None:
    runtime, headers = await started(tmp_path, start_hub)
    recorder = get_recorder(runtime.hub)
    assert recorder is not None
    begin = time.time() - 6 * 86400
    count = 400_000  # 4 sensors, each every 5 s over almost 6 days
    for i in range(0, count, 50_000):
        await recorder.backend.write(Batch([Point(f"sensor.m{j % 4}", begin + j * 1.25, float(j % 1000), None)
                                            for j in range(i, i + 50_000)]))
    ids = ",".join(f"sensor.m{k}" for k in range(4))
    url = f"{runtime.url}/api/history/period/{time.strftime('%Y-%m-%dT%H:%M:%S+00:00', time.gmtime(begin - 1))}"
    peak, stop = [_rss()], threading.Event()

    def sample() -> None:
        while not stop.wait(0.005):
            peak[0] = max(peak[0], _rss())

    baseline = _rss()
    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    out = tmp_path / "answer.json"
    try:
        async with aiohttp.ClientSession() as http, http.get(
            url, params={"filter_entity_id": ids, "end_time": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time())),
                         "minimal_response": "1", "no_attributes": "1"}, headers=headers) as response:
            assert response.status == 200 and response.headers.get("Transfer-Encoding") == "chunked"
            with out.open("wb") as f:
                async for chunk in response.content.iter_chunked(1 << 16):
                    f.write(chunk)
    finally:
        stop.set()
        watcher.join()
    grown = (peak[0] - baseline) / 1e6
    answer = orjson.loads(out.read_bytes())
    assert sorted(len(rows) for rows in answer) == [count // 4] * 4  # every point, none lost
    assert answer[0][0]["entity_id"] == "sensor.m0" and answer[0][-1]["entity_id"] == "sensor.m0"
    # Built whole, 400,000 rows are ~150 MB of dicts plus the JSON; streamed, a window's worth.
    print(f"RSS grew by {grown:.1f} MB while streaming {count} rows")
    assert grown < 60, f"RSS grew by {grown:.0f} MB while answering"
