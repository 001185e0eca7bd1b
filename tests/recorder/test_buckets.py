"""The bucketed history query: its definitions by hand, and the same numbers on every backend."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from hub.recorder.backends.base import Batch, HistoryBackend, Point, TierRow
from hub.recorder.buckets import Coverage, coverage_of, effective_width, query_buckets, width_for
from hub.recorder.tiers import Downsampler, RetentionPlan
from tests.recorder.conftest import open_backend

T = 1_699_999_200.0  # 2023-11-14T22:00:00Z, an hour boundary


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def num(entity_id: str, ts: float, value: float) -> Point:
    return Point(entity_id, ts, value, None)


def test_widths_are_rounded_up_to_a_few_aligned_sizes() -> None:
    assert width_for(T, T + 3600, 500) == 10.0  # 7.2 s wanted
    assert width_for(T, T + 86400, 500) == 300.0  # 172.8 s: no width between two minutes and 5 minutes
    assert width_for(T, T + 4 * 3600, 300) == 60.0  # 48 s: a minute, the minute tier's width
    assert width_for(T, T + 8 * 3600, 300) == 120.0
    assert width_for(T, T + 7 * 86400, 500) == 1800.0
    assert width_for(T, T + 365 * 86400, 500) == 86400.0
    assert width_for(T, T + 5 * 365 * 86400, 10) == 27 * 604800.0


def test_ranges_older_than_retention_widen_to_what_the_tiers_hold() -> None:
    coverage = Coverage(raw_from=T + 86400, fifteen_from=T + 14400, minute_from=T + 7200, five_from=T + 3600,
                        hour_from=T - 86400)
    assert effective_width(10.0, T + 2 * 86400, coverage) == 10.0
    assert effective_width(10.0, T + 20000, coverage) == 15.0  # raw points gone, 15-second rows kept
    assert effective_width(30.0, T + 20000, coverage) == 30.0
    assert effective_width(10.0, T + 10800, coverage) == 60.0  # 15-second rows gone, minutes kept
    assert effective_width(120.0, T + 10800, coverage) == 120.0
    assert effective_width(10.0, T + 7200 - 60, coverage) == 300.0
    assert effective_width(10.0, T, coverage) == 3600.0
    assert effective_width(10.0, T - 2 * 86400, coverage) == 86400.0
    with pytest.raises(ValueError, match="positive"):
        effective_width(0.0, T, coverage)


async def test_buckets_by_hand(backend: HistoryBackend) -> None:
    await backend.write(
        Batch(
            [
                num("sensor.power", T + 0, 10.0),
                num("sensor.power", T + 30, 20.0),
                Point("sensor.power", T + 60, None, "unavailable"),
                num("sensor.power", T + 90, 40.0),
                num("sensor.power", T + 250, 5.0),  # after a gap of a whole bucket
            ]
        )
    )
    found = await query_buckets(backend, ["sensor.power", "sensor.none"], T + 10, T + 200, 60.0)
    assert (found.width, found.start, found.end, found.source) == (60.0, T, T + 240, "raw")
    # Time-weighted: 10 for 30 s then 20 for 30 s; the text state is no point, 20 holds through it.
    assert [(r.start - T, r.mean, r.min, r.max, r.last, r.count) for r in found.series["sensor.power"]] == [
        (0.0, 15.0, 10.0, 20.0, 20.0, 2),
        (60.0, 30.0, 20.0, 40.0, 40.0, 1),
    ]
    assert "sensor.none" not in found.series
    after_gap = await query_buckets(backend, ["sensor.power"], T + 240, T + 300, 60.0)
    # 40 carried in from before the gap covers the bucket until 5 arrives at +10 s.
    (row,) = after_gap.series["sensor.power"]
    assert (row.mean, row.min, row.max, row.last) == ((40 * 10 + 5 * 50) / 60, 5.0, 40.0, 5.0)


async def _seed(backend: HistoryBackend, tmp_path: Path) -> Downsampler:
    """Write six hours of a power sensor, an energy counter (with a reset) and a switch; tier four hours."""
    rng = random.Random(20)
    points: list[Point] = []
    ts, energy = T, 1000.0
    while ts < T + 6 * 3600:
        # Eighths of a second: every backend keeps these times exactly (PostgreSQL and InfluxDB in
        # whole microseconds), so even the time weights agree to the last bit.
        ts += rng.choice([1.0, 2.5, 7.0, 30.0]) + rng.randrange(8) / 8
        if T + 3600 <= ts < T + 5400:
            continue  # a half-hour gap: the node was offline
        points.append(num("sensor.power", ts, round(rng.uniform(0, 3000), 2)))
        energy = 3.0 if abs(ts - T - 3 * 3600) < 20 and energy > 100 else energy + rng.random()
        points.append(num("sensor.energy", ts, energy))
        if rng.random() < 0.02:
            points.append(Point("sensor.power", ts + 0.0625, None, "unavailable"))
            points.append(Point("switch.pump", ts, None, rng.choice(["on", "off"])))
    clock = Clock(T)
    downsampler = Downsampler(backend, RetentionPlan(), tmp_path / f"tiers_{backend.name}.json", clock)
    for i in range(0, len(points), 5000):
        await backend.write(Batch(points[i : i + 5000]))
    clock.now = T + 4 * 3600 + 17
    await downsampler.downsample()
    return downsampler


def _numbers(rows: dict[str, list[TierRow]]) -> dict[str, list[tuple[float, ...]]]:
    return {e: [(r.start, r.mean, r.min, r.max, r.last, r.delta, r.count) for r in found] for e, found in rows.items()}


@pytest.mark.services
async def test_the_same_query_gives_the_same_numbers_on_every_backend(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    answers: dict[str, dict[float, tuple[str, dict[str, list[tuple[float, ...]]]]]] = {}
    for kind in ("sqlite", "postgresql", "influxdb"):
        backend = await open_backend(kind, request, tmp_path)
        try:
            downsampler = await _seed(backend, tmp_path)
            coverage = coverage_of(RetentionPlan(), downsampler, T + 6 * 3600)
            assert coverage.hour_until == T + 4 * 3600 and coverage.day_until == T + 2 * 3600  # midnight UTC
            answers[kind] = {}
            for width in (10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0, 7200.0, 86400.0):
                found = await query_buckets(backend, ["sensor.power", "sensor.energy", "switch.pump"], T, T + 6 * 3600, width, coverage)
                answers[kind][width] = (found.source, _numbers(found.series))
        finally:
            await backend.close()
    reference = answers["sqlite"]
    assert {w: source for w, (source, _) in reference.items()} == {
        10.0: "raw", 15.0: "fifteen_second", 30.0: "fifteen_second", 60.0: "minute", 120.0: "minute", 300.0: "five_minute", 900.0: "five_minute", 3600.0: "hour", 7200.0: "hour",
        86400.0: "day",
    }
    assert set(reference[60.0][1]) == {"sensor.power", "sensor.energy"}  # text-only entities have no buckets
    assert len(reference[60.0][1]["sensor.power"]) == 6 * 60 - 30  # the offline half hour is a gap
    for kind in ("postgresql", "influxdb"):
        assert answers[kind] == reference, kind


async def test_tiers_and_raw_points_give_the_same_buckets(backend: HistoryBackend, tmp_path: Path) -> None:
    downsampler = await _seed(backend, tmp_path)
    coverage = coverage_of(RetentionPlan(), downsampler, T + 6 * 3600)
    assert coverage.minute_until == coverage.fifteen_until == T + 4 * 3600  # the rest, up to T + 6 h, comes from raw points
    for width in (15.0, 30.0, 45.0, 60.0, 120.0, 300.0, 1800.0, 3600.0, 10800.0, 86400.0):
        tiered = await query_buckets(backend, ["sensor.power", "sensor.energy"], T, T + 6 * 3600, width, coverage)
        raw = await query_buckets(backend, ["sensor.power", "sensor.energy"], T, T + 6 * 3600, width)
        assert tiered.source != "raw" and raw.source == "raw"
        for entity_id, rows in raw.series.items():
            got = tiered.series[entity_id]
            assert [r.start for r in got] == [r.start for r in rows]
            for a, b in zip(got, rows, strict=True):
                assert (a.min, a.max, a.last, a.count) == (b.min, b.max, b.last, b.count)
                assert math.isclose(a.mean, b.mean, rel_tol=1e-9) and math.isclose(a.delta, b.delta, rel_tol=1e-9)


def _reference_buckets(points: list[Point], entity_id: str, start: float, end: float, width: float) -> list[tuple[float, ...]]:
    """A chart's buckets computed here from the raw points, step by step: (start, mean, min, max, last, count)."""
    numeric = sorted((p.ts, p.value) for p in points if p.entity_id == entity_id and p.value is not None)
    out = []
    bucket = start // width * width
    while bucket < end:
        finish = bucket + width
        before = [v for ts, v in numeric if ts < bucket]
        inside = [(ts, v) for ts, v in numeric if bucket <= ts < finish]
        if inside:
            held = before[-1] if before else None
            steps = ([(bucket, held)] if held is not None else []) + inside
            area = sum(v * ((steps[i + 1][0] if i + 1 < len(steps) else finish) - ts) for i, (ts, v) in enumerate(steps))
            values = [v for _, v in steps]
            out.append((bucket, area / (finish - steps[0][0]), min(values), max(values), inside[-1][1], len(inside)))
        bucket = finish
    return out


async def test_chart_buckets_summed_up_in_the_database_equal_those_computed_from_raw_points(
    backend: HistoryBackend, tmp_path: Path
) -> None:
    downsampler = await _seed(backend, tmp_path)
    points = [p for found in (await backend.read_states(None, T - 1, T + 7 * 3600)).items() for p in
              (Point(found[0], s.ts, s.value, s.state) for s in found[1])]
    for width, start, end in ((10.0, T + 1800.5, T + 3 * 3600), (15.0, T, T + 6 * 3600), (60.0, T + 3000, T + 5800)):
        found = await query_buckets(backend, ["sensor.power", "sensor.energy", "switch.pump"], start, end, width, deltas=False)
        assert found.source == "raw" and set(found.series) == {"sensor.power", "sensor.energy"}
        for entity_id, rows in found.series.items():
            expected = _reference_buckets(points, entity_id, start, end, width)
            assert len(expected) > 10
            assert [(r.start, r.min, r.max, r.last, r.count) for r in rows] == [(e[0], *e[2:]) for e in expected]
            for row, wanted in zip(rows, expected, strict=True):
                assert math.isclose(row.mean, wanted[1], rel_tol=1e-9), (entity_id, row, wanted)
    # The same through the tiers and the raw tail after them (what history/chart asks for 4 hours
    # and for a day), against every raw point walked without the tiers.
    coverage = coverage_of(RetentionPlan(), downsampler, T + 6 * 3600)
    for width, tier in ((15.0, "fifteen_second"), (30.0, "fifteen_second"), (60.0, "minute"), (120.0, "minute"), (300.0, "five_minute")):
        summed = await query_buckets(backend, ["sensor.power"], T, T + 6 * 3600, width, coverage, deltas=False)
        walked = await query_buckets(backend, ["sensor.power"], T, T + 6 * 3600, width)
        assert (summed.source, walked.source) == (tier, "raw")
        assert [(r.start, r.min, r.max, r.last, r.count) for r in summed.series["sensor.power"]] == [
            (r.start, r.min, r.max, r.last, r.count) for r in walked.series["sensor.power"]
        ]
        for a, b in zip(summed.series["sensor.power"], walked.series["sensor.power"], strict=True):
            assert math.isclose(a.mean, b.mean, rel_tol=1e-9)


async def test_chart_buckets_of_more_points_than_one_answer_chunk_holds(backend: HistoryBackend) -> None:
    # InfluxDB answers 50,000 rows a chunk, so one entity's points arrive split over chunks.
    rng = random.Random(7)
    points = [num("sensor.power", T + i * 0.5, float(rng.randrange(1000))) for i in range(60_000)]
    points += [num("sensor.energy", T + i * 5.0, float(i % 17)) for i in range(6_000)]
    for first in range(0, len(points), 5_000):  # batches of the recorder's size
        await backend.write(Batch(points[first : first + 5_000]))
    ids = ["sensor.power", "sensor.energy"]
    summed = await query_buckets(backend, ids, T, T + 30_000, 60.0, deltas=False)
    walked = await query_buckets(backend, ids, T, T + 30_000, 60.0)
    assert summed.source == walked.source == "raw"
    for entity_id in ids:
        got, wanted = summed.series[entity_id], walked.series[entity_id]
        assert len(got) == 500 and sum(r.count for r in got) == (60_000 if entity_id == "sensor.power" else 6_000)
        assert [(r.start, r.min, r.max, r.last, r.count) for r in got] == [(r.start, r.min, r.max, r.last, r.count) for r in wanted]
        for a, b in zip(got, wanted, strict=True):
            assert math.isclose(a.mean, b.mean, rel_tol=1e-9)


@pytest.mark.services
async def test_chart_buckets_are_the_same_numbers_on_every_backend(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    # What history/chart asks for (raw points summed up per bucket where the backend can): every
    # backend gives SQLite's numbers to the last bit, carried values, text states and gaps included.
    answers: dict[str, dict[tuple[float, float], dict[str, list[tuple[float, ...]]]]] = {}
    for kind in ("sqlite", "postgresql", "influxdb"):
        backend = await open_backend(kind, request, tmp_path)
        try:
            await _seed(backend, tmp_path)
            answers[kind] = {}
            for width, start in ((10.0, T + 1800.5), (15.0, T), (30.0, T + 3000), (60.0, T + 5000)):
                found = await query_buckets(backend, ["sensor.power", "sensor.energy", "switch.pump"], start, T + 6 * 3600, width,
                                            deltas=False)
                assert found.source == "raw" and set(found.series) == {"sensor.power", "sensor.energy"}
                answers[kind][width, start] = {e: [(r.start, r.mean, r.min, r.max, r.last, r.count) for r in rows]
                                               for e, rows in found.series.items()}
        finally:
            await backend.close()
    assert len(answers["sqlite"][15.0, T]["sensor.power"]) > 700
    for kind in ("postgresql", "influxdb"):
        assert answers[kind] == answers["sqlite"], kind
