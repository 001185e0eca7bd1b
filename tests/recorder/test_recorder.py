"""The recorder on a hub: what state changes become in history, batching, backfill, zero loss."""

from __future__ import annotations

import asyncio
import gc
import threading
from pathlib import Path

import pytest

from hub.core.hub import Hub
from hub.core.states import ReadOnlyDict
from hub.recorder import history
from hub.recorder.backends.base import AttributeChange, Batch, HistoryBackend, Point, Sample
from hub.recorder.backends.sqlite import SQLiteBackend
from hub.recorder.filters import build_filter
from hub.recorder.recorder import BACKLOG_ENTITY_ID, Recorder, encode_in_parts
from hub.recorder.spool import Spool

from .conftest import wait_for


class FlakyBackend(SQLiteBackend):
    """A fake outage: a real SQLite backend whose writes fail while `down` is set."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.down = False
        self.calls = 0

    async def write(self, batch: Batch) -> None:
        self.calls += 1
        if self.down:
            raise ConnectionRefusedError("history database is down")
        await super().write(batch)


async def make_recorder(hub: Hub, backend: HistoryBackend | None = None, **kwargs: object) -> Recorder:
    data = hub.config.data_dir
    assert data is not None
    backend = backend or SQLiteBackend(data / "history.db")
    await backend.open()
    recorder = Recorder(hub, backend, Spool(data / "spool"), retry_max=0.05, **kwargs)  # type: ignore[arg-type]
    await recorder.start()
    hub.on_stop(recorder.stop)
    return recorder


async def test_numbers_become_floats_and_other_states_stay_text(hub: Hub) -> None:
    recorder = await make_recorder(hub)
    hub.states.set("sensor.power", "1500.5", {"unit_of_measurement": "W"}, timestamp=1000.0)
    hub.states.set("switch.pump", "on", timestamp=1001.0)
    hub.states.set("sensor.power", "unavailable", {"unit_of_measurement": "W"}, timestamp=1002.0)
    await recorder.flush()
    found = await recorder.backend.read_states(["sensor.power", "switch.pump"], 0, 2000)
    assert found["sensor.power"] == [Sample(1000.0, 1500.5, None), Sample(1002.0, None, "unavailable")]
    assert found["switch.pump"] == [Sample(1001.0, None, "on")]


async def test_attributes_are_stored_once_per_change(hub: Hub) -> None:
    recorder = await make_recorder(hub)
    for i in range(10):
        hub.states.set("sensor.power", str(i), {"unit_of_measurement": "W"}, timestamp=1000.0 + i)
    hub.states.set("sensor.power", "10", {"unit_of_measurement": "kW"}, timestamp=1010.0)
    await recorder.flush()
    found = await recorder.backend.read_attributes(["sensor.power"], 0, 2000)
    assert found == {"sensor.power": [(1000.0, {"unit_of_measurement": "W"}), (1010.0, {"unit_of_measurement": "kW"})]}


async def test_include_and_exclude_by_domain_entity_and_glob(hub: Hub) -> None:
    keep = build_filter(
        {"domains": ["sensor"], "entities": ["switch.pump"]},
        {"entity_globs": ["sensor.*_debug"], "entities": ["sensor.noise"]},
    )
    recorder = await make_recorder(hub, keep=keep)
    for entity_id in ("sensor.power", "sensor.power_debug", "sensor.noise", "switch.pump", "switch.light"):
        hub.states.set(entity_id, "1")
    await recorder.flush()
    found = await recorder.backend.read_states(None, 0, 1e10)
    assert sorted(found) == ["sensor.power", "switch.pump"]


async def test_a_full_batch_is_written_before_the_commit_interval(hub: Hub) -> None:
    recorder = await make_recorder(hub, commit_interval=3600, max_batch=50)
    for i in range(120):
        hub.states.set("sensor.fast", str(i), timestamp=1000.0 + i)

    async def stored() -> bool:
        found = await recorder.backend.read_states(["sensor.fast"], 0, 2000)
        return len(found.get("sensor.fast", [])) >= 100

    await wait_for(stored)


async def test_backfill_writes_history_at_its_own_times_and_leaves_the_state(hub: Hub) -> None:
    recorder = await make_recorder(hub)
    hub.states.set("sensor.energy", "120.5", timestamp=5000.0)
    count = await recorder.backfill("sensor.energy", [(4000.0, 118), (4100.0, 119.25), (4200.0, "unavailable")])
    await recorder.flush()
    assert count == 3
    assert hub.states.get("sensor.energy").state == "120.5"  # type: ignore[union-attr]
    found = await recorder.backend.read_states(["sensor.energy"], 0, 6000)
    assert found["sensor.energy"] == [
        Sample(4000.0, 118.0, None),
        Sample(4100.0, 119.25, None),
        Sample(4200.0, None, "unavailable"),
        Sample(5000.0, 120.5, None),
    ]


async def test_an_outage_loses_nothing_and_shows_a_backlog(hub: Hub) -> None:
    data = hub.config.data_dir
    assert data is not None
    backend = FlakyBackend(data / "history.db")
    recorder = await make_recorder(hub, backend, commit_interval=0.05)
    hub.states.set("sensor.power", "1", timestamp=1.0)
    await recorder.flush()
    backend.down = True
    for i in range(2, 200):
        hub.states.set("sensor.power", str(i), timestamp=float(i))
        if i % 50 == 0:
            await recorder.commit()
    await recorder.commit()
    await wait_for(lambda: int(hub.states.get(BACKLOG_ENTITY_ID).state) == 198)  # type: ignore[union-attr]
    assert hub.states.get(BACKLOG_ENTITY_ID).attributes["last_error"].startswith("ConnectionRefusedError")  # type: ignore[union-attr]
    backend.down = False
    await recorder.flush()
    found = await backend.read_states(["sensor.power"], 0, 1000)
    assert [s.value for s in found["sensor.power"]] == [float(i) for i in range(1, 200)]
    await wait_for(lambda: hub.states.get(BACKLOG_ENTITY_ID).state == "0")  # type: ignore[union-attr]


async def test_a_hard_kill_keeps_what_reached_the_spool(hub: Hub, tmp_path: Path) -> None:
    data = hub.config.data_dir
    assert data is not None
    backend = FlakyBackend(data / "history.db")
    backend.down = True
    recorder = await make_recorder(hub, backend)
    for i in range(100):
        hub.states.set("sensor.power", str(i), timestamp=float(i))
    await recorder.commit()
    # The process dies: nothing is stopped or flushed. A new recorder finds the spool.
    for task in recorder._tasks:
        task.cancel()
    again = Recorder(hub, SQLiteBackend(data / "history.db"), Spool(data / "spool"), retry_max=0.05)
    await again.backend.open()
    await again.start(backlog_sensor=False)
    await again.flush()
    found = await again.backend.read_states(["sensor.power"], 0, 1000)
    assert len(found["sensor.power"]) == 100
    await again.stop()
    await backend.close()
    hub._on_stop.clear()


async def test_stop_writes_what_is_pending(hub: Hub) -> None:
    recorder = await make_recorder(hub, commit_interval=3600)
    hub.states.set("sensor.power", "42", timestamp=1.0)
    data = hub.config.data_dir
    assert data is not None
    await hub.stop()
    backend = SQLiteBackend(data / "history.db")
    await backend.open()
    try:
        assert (await backend.read_states(["sensor.power"], 0, 10))["sensor.power"] == [Sample(1.0, 42.0, None)]
    finally:
        await backend.close()
    assert recorder.spool.records == 0


@pytest.mark.parametrize("text", ["nan", "inf", "1_000", "0x10", ""])
async def test_odd_numbers_stay_text(hub: Hub, text: str) -> None:
    recorder = await make_recorder(hub)
    hub.states.set("sensor.odd", text, timestamp=1.0)
    await recorder.flush()
    assert (await recorder.backend.read_states(["sensor.odd"], 0, 10))["sensor.odd"] == [Sample(1.0, None, text)]
    await asyncio.sleep(0)


class PickyBackend(SQLiteBackend):
    """A backend that refuses one entity's data outright (not an outage)."""

    async def write(self, batch: Batch) -> None:
        if any(entity_id == "sensor.bad" for entity_id, *_ in batch.points):
            raise ValueError("refused")
        await super().write(batch)


class KeepingBackend(SQLiteBackend):
    """A backend that keeps every batch it stored."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.batches: list[Batch] = []

    async def write(self, batch: Batch) -> None:
        await super().write(batch)
        self.batches.append(batch)


async def test_points_on_their_way_to_the_backend_leave_the_collector_at_its_first_pass(hub: Hub) -> None:
    # Under load tens of thousands of points wait between a commit and their write; as
    # NamedTuples the collector kept scanning them at every middle-generation collection.
    # Built ones and ones read back from the spool must be plain tuples it untracks.
    data = hub.config.data_dir
    assert data is not None
    backend = KeepingBackend(data / "history.db")
    recorder = await make_recorder(hub, backend)
    for i in range(50):
        hub.states.set(f"sensor.p{i % 5}", str(i), timestamp=1000.0 + i)
    await recorder.flush()
    hub.states.set("sensor.p0", "21.50", timestamp=2000.0)
    await recorder.commit()
    recorder._recent.clear()  # the writer reads this record back from the spool
    await recorder.flush()
    points = [p for batch in backend.batches for p in batch.points]
    assert len(points) == 51 and points[-1] == ("sensor.p0", 2000.0, 21.5, "21.50")
    gc.collect(0)
    assert not [p for p in points if gc.is_tracked(p)]


async def test_a_batch_the_backend_refuses_is_set_aside_not_retried_forever(hub: Hub) -> None:
    data = hub.config.data_dir
    assert data is not None
    recorder = await make_recorder(hub, PickyBackend(data / "history.db"))
    hub.states.set("sensor.bad", "1", timestamp=1.0)
    await recorder.commit()
    hub.states.set("sensor.good", "2", timestamp=2.0)
    await recorder.flush()
    assert (await recorder.backend.read_states(None, 0, 10)).keys() == {"sensor.good"}
    assert (data / "spool" / "rejected.bin").stat().st_size > 0


async def test_flush_waits_for_a_batch_still_being_spooled(hub: Hub) -> None:
    recorder = await make_recorder(hub, commit_interval=0.01)
    spool = recorder.spool
    release = threading.Event()
    entered = threading.Event()
    append = spool.append

    def slow_append(payload: bytes, points: int) -> object:
        entered.set()
        release.wait(10)  # a slow disk: the fsync of this batch takes a while
        return append(payload, points)

    spool.append = slow_append  # type: ignore[method-assign]
    hub.states.set("sensor.power", "7", timestamp=1000.0)
    await wait_for(entered.is_set)  # the flush loop took the state and is spooling it
    flushing = asyncio.ensure_future(recorder.flush())
    await asyncio.sleep(0)
    assert not flushing.done()
    release.set()
    await flushing
    found = await recorder.backend.read_states(["sensor.power"], 0, 2000)
    assert found["sensor.power"] == [Sample(1000.0, 7.0, None)]


async def test_history_shows_numbers_as_the_live_state_showed_them(hub: Hub) -> None:
    recorder = await make_recorder(hub)
    for i, text in enumerate(["21", "21.50", "1e3", "-0", "230.0", "7.25"]):
        hub.states.set("sensor.t", text, timestamp=1000.0 + i)
    await recorder.flush()
    found = (await recorder.backend.read_states(["sensor.t"], 0, 2000))["sensor.t"]
    assert [s.value for s in found] == [21.0, 21.5, 1000.0, -0.0, 230.0, 7.25]  # numbers for the tiers
    # Only texts a number would not print back as are stored beside it.
    assert [s.state for s in found] == [None, "21.50", "1e3", "-0", "230.0", None]
    rows = await history.history_during_period(recorder.backend, None, ["sensor.t"], 0, 2000, no_attributes=True)
    assert [r.state for r in rows["sensor.t"]] == ["21", "21.50", "1e3", "-0", "230.0", "7.25"]


async def test_a_writer_behind_keeps_a_bounded_number_of_points_in_memory(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    # The backend is down for a while: batches pile up in the spool on disk, not in memory,
    # and every point is stored once it is back.
    from hub.recorder import recorder as recorder_module

    monkeypatch.setattr(recorder_module, "RECENT_MAX_POINTS", 500)
    backend = FlakyBackend(hub.config.data_dir / "history.db")  # type: ignore[operator]
    backend.down = True
    recorder = await make_recorder(hub, backend)
    for batch in range(20):
        for i in range(100):
            hub.states.set(f"sensor.s{i}", str(batch), timestamp=1000.0 + batch)
        await recorder.commit()
    assert recorder.spool.points >= 2000 - 100  # on disk while the backend is down
    assert recorder._recent_points <= 500
    backend.down = False
    await recorder.flush()
    found = await backend.read_states(["sensor.s7"], 0, 2000)
    assert [s.value for s in found["sensor.s7"]] == [float(b) for b in range(20)]


async def test_a_large_write_lets_readings_through_while_its_listeners_run(hub: Hub) -> None:
    """What the stored listeners do per point (the history cache) comes in slices, so that a
    second's worth of points stored at once does not hold the loop for all of them."""
    recorder = await make_recorder(hub, commit_interval=60.0, max_batch=100_000)
    seen: list[tuple[int, int]] = []  # (points in the part, loop steps run before it)
    steps = [0]

    async def ticker() -> None:
        while True:
            steps[0] += 1
            await asyncio.sleep(0)

    recorder.stored_listeners.append(lambda part: seen.append((len(part.points), steps[0])))
    for i in range(5_000):
        hub.states.set(f"sensor.meter_{i % 50}", str(i), timestamp=1000.0 + i)
    tick = asyncio.create_task(ticker())
    try:
        await recorder.flush()
    finally:
        tick.cancel()
    assert [points for points, _ in seen] == [2_000, 2_000, 1_000]
    assert seen[0][1] < seen[1][1] < seen[2][1]  # the loop ran between the parts
    found = await recorder.backend.read_states(None, 0, 1e10)
    assert sum(len(samples) for samples in found.values()) == 5_000


async def test_readings_waiting_for_a_commit_are_not_scanned_by_every_garbage_collection(hub: Hub) -> None:
    """An entity that keeps its attributes object (as MQTT entities do) queues plain tuples,
    which the collector untracks at once; a new attributes object is still recorded."""
    import gc

    recorder = await make_recorder(hub, commit_interval=60.0)
    watts = ReadOnlyDict({"unit_of_measurement": "W"})
    for i in range(1000):
        hub.states.set("sensor.power", str(i), watts, timestamp=1000.0 + i)
    hub.states.set("sensor.power", "1000", {"unit_of_measurement": "kW"}, timestamp=2000.0)
    gc.collect(0)
    waiting = recorder.commits.pending
    assert len(waiting) == 1001
    assert sum(gc.is_tracked(change) for change in waiting) == 2  # the first change and the kW one
    await recorder.flush()
    found = await recorder.backend.read_attributes(["sensor.power"], 0, 3000)
    assert found == {"sensor.power": [(1000.0, {"unit_of_measurement": "W"}), (2000.0, {"unit_of_measurement": "kW"})]}
    assert len((await recorder.backend.read_states(["sensor.power"], 0, 3000))["sensor.power"]) == 1001


def test_a_batch_encoded_in_parts_is_the_batch_encoded_at_once() -> None:
    points = [Point(f"sensor.meter_{i % 7}", 1000.0 + i / 3, float(i) if i % 5 else None, None if i % 5 else "on")
              for i in range(5_000)]
    for size in (0, 1, 2047, 2048, 2049, 5_000):
        for attributes in ([], [AttributeChange("sensor.meter_1", 1000.0, '{"unit_of_measurement":"W"}')]):
            batch = Batch(points[:size], attributes)
            assert encode_in_parts(batch) == batch.to_bytes()
            assert Batch.from_bytes(encode_in_parts(batch)) == batch
