"""One suite every history backend passes: the same writes must read back the same way."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import orjson

from hub.recorder.backends.base import AttributeChange, Batch, HistoryBackend, Point, Sample, TierRow
from hub.recorder.backends.sqlite import SQLiteBackend
from hub.recorder.partials import sum_up

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z


def power(entity_id: str, ts: float, value: float) -> Point:
    return Point(entity_id, ts, value, None)


async def test_points_read_back_per_entity_in_order(backend: HistoryBackend) -> None:
    await backend.write(
        Batch(
            [
                power("sensor.power", T0 + 1, 100.5),
                power("sensor.power", T0 + 2, 101.0),
                Point("switch.pump", T0 + 1.5, None, "on"),
                power("sensor.other", T0 + 3, 7.0),
            ]
        )
    )
    found = await backend.read_states(["sensor.power", "switch.pump"], T0, T0 + 10)
    assert found == {
        "sensor.power": [Sample(T0 + 1, 100.5, None), Sample(T0 + 2, 101.0, None)],
        "switch.pump": [Sample(T0 + 1.5, None, "on")],
    }
    everything = await backend.read_states(None, T0, T0 + 10)
    assert set(everything) == {"sensor.power", "switch.pump", "sensor.other"}


async def test_writing_a_batch_twice_stores_it_once(backend: HistoryBackend) -> None:
    batch = Batch([power("sensor.power", T0 + i, float(i)) for i in range(100)])
    await backend.write(batch)
    await backend.write(batch)
    found = await backend.read_states(["sensor.power"], T0, T0 + 1000)
    assert [s.value for s in found["sensor.power"]] == [float(i) for i in range(100)]


async def test_microsecond_timestamps_survive(backend: HistoryBackend) -> None:
    await backend.write(Batch([power("sensor.fast", T0 + 0.123456, 1.0), power("sensor.fast", T0 + 0.123457, 2.0)]))
    found = await backend.read_states(["sensor.fast"], T0, T0 + 1)
    assert [round(s.ts - T0, 6) for s in found["sensor.fast"]] == [0.123456, 0.123457]


async def test_start_state_is_the_last_point_before_the_range(backend: HistoryBackend) -> None:
    await backend.write(Batch([power("sensor.t", T0 - 100, 20.0), power("sensor.t", T0 - 50, 21.0), power("sensor.t", T0 + 5, 22.0)]))
    found = await backend.read_states(["sensor.t"], T0, T0 + 10, include_start=True)
    assert found["sensor.t"] == [Sample(T0 - 50, 21.0, None), Sample(T0 + 5, 22.0, None)]
    assert await backend.last_values(T0, ["sensor.t"]) == {"sensor.t": 21.0}


async def test_attributes_come_with_the_set_in_force_at_start(backend: HistoryBackend) -> None:
    old = orjson.dumps({"unit_of_measurement": "W"}).decode()
    new = orjson.dumps({"unit_of_measurement": "kW", "friendly_name": "Power"}).decode()
    await backend.write(
        Batch(
            [power("sensor.p", T0 - 10, 1.0), power("sensor.p", T0 + 10, 2.0)],
            [AttributeChange("sensor.p", T0 - 10, old), AttributeChange("sensor.p", T0 + 10, new)],
        )
    )
    found = await backend.read_attributes(["sensor.p"], T0, T0 + 60)
    assert found == {
        "sensor.p": [(T0 - 10, {"unit_of_measurement": "W"}), (T0 + 10, {"unit_of_measurement": "kW", "friendly_name": "Power"})]
    }


async def test_tier_rows_are_replaced_not_duplicated(backend: HistoryBackend) -> None:
    row = TierRow("sensor.energy", T0 - T0 % 300, 1.5, 1.0, 2.0, 2.0, 1.0, 3)
    await backend.write_tier("five_minute", [row])
    await backend.write_tier("five_minute", [row._replace(mean=1.75, count=4)])
    found = await backend.read_tier("five_minute", ["sensor.energy"], T0 - 3600, T0 + 3600)
    assert found == {"sensor.energy": [row._replace(mean=1.75, count=4)]}


async def test_purge_honours_per_entity_overrides(backend: HistoryBackend) -> None:
    await backend.write(
        Batch([power(e, T0 + i * 3600, float(i)) for e in ("sensor.a", "sensor.keep") for i in range(10)])
    )
    await backend.purge("raw", T0 + 5 * 3600, exclude=["sensor.keep"])
    await backend.purge("raw", T0 + 2 * 3600, only=["sensor.keep"])
    found = await backend.read_states(None, T0 - 1, T0 + 86400)
    assert [s.value for s in found["sensor.a"]] == [5.0, 6.0, 7.0, 8.0, 9.0]
    assert [s.value for s in found["sensor.keep"]] == [float(i) for i in range(2, 10)]


async def test_tier_purge(backend: HistoryBackend) -> None:
    rows = [TierRow("sensor.e", T0 - T0 % 3600 + i * 3600, 1.0, 1.0, 1.0, 1.0, 0.0, 1) for i in range(5)]
    await backend.write_tier("hour", rows)
    await backend.purge("hour", rows[3].start)
    found = await backend.read_tier("hour", None, rows[0].start, rows[-1].start + 1)
    assert found == {"sensor.e": rows[3:]}


async def test_a_number_kept_as_written_reads_back_as_written(backend: HistoryBackend) -> None:
    await backend.write(Batch([Point("sensor.t", T0 + 1, 21.5, "21.50"), power("sensor.t", T0 + 2, 22.0)]))
    found = await backend.read_states(["sensor.t"], T0, T0 + 10)
    assert found["sensor.t"] == [Sample(T0 + 1, 21.5, "21.50"), Sample(T0 + 2, 22.0, None)]
    pairs = await backend.read_points(["sensor.t"], T0, T0 + 10)
    assert pairs["sensor.t"] == [(T0 + 1, "21.50"), (T0 + 2, 22.0)]


async def test_a_restarted_hub_opens_history_whose_retention_it_set(backend: HistoryBackend) -> None:
    await backend.write(Batch([power("sensor.power", T0 + 1, 5.0)]))
    await backend.retention_hint({"raw": 10 * 86400, "five_minute": 30 * 86400, "hour": 365 * 86400})
    await backend.open()  # what the next start does: must not refuse what the last run set
    found = await backend.read_states(["sensor.power"], T0, T0 + 10)
    assert [s.value for s in found["sensor.power"]] == [5.0]


async def test_last_values_finds_an_entity_quiet_for_days(backend: HistoryBackend) -> None:
    await backend.write(Batch([power("sensor.quiet", T0 - 3 * 86400, 5.0), power("sensor.busy", T0 - 10, 7.0),
                               Point("sensor.busy", T0 - 5, None, "unavailable")]))
    assert await backend.last_values(T0, ["sensor.quiet", "sensor.busy", "sensor.none"]) == {"sensor.quiet": 5.0, "sensor.busy": 7.0}
    assert await backend.last_values(T0) == {"sensor.quiet": 5.0, "sensor.busy": 7.0}


async def test_points_sum_up_per_bucket_alike_in_1970_and_now(backend: HistoryBackend) -> None:
    # InfluxDB packs the microseconds of the first half hour after the epoch in fewer bytes
    # than today's: both read back as the same sums.
    for base in (0.0, T0):
        points = [power("sensor.power", base + 0.5 + 7 * i, float(i % 5)) for i in range(40)]
        await backend.write(Batch(points))
        found = await backend.aggregate_points(["sensor.power"], base, base + 300, 60.0)
        assert found == {"sensor.power": sum_up([p.ts for p in points], [p.value or 0.0 for p in points], 60.0)}, base


async def test_a_sqlite_query_does_not_wait_behind_a_long_read(tmp_path: Path) -> None:
    """A chart's query answers while another read (the downsampler's day of raw points) is still running."""
    backend = SQLiteBackend(tmp_path / "history.db")
    await backend.open()
    try:
        await backend.write(Batch([Point("sensor.p", 1000.0 + i, float(i), None) for i in range(100)]))
        release, started = threading.Event(), threading.Event()
        read_states = backend._read_states

        def long_read(*args: Any) -> Any:
            started.set()
            release.wait(10)
            return read_states(*args)

        backend._read_states = long_read  # type: ignore[method-assign]
        slow = asyncio.ensure_future(backend.read_states(["sensor.p"], 0.0, 2000.0))
        assert await asyncio.to_thread(started.wait, 5)
        points = await asyncio.wait_for(backend.read_points(["sensor.p"], 1000.0, 1010.0), 5)
        assert [ts for ts, _ in points["sensor.p"]] == [1000.0 + i for i in range(10)]
        assert not slow.done()
        release.set()
        assert len((await slow)["sensor.p"]) == 100
    finally:
        await backend.close()


async def test_whole_numbers_read_back_as_floats(backend: HistoryBackend) -> None:
    """Every read gives floats, which the history API formats: InfluxDB's JSON answers wrote 4242.0 as
    4242, and an int there answered /api/history/period with a 500 (its MessagePack answers keep the float)."""
    await backend.write(Batch([power("sensor.w", T0 + 1, 4242.0), power("sensor.w", T0 + 2, 0.0)]))
    row = TierRow("sensor.w", T0 - T0 % 3600 - 3600, 4242.0, 4242.0, 4242.0, 4242.0, 0.0, 2)
    await backend.write_tier("hour", [row])
    numbers: list[Any] = [s.value for s in (await backend.read_states(["sensor.w"], T0, T0 + 10))["sensor.w"]]
    numbers += [v for _, v in (await backend.read_points(["sensor.w"], T0, T0 + 10))["sensor.w"]]
    numbers += (await backend.last_values(T0 + 10, ["sensor.w"])).values()
    found = (await backend.read_tier("hour", ["sensor.w"], row.start, row.start + 3600))["sensor.w"]
    numbers += [found[0].mean, found[0].min, found[0].max, found[0].last, found[0].delta]
    assert numbers == [4242.0, 0.0, 4242.0, 0.0, 0.0, 4242.0, 4242.0, 4242.0, 4242.0, 0.0]
    assert {type(n) for n in numbers} == {float}, [type(n).__name__ for n in numbers]
    assert type(found[0].count) is int
