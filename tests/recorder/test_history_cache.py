"""The charts' history answers from encoded past spans equal those read point by point."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from hub.recorder import compressed
from hub.recorder.backends.base import Batch, Point
from hub.recorder.backends.sqlite import SQLiteBackend
from hub.recorder.compressed import StateTexts
from hub.recorder.history_cache import HistoryCache, build_block, cached_history

T0 = 1_704_067_200.0  # 2024-01-01T00:00:00Z
HOUR = 3600.0


def points() -> list[Point]:
    out = []
    for i in range(6 * 60):  # six hours, a point a minute
        ts = T0 + i * 60 + 0.25
        # Repeats run across hour boundaries; some states are text.
        value = (i // 7) % 5
        out.append(Point("sensor.p", ts, None, "unavailable") if value == 4 else Point("sensor.p", ts, value * 0.5, None))
        out.append(Point("switch.s", ts, None, "on" if (i // 90) % 2 else "off"))
    return out


@pytest.fixture
async def backend(tmp_path: Path):  # type: ignore[no-untyped-def]
    instance = SQLiteBackend(tmp_path / "history.db")
    await instance.open()
    await instance.write(Batch(points()))
    yield instance
    await instance.close()


async def uncached(backend: SQLiteBackend, start: float, end: float, attributes=None) -> bytes:  # type: ignore[no-untyped-def]
    found = await backend.read_points(["sensor.p", "switch.s", "sensor.none"], start, end, include_start=True)
    return compressed.encode(found, attributes, start, significant_changes_only=True, minimal_response=True)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (T0 + 1234.5, T0 + 5 * HOUR + 77),  # partial hours at both ends
        (T0 + HOUR, T0 + 4 * HOUR),  # on hour boundaries
        (T0 + 100, T0 + 200),  # inside one hour
        (T0 - HOUR, T0 + 10 * HOUR),  # beyond the data at both ends
    ],
)
async def test_cached_answers_equal_uncached_ones_cold_and_warm(backend: SQLiteBackend, start: float, end: float) -> None:
    cache = HistoryCache()
    now = T0 + 5.5 * HOUR
    ids = ["sensor.p", "switch.s", "sensor.none"]
    expected = await uncached(backend, start, min(end, 1e12))
    cold = await cached_history(cache, backend, ids, start, end, now, None, include_start=True)
    warm = await cached_history(cache, backend, ids, start, end, now, None, include_start=True)
    assert orjson.loads(cold) == orjson.loads(expected)
    assert cold == expected and warm == expected


async def test_the_first_row_carries_the_attributes_in_force(backend: SQLiteBackend) -> None:
    cache = HistoryCache()
    attributes = {"sensor.p": [(T0 - 10, {"unit_of_measurement": "W"}), (T0 + 2 * HOUR, {"unit_of_measurement": "kW"})]}
    start, end = T0 + 600, T0 + 4 * HOUR
    answer = await cached_history(cache, backend, ["sensor.p"], start, end, end, attributes, include_start=True)
    assert orjson.loads(answer)["sensor.p"][0]["a"] == {"unit_of_measurement": "W"}
    expected = orjson.loads(await uncached(backend, start, end, attributes))
    assert orjson.loads(answer) == {"sensor.p": expected["sensor.p"]}


async def test_a_late_point_in_a_cached_span_shows_in_the_next_answer(backend: SQLiteBackend) -> None:
    cache = HistoryCache()
    start, end = T0, T0 + 5 * HOUR
    await cached_history(cache, backend, ["sensor.p"], start, end, end, None, include_start=True)
    assert len(cache) == 5 * 12  # the five-minute spans wholly inside; partial ones are read each time
    late = Batch([Point("sensor.p", T0 + 2 * HOUR + 30, 99.0, None)])  # e.g. a device's offline buffer
    await backend.write(late)
    cache.note_stored(late)
    answer = orjson.loads(await cached_history(cache, backend, ["sensor.p"], start, end, end, None, include_start=True))
    assert {"s": "99", "lu": T0 + 2 * HOUR + 30} in answer["sensor.p"]
    assert answer["sensor.p"] == orjson.loads(await uncached(backend, start, end))["sensor.p"]


def test_the_cache_stays_within_its_byte_budget() -> None:
    cache = HistoryCache(max_bytes=10_000)
    texts = StateTexts()
    for hour in range(50):
        stamp = cache.begin()
        block = build_block([(T0 + hour * HOUR + i, float(i)) for i in range(20)], texts)
        cache.end(stamp, {("sensor.p", T0 + hour * HOUR): block})
    assert cache.size <= 10_000 and 0 < len(cache) < 50
    assert cache.get(("sensor.p", T0 + 49 * HOUR)) is not None  # the newest stay
    assert cache.get(("sensor.p", T0)) is None


def test_an_hour_written_during_a_read_is_not_stored_stale() -> None:
    cache = HistoryCache()
    key = ("sensor.p", T0)
    block = build_block([(T0 + 1, 1.0)], StateTexts())
    stamp = cache.begin()
    cache.note_stored(Batch([Point("sensor.p", T0 + 5, 2.0, None)]))  # lands while the query reads
    cache.end(stamp, {key: block})
    assert cache.get(key) is None


async def test_live_points_leave_the_cache_alone_and_late_ones_still_drop_their_span(backend: SQLiteBackend) -> None:
    """Newer than every span stored or being read, a stored slice drops nothing (and costs no walk)."""
    cache = HistoryCache()
    start, end = T0, T0 + HOUR
    await cached_history(cache, backend, ["sensor.p", "switch.s"], start, end, end, None, include_start=True)
    assert len(cache) == 2 * 12
    cache.note_stored(Batch([Point("sensor.p", end, 1.0, None), Point("switch.s", end + 400, None, "on")]))
    assert len(cache) == 2 * 12
    cache.note_stored(Batch([Point("sensor.p", end + 10, 1.0, None), Point("sensor.p", end - 1, 1.0, None)]))
    assert len(cache) == 2 * 12 - 1 and cache.get(("sensor.p", end - 300)) is None  # the last span, late by a second
    # A query reading spans up to a later end: a point for one of them lands meanwhile.
    stamp = cache.begin(end + HOUR)
    cache.note_stored(Batch([Point("sensor.p", end + 30, 2.0, None)]))
    cache.end(stamp, {("sensor.p", end): build_block([(end + 1, 1.0)], StateTexts())})
    assert cache.get(("sensor.p", end)) is None
