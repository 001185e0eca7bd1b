"""Downsampling and retention over simulated weeks with a fake clock, a meter reset included."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hub.recorder import history
from hub.recorder.backends.base import Batch, HistoryBackend, Point, Sample, TierRow
from hub.recorder.backends.sqlite import SQLiteBackend
from hub.recorder.buckets import Coverage, query_buckets
from hub.recorder.tiers import Downsampler, RetentionPlan, aggregate, combine

DAY = 86400.0
T0 = 1_704_067_200.0  # 2024-01-01T00:00:00Z, a Monday


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_drop_is_a_meter_reset_not_negative_use() -> None:
    samples = [Sample(0, 100.0, None), Sample(60, 100.5, None), Sample(120, 0.25, None), Sample(180, 1.0, None)]
    (row,) = aggregate("sensor.energy", samples, None, 300)
    assert row.delta == pytest.approx(0.5 + 0.25 + 0.75)
    assert (row.min, row.max, row.last, row.count) == (0.25, 100.5, 1.0, 4)


def test_a_dip_below_the_last_high_is_not_a_reset() -> None:
    # 100.5 -> 100.4 is a flaky reading (within 10 %), not a new meter: nothing counts until the
    # counter passes 100.5 again, so 100.4 -> 100.75 adds 0.25, not 0.35 (nor 100.4 as a reset would).
    samples = [Sample(0, 100.0, None), Sample(60, 100.5, None), Sample(120, 100.4, None), Sample(180, 100.75, None)]
    (row,) = aggregate("sensor.energy", samples, None, 300)
    assert row.delta == pytest.approx(0.75)


def test_the_mean_is_weighted_by_time() -> None:
    # 10 W for 4 minutes, then 1010 W for the last minute of the bucket.
    (row,) = aggregate("sensor.power", [Sample(0, 10.0, None), Sample(240, 1010.0, None)], None, 300)
    assert row.mean == pytest.approx((10 * 240 + 1010 * 60) / 300)


async def test_three_weeks_of_downsampling_and_purge(backend: HistoryBackend, tmp_path: Path) -> None:
    clock = FakeClock(T0)
    plan = RetentionPlan(
        {"raw": 7 * DAY, "five_minute": 14 * DAY, "hour": 365 * DAY},
        {"sensor.energy": {"raw": 10 * DAY}},
    )
    downsampler = Downsampler(backend, plan, tmp_path / "tiers.json", clock)
    energy = 0.0
    step = 600.0
    for block in range(21 * 4):  # 21 days in 6-hour blocks
        points = []
        for i in range(36):
            ts = T0 + block * 6 * 3600 + i * step
            if ts == T0 + 10 * DAY:
                energy = 0.0  # the meter was replaced: it starts again from zero
            energy += 0.5
            points.append(Point("sensor.energy", ts, energy, None))
            points.append(Point("sensor.power", ts, 100.0 + (ts - T0) // 3600 % 24, None))
        await backend.write(Batch(points))
        clock.now = T0 + (block + 1) * 6 * 3600
        await downsampler.downsample()
        await downsampler.purge()
    now = clock.now
    raw = await backend.read_states(None, T0, now)
    assert min(s.ts for s in raw["sensor.power"]) >= now - 7 * DAY
    assert min(s.ts for s in raw["sensor.energy"]) >= now - 10 * DAY
    assert min(s.ts for s in raw["sensor.energy"]) < now - 7 * DAY  # the override kept more
    five = await backend.read_tier("five_minute", None, T0, now)
    assert min(r.start for r in five["sensor.power"]) >= now - 14 * DAY
    hours = await backend.read_tier("hour", ["sensor.energy", "sensor.power"], T0, now)
    assert len(hours["sensor.energy"]) == 21 * 24
    # Every hour used 3 kWh (6 readings of 0.5), including the hour of the meter reset.
    assert all(r.delta == pytest.approx(3.0) for r in hours["sensor.energy"][1:])
    assert [r.mean for r in hours["sensor.power"][:3]] == [pytest.approx(100.0), pytest.approx(101.0), pytest.approx(102.0)]
    days = await history.statistics_during_period(backend, ["sensor.energy"], T0, now, "day", ["change", "sum", "state"])
    changes = [d["change"] for d in days["sensor.energy"]]
    assert len(changes) == 21 and all(c == pytest.approx(72.0) for c in changes[1:])
    assert days["sensor.energy"][-1]["sum"] == pytest.approx(sum(changes))
    assert days["sensor.energy"][9]["start"] == (T0 + 9 * DAY) * 1000
    weeks = await history.statistics_during_period(backend, ["sensor.power"], T0, now, "week", ["mean", "min", "max"])
    assert [(w["min"], w["max"]) for w in weeks["sensor.power"]] == [(100.0, 123.0)] * 3


async def test_late_points_recompute_their_buckets(backend: HistoryBackend, tmp_path: Path) -> None:
    clock = FakeClock(T0)
    downsampler = Downsampler(backend, RetentionPlan(), tmp_path / "tiers.json", clock)
    await backend.write(Batch([Point("sensor.p", T0 + 60, 10.0, None)]))
    clock.now = T0 + 2 * 3600
    await downsampler.downsample()
    late = Batch([Point("sensor.p", T0 + 30, 30.0, None)])  # e.g. a device's offline buffer
    await backend.write(late)
    downsampler.note_stored(late)
    await downsampler.downsample()
    (row,) = (await backend.read_tier("five_minute", ["sensor.p"], T0, T0 + 300))["sensor.p"]
    assert (row.min, row.max, row.count) == (10.0, 30.0, 2)
    (hour,) = (await backend.read_tier("hour", ["sensor.p"], T0, T0 + 3600))["sensor.p"]
    assert hour.max == 30.0
    resumed = Downsampler(backend, RetentionPlan(), tmp_path / "tiers.json", clock)
    assert resumed.watermarks == downsampler.watermarks


def test_an_hour_with_quiet_five_minute_buckets_weights_the_value_in_force() -> None:
    # A sensor that reports every half hour: the 10 holds from :05 to :30 too.
    rows = [
        TierRow("sensor.t", T0, 10.0, 10.0, 10.0, 10.0, 0.0, 1),
        TierRow("sensor.t", T0 + 1800, 40.0, 40.0, 40.0, 40.0, 0.0, 1),
    ]
    (hour,) = combine("sensor.t", rows, 3600)
    assert hour.mean == pytest.approx((10 * 1800 + 40 * 300) / 2100)


async def test_statistics_sum_is_absolute_and_day_means_weighted_by_time(backend: HistoryBackend) -> None:
    hours = [TierRow("sensor.energy", T0 + h * 3600, 0.0, 0.0, 0.0, 0.0, 1.5, 1) for h in range(72)]
    # Temperature: 10 at midnight, then nothing until noon, when it is 20 for an hour.
    hours += [
        TierRow("sensor.t", T0 + 2 * DAY, 10.0, 10.0, 10.0, 10.0, 0.0, 1),
        TierRow("sensor.t", T0 + 2 * DAY + 12 * 3600, 20.0, 20.0, 20.0, 20.0, 0.0, 1),
    ]
    await backend.write_tier("hour", hours)
    # A query of the third day only: the sum carries the 48 hours before it (72 kWh).
    hourly = await history.statistics_during_period(backend, ["sensor.energy"], T0 + 2 * DAY, T0 + 3 * DAY, "hour")
    assert [h["sum"] for h in hourly["sensor.energy"][:2]] == [pytest.approx(73.5), pytest.approx(75.0)]
    assert hourly["sensor.energy"][0]["change"] == pytest.approx(1.5)
    days = await history.statistics_during_period(
        backend, ["sensor.energy", "sensor.t"], T0 + DAY, T0 + 3 * DAY, "day", ["sum", "change", "mean"]
    )
    assert [d["sum"] for d in days["sensor.energy"]] == [pytest.approx(72.0), pytest.approx(108.0)]
    assert [d["change"] for d in days["sensor.energy"]] == [pytest.approx(36.0)] * 2
    (day,) = days["sensor.t"]
    assert day["mean"] == pytest.approx((12 * 10 + 1 * 20) / 13)  # not (10 + 20) / 2


async def test_sum_stays_absolute_after_the_hour_tier_is_purged(tmp_path: Path) -> None:
    backend = SQLiteBackend(tmp_path / "history.db")
    await backend.open()
    try:
        await backend.write_tier("hour", [TierRow("sensor.energy", T0 + h * 3600, 0.0, 0.0, 0.0, 0.0, 2.0, 1) for h in range(48)])
        await backend.purge("hour", T0 + DAY)
        hourly = await history.statistics_during_period(backend, ["sensor.energy"], T0, T0 + 2 * DAY, "hour", ["sum"])
        assert len(hourly["sensor.energy"]) == 24
        assert hourly["sensor.energy"][0]["sum"] == pytest.approx(50.0)  # 24 purged hours of 2 kWh, then 2 more
    finally:
        await backend.close()


async def test_downsampling_reads_a_few_entities_at_a_time(backend: HistoryBackend, tmp_path: Path) -> None:
    """Every entity's points read at once made a burst of millions of objects at 5,000 readings/s."""
    from hub.recorder import tiers

    entities = [f"sensor.meter_{i}" for i in range(tiers.ENTITY_GROUP * 2 + 7)]
    points = [Point(e, T0 - 30 + 17 * k + i / 8, float((k * 7 + i) % 50), None) for k in range(30) for i, e in enumerate(entities)]
    await backend.write(Batch(points))
    reads: list[int] = []
    read_states = backend.read_states

    async def counted(entity_ids, start, end, *, include_start=False):  # type: ignore[no-untyped-def]
        found = await read_states(entity_ids, start, end, include_start=include_start)
        reads.append(len(found))
        return found

    backend.read_states = counted  # type: ignore[method-assign]
    clock = FakeClock(T0)
    # A store from before the minute tier: its state has the other tiers' watermarks only.
    (tmp_path / "tiers.json").write_bytes(b'{"five_minute": %d, "hour": %d}' % (T0, T0))
    downsampler = Downsampler(backend, RetentionPlan(), tmp_path / "tiers.json", clock)
    clock.now = T0 + 3600 + 5
    await downsampler.downsample()
    # Two days of raw points: the minute tier's first run reads back as far as raw points are kept.
    assert reads and max(reads) <= tiers.ENTITY_GROUP and sum(reads) == 2 * len(entities)
    stored = await backend.read_tier("five_minute", None, T0, T0 + 3600)
    assert set(stored) == set(entities)
    minutes = await backend.read_tier("minute", None, T0 - 60, T0 + 3600)
    assert set(minutes) == set(entities) and minutes[entities[0]][0].start == T0 - 60
    for i, entity_id in enumerate(entities):
        mine = [p for p in points if p.entity_id == entity_id]
        before = [p.value for p in mine if p.ts < T0]
        wanted = aggregate(entity_id, [Sample(p.ts, p.value, None) for p in mine if p.ts >= T0], before[-1] if before else None, 300.0)
        got = stored[entity_id]
        assert [(r.start, r.min, r.max, r.last, r.count) for r in got] == [(r.start, r.min, r.max, r.last, r.count) for r in wanted], i
        assert all(abs(a.mean - b.mean) < 1e-9 * max(1.0, abs(b.mean)) for a, b in zip(got, wanted, strict=True))


async def test_dense_entities_are_read_fewer_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A read of 50 entities at 5 readings/s each was 75,000 Samples, and RSS kept that burst for good."""
    from hub.recorder import tiers

    monkeypatch.setattr(tiers, "POINTS_PER_READ", 100)
    backend = SQLiteBackend(tmp_path / "history.db")
    await backend.open()
    try:
        dense = [f"sensor.dense_{i}" for i in range(20)]  # 30 points each in the bucket
        sparse = [f"sensor.sparse_{i}" for i in range(tiers.ENTITY_GROUP + 5)]  # one point each
        points = [Point(e, T0 + 10 * k + i / 100, float(k), None) for k in range(30) for i, e in enumerate(dense)]
        points += [Point(e, T0 + 1 + i / 100, 1.0, None) for i, e in enumerate(sparse)]
        await backend.write(Batch(points))
        reads: list[tuple[int, int]] = []  # (entities, points) per read
        read_states = backend.read_states

        async def counted(entity_ids, start, end, *, include_start=False):  # type: ignore[no-untyped-def]
            found = await read_states(entity_ids, start, end, include_start=include_start)
            reads.append((len(found), sum(map(len, found.values()))))
            return found

        backend.read_states = counted  # type: ignore[method-assign]
        (tmp_path / "tiers.json").write_bytes(b'{"minute": %d, "five_minute": %d, "hour": %d}' % (T0, T0, T0))
        downsampler = Downsampler(backend, RetentionPlan(), tmp_path / "tiers.json", FakeClock(T0 + 300 + 5))
        await downsampler.downsample()
        assert max(n for _, n in reads) <= tiers.POINTS_PER_READ
        assert max(e for e, _ in reads) > 3  # sparse entities are still read many at a time
        assert sum(e for e, _ in reads) == len(dense) + len(sparse)
        stored = await backend.read_tier("five_minute", None, T0, T0 + 300)
        assert {e: [r.count for r in rows] for e, rows in stored.items()} == {**{e: [30] for e in dense}, **{e: [1] for e in sparse}}
    finally:
        await backend.close()


async def test_an_upgraded_store_gets_minutes_for_the_raw_points_it_keeps(tmp_path: Path) -> None:
    backend = SQLiteBackend(tmp_path / "history.db")
    await backend.open()
    try:
        clock = FakeClock(T0 + 3 * DAY)
        state = tmp_path / "tiers.json"
        # Written by a hub from before the minute tier: its other tiers are complete up to now.
        state.write_text(f'{{"five_minute": {T0 + 3 * DAY}, "hour": {T0 + 3 * DAY}, "day": {T0 + 3 * DAY}}}')
        await backend.write(Batch([Point("sensor.p", T0 + DAY + 30 * k + 7, float(k % 13), None) for k in range(2 * 2880)]))
        downsampler = Downsampler(backend, RetentionPlan(), state, clock)
        assert downsampler.tier_until("minute") <= T0 + DAY and downsampler.tier_until("hour") == T0 + 3 * DAY
        await downsampler.downsample()
        minutes = (await backend.read_tier("minute", ["sensor.p"], T0, T0 + 3 * DAY))["sensor.p"]
        assert len(minutes) == 2 * 1440 and minutes[0].start == T0 + DAY
        assert (minutes[0].min, minutes[0].max, minutes[0].count) == (0.0, 1.0, 2)
        assert downsampler.tier_until("minute") == T0 + 3 * DAY
        quarters = (await backend.read_tier("fifteen_second", ["sensor.p"], T0, T0 + 3 * DAY))["sensor.p"]
        assert len(quarters) == 2 * 2880 and quarters[0].start == T0 + DAY and quarters[0].count == 1  # a point each
        assert downsampler.tier_until("fifteen_second") == T0 + 3 * DAY
        assert not await backend.read_tier("five_minute", None, T0, T0 + 3 * DAY)  # the other tiers were complete
    finally:
        await backend.close()


async def test_a_store_from_before_the_15_second_tier_builds_only_that_tier_back(tmp_path: Path) -> None:
    backend = SQLiteBackend(tmp_path / "history.db")
    await backend.open()
    try:
        end = T0 + 3 * DAY
        state = tmp_path / "tiers.json"
        state.write_text(f'{{"minute": {end}, "five_minute": {end}, "hour": {end}, "day": {end}}}')
        points = [Point("sensor.p", T0 + DAY + 4 * k + 1, float(k % 13), None) for k in range(int(DAY) // 4)]
        await backend.write(Batch(points))
        downsampler = Downsampler(backend, RetentionPlan(), state, FakeClock(end + 5))
        # Charts read the minute tier meanwhile; only 15-second buckets come from raw points.
        assert downsampler.tier_until("fifteen_second") <= T0 + DAY and downsampler.tier_until("minute") == end
        await downsampler.downsample()
        quarters = (await backend.read_tier("fifteen_second", ["sensor.p"], T0, end))["sensor.p"]
        wanted = aggregate("sensor.p", [Sample(p.ts, p.value, None) for p in points], None, 15.0)
        assert len(quarters) == int(DAY) // 15 and _close({"p": quarters}, {"p": wanted})
        assert not await backend.read_tier("minute", None, T0, end)  # complete before: not rewritten
        assert downsampler.tier_until("fifteen_second") == end
    finally:
        await backend.close()


async def test_points_backfilled_during_the_first_minute_run_reach_every_tier(tmp_path: Path) -> None:
    """The minute tier's first run after an upgrade reads back days; points backfilled meanwhile are not lost.

    One backfilled point lands in a day the run has already read, one after the other tiers'
    watermark in the chunk being read (so it was not "late" yet), and the purge service starts a
    second downsample() while the first runs. Charts equal the raw points throughout, and the
    tiers equal them once the runs are done.
    """
    backend = SQLiteBackend(tmp_path / "history.db")
    await backend.open()
    try:
        now = T0 + 3 * DAY + 600 + 5
        clock = FakeClock(now)
        state = tmp_path / "tiers.json"
        state.write_text(f'{{"five_minute": {T0 + 3 * DAY}, "hour": {T0 + 3 * DAY}, "day": {T0 + 3 * DAY}}}')
        await backend.write(Batch([Point("sensor.p", T0 + DAY + 30 * k + 7, float(k % 13), None) for k in range(2 * 2880 + 20)]))
        downsampler = Downsampler(backend, RetentionPlan(), state, clock)
        read_states = backend.read_states
        late = [Batch([Point("sensor.p", T0 + DAY + 45, 1000.0, None)]), Batch([Point("sensor.p", T0 + 3 * DAY + 130, 2000.0, None)])]
        second: list[asyncio.Task[int]] = []

        async def backfilled_meanwhile(entity_ids, start, end, *, include_start=False):  # type: ignore[no-untyped-def]
            found = await read_states(entity_ids, start, end, include_start=include_start)
            if start <= T0 + 3 * DAY < end:  # the chunk with the newest points, after the older days
                for batch in late:
                    await backend.write(batch)
                    downsampler.note_stored(batch)
                second.append(asyncio.ensure_future(downsampler.downsample()))  # as recorder.purge does
            return found

        backend.read_states = backfilled_meanwhile  # type: ignore[method-assign]
        await downsampler.downsample()
        backend.read_states = read_states  # type: ignore[method-assign]
        end = now // 300 * 300

        async def chart(coverage: Coverage) -> dict[str, list[TierRow]]:
            return (await query_buckets(backend, ["sensor.p"], T0 + DAY, end, 60.0, coverage, deltas=False)).series

        def covered() -> Coverage:
            return Coverage(minute_until=downsampler.tier_until("minute"), five_until=downsampler.tier_until("five_minute"),
                            hour_until=downsampler.tier_until("hour"), day_until=downsampler.tier_until("day"))

        raw = await chart(Coverage())
        assert any(row.max == 2000.0 for row in raw["sensor.p"]) and any(row.max == 1000.0 for row in raw["sensor.p"])
        assert _close(await chart(covered()), raw)  # between the runs: stale buckets are read raw
        await asyncio.gather(*second)
        await downsampler.downsample()  # the next scheduled run
        assert downsampler.tier_until("minute") == end
        samples = (await backend.read_states(["sensor.p"], T0, end))["sensor.p"]
        for tier, width, since in (("minute", 60.0, T0 + DAY), ("five_minute", 300.0, T0 + 3 * DAY)):
            stored = (await backend.read_tier(tier, ["sensor.p"], since, end))["sensor.p"]
            wanted = [r for r in aggregate("sensor.p", samples, None, width) if r.start >= since]
            assert _close({"p": stored}, {"p": wanted}), tier
        # The point backfilled into an older day was recomputed into its 5-minute bucket too.
        (five,) = (await backend.read_tier("five_minute", ["sensor.p"], T0 + DAY, T0 + DAY + 300))["sensor.p"]
        assert five.max == 1000.0
        assert _close(await chart(covered()), raw)
    finally:
        await backend.close()


def _close(got: dict[str, list[TierRow]], wanted: dict[str, list[TierRow]]) -> bool:
    """Whether two answers have the same buckets, the same min/max/last/count and means equal to rounding."""
    for key in (*got, *wanted):
        a, b = got.get(key, []), wanted.get(key, [])
        if [(r.start, r.min, r.max, r.last, r.count) for r in a] != [(r.start, r.min, r.max, r.last, r.count) for r in b]:
            return False
        if not all(abs(x.mean - y.mean) < 1e-9 * max(1.0, abs(y.mean)) for x, y in zip(a, b, strict=True)):
            return False
    return True


async def test_a_failed_run_keeps_late_points_to_recompute(backend: HistoryBackend, tmp_path: Path) -> None:
    clock = FakeClock(T0)
    downsampler = Downsampler(backend, RetentionPlan(), tmp_path / "tiers.json", clock)
    await backend.write(Batch([Point("sensor.p", T0 + 60, 10.0, None)]))
    clock.now = T0 + 2 * 3600
    await downsampler.downsample()
    late = Batch([Point("sensor.p", T0 + 30, 30.0, None)])
    await backend.write(late)
    downsampler.note_stored(late)
    write_tier = backend.write_tier

    async def disk_full(tier: str, rows: list[TierRow]) -> None:
        raise OSError("disk full")

    backend.write_tier = disk_full  # type: ignore[method-assign]
    with pytest.raises(OSError):
        await downsampler.downsample()
    assert downsampler.tier_until("five_minute") == T0  # still stale: charts read raw points there
    backend.write_tier = write_tier  # type: ignore[method-assign]
    await downsampler.downsample()
    (row,) = (await backend.read_tier("five_minute", ["sensor.p"], T0, T0 + 300))["sensor.p"]
    assert (row.max, row.count) == (30.0, 2)
