"""WebSocket history/chart: a chart's points decimated on the hub, min/max/mean per aligned bucket."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from hub.api.ws_commands import collect_commands
from hub.recorder import get_recorder
from tests.recorder.test_api import FakeConnection, iso, started


async def test_a_day_of_one_hertz_points_comes_back_as_the_points_asked_for(tmp_path: Path, start_hub: Any) -> None:
    runtime, _headers = await started(tmp_path, start_hub)
    hub = runtime.hub
    recorder = get_recorder(hub)
    assert recorder is not None
    now = time.time()
    begin = (now - 86400) // 3600 * 3600
    await recorder.backfill("sensor.power", [(begin + i, 100 + i % 600) for i in range(0, 86400, 2)])
    await recorder.backfill("sensor.power", [(begin + 7200.5, "unavailable")])
    await recorder.backfill("switch.pump", [(begin + 10, "on")])
    await recorder.flush()
    command = (await collect_commands(hub)).get("history/chart")
    assert command is not None and command.schema is not None
    connection = FakeConnection()
    msg = command.schema({"id": 3, "type": "history/chart", "entity_ids": ["sensor.power", "switch.pump"],
                          "start_time": iso(begin), "end_time": iso(begin + 86400), "points": 300})
    await command.handler(hub, connection, msg)
    kind, msg_id, result = connection.sent[-1]
    assert (kind, msg_id) == ("result", 3)
    assert result["bucket"] == 300 and result["start"] == begin and result["end"] == begin + 86400
    assert list(result["series"]) == ["sensor.power"]  # a switch has no numbers to chart
    power = result["series"]["sensor.power"]
    assert len(power["t"]) == 288 and power["t"][:2] == [begin, begin + 300]
    # A ramp 100..698 every 600 s: each 5 minutes holds half a ramp, low or high half; the value
    # carried in from the bucket before (398) counts in the next one's min and max.
    assert power["min"][0] == 100 and power["max"][0] == 398 and power["min"][1] == 398 and power["max"][1] == 698
    assert abs(power["mean"][0] - 249.0) < 1e-9 and power["last"][0] == 398
    await command.handler(hub, connection, {**msg, "id": 4, "end_time": iso(begin - 10)})
    assert connection.sent[-1][0] == "error" and connection.sent[-1][2][0] == "invalid_end_time"


@pytest.mark.parametrize(("hours", "width", "tier"), [(4.0, 60, "minute"), (2.4, 30, "fifteen_second"), (1.0, 15, "fifteen_second")])
async def test_hours_come_from_a_tier_and_equal_the_raw_points(
    tmp_path: Path, start_hub: Any, hours: float, width: int, tier: str
) -> None:
    from hub.recorder.buckets import query_buckets

    runtime, _headers = await started(tmp_path, start_hub)
    hub = runtime.hub
    recorder = get_recorder(hub)
    assert recorder is not None and recorder.tiers is not None
    now = time.time()
    begin = (now - 5 * 3600) // 3600 * 3600
    points = [(begin + i + (i % 7) / 8, 100 + (i * 37) % 900) for i in range(0, int(now - begin) - 1, 3)]
    await recorder.backfill("sensor.power", points)
    await recorder.flush()
    await recorder.tiers.downsample()  # tier rows up to the last whole 5 minutes; raw points after
    command = (await collect_commands(hub)).get("history/chart")
    assert command is not None and command.schema is not None
    connection = FakeConnection()
    msg = command.schema({"id": 5, "type": "history/chart", "entity_ids": ["sensor.power"],
                          "start_time": iso(now - hours * 3600), "points": 300})
    await command.handler(hub, connection, msg)
    kind, _msg_id, result = connection.sent[-1]
    assert kind == "result" and (result["bucket"], result["source"]) == (width, tier)
    power = result["series"]["sensor.power"]
    assert power["t"] == sorted({ts // width * width for ts, _ in points if ts >= (now - hours * 3600) // width * width})
    # Up to the newest point: the buckets after the tier's watermark come from raw points.
    assert power["t"][-1] == points[-1][0] // width * width and recorder.tiers.tier_until(tier) > now - 301
    raw = await query_buckets(recorder.backend, ["sensor.power"], now - hours * 3600, result["end"], float(width))
    rows = raw.series["sensor.power"]
    assert power["t"] == [r.start for r in rows] and power["min"] == [r.min for r in rows]
    assert power["max"] == [r.max for r in rows] and power["last"] == [r.last for r in rows]
    assert all(abs(a - r.mean) < 1e-9 * r.mean for a, r in zip(power["mean"], rows, strict=True))
