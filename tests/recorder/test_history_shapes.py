"""Full-resolution history answers, byte for byte what Home Assistant's clients parse.

Each answer is compared with one built the plain way from the points read back (a dict a row,
datetime for the REST times, json from orjson), for each of the flags a client can send, on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from hub.recorder import api, chunked, history
from hub.recorder.backends.base import AttributeChange, Batch, HistoryBackend, Point, Sample, TierRow
from hub.recorder.history_cache import HistoryCache
from hub.recorder.tiers import RetentionPlan
from tests.recorder.conftest import open_backend

T = 1_700_000_000.0
END = T + 30_000
IDS = ["sensor.power", "sensor.none", "sensor.integral", "sensor.text", "sensor.before"]
KINDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.services)]
FLAGS = [
    pytest.param(significant, minimal, no_attributes, id=f"sig={significant:d}-min={minimal:d}-noattr={no_attributes:d}")
    for significant in (True, False)
    for minimal in (True, False)
    for no_attributes in (True, False)
]


def data() -> Batch:
    points = [Point("sensor.power", T - 50, 1.0, None)]
    # Repeats (0.0 0.0 0.0 0.0 1.0 ...), so significant_changes_only and last_changed matter.
    points += [Point("sensor.power", T + i * 7.5 + 0.000123, float(i % 13 // 4), None) for i in range(3000)]
    points += [Point("sensor.integral", T + 10 * i, v, None) for i, v in enumerate([21.0, 21.5, 22.0, 22.0, -0.5, 1e20])]
    texts = ["on", 'say "hi"', "on", "a],[b", "1,2", "1,2", "\\", "ünï", "on"]
    points += [Point("sensor.text", T + 100 * i + 0.5, None, text) for i, text in enumerate(texts)]
    # Texts without quotes, but with what the byte replacements must leave alone.
    modes = ["a\x01b", "", "x][y", "\\", "é", "tab\t", "tab\t", "\\", "a\x1fb"]
    points += [Point("sensor.mode", T + 60 * i + 0.25, None, mode) for i, mode in enumerate(modes)]
    points += [Point("sensor.before", T - 3600, 230.0, None)]  # only before start: one row, stamped start
    changes = [
        AttributeChange("sensor.power", T - 50, '{"unit_of_measurement": "W"}'),
        AttributeChange("sensor.power", T + 10_000, '{"unit_of_measurement": "kW", "note": "a \\"quoted\\" one"}'),
        AttributeChange("sensor.text", T + 250, '{"friendly_name": "Text"}'),
    ]
    return Batch(points, changes)


def attributes_at(changes: list[tuple[float, dict[str, Any]]], ts: float) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for change_ts, attributes in changes:
        if change_ts <= ts:
            found = attributes
    return found


def reference_rows(
    samples: list[Sample], changes: list[tuple[float, dict[str, Any]]], start: float, *, significant: bool, minimal: bool
) -> list[dict[str, Any]]:
    """The compressed rows of one entity as Home Assistant defines them, a dict a row."""
    rows: list[dict[str, Any]] = []
    previous: str | None = None
    changed = start
    for sample in samples:
        text = history.state_text(sample)
        ts = max(sample.ts, start)
        if minimal:
            if text == previous:
                continue
            previous = text
            if rows:
                rows.append({"s": text, "lu": ts})
            else:
                rows.append({"s": text, "a": attributes_at(changes, ts), "lu": ts})
            continue
        if text != previous:
            previous, changed = text, ts
        elif significant:
            continue
        row = {"s": text, "a": attributes_at(changes, sample.ts), "lu": ts}
        if changed != ts:
            row["lc"] = changed
        rows.append(row)
    return rows


async def reference(backend: HistoryBackend, ids: list[str], start: float, end: float, *, significant: bool,
                    minimal: bool, no_attributes: bool) -> bytes:
    samples = await backend.read_states(ids, start, end, include_start=True)
    changes = {} if no_attributes else await backend.read_attributes(ids, start, end)
    out = {
        entity_id: reference_rows(samples[entity_id], changes.get(entity_id, []), start, significant=significant, minimal=minimal)
        for entity_id in ids
        if samples.get(entity_id)
    }
    return orjson.dumps(out)


class Recorder:
    """What the history handlers use of a recorder."""

    def __init__(self, backend: HistoryBackend, plan: RetentionPlan | None = None) -> None:
        self.backend = backend
        self.plan = plan
        self.history_cache = HistoryCache()

    async def flush_pending(self) -> None:
        return None


@pytest.fixture(params=KINDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    instance = await open_backend(request.param, request, tmp_path)
    try:
        await instance.write(data())
        yield instance
    finally:
        await instance.close()


@pytest.mark.parametrize(("significant", "minimal", "no_attributes"), FLAGS)
async def test_websocket_answer_is_byte_for_byte_home_assistants(
    backend: HistoryBackend, significant: bool, minimal: bool, no_attributes: bool
) -> None:
    recorder = Recorder(backend)
    msg = {"entity_ids": IDS, "significant_changes_only": significant, "minimal_response": minimal,
           "no_attributes": no_attributes, "include_start_time_state": True}
    expected = await reference(backend, IDS, T, END, significant=significant, minimal=minimal, no_attributes=no_attributes)
    answer = await api.history_json(recorder, msg, T, END)
    assert answer == expected
    again = await api.history_json(recorder, msg, T, END)  # minimal: spans from the cache
    assert again == expected
    found = orjson.loads(answer)
    assert "sensor.none" not in found  # an entity with no points is left out
    assert [(r["s"], r["lu"]) for r in found["sensor.before"]] == [("230", T)]  # the state in force at start
    assert [r["s"] for r in found["sensor.integral"]][:3] == ["21", "21.5", "22"]


@pytest.mark.parametrize(("significant", "minimal", "no_attributes"), FLAGS)
async def test_websocket_answer_of_plain_numbers_takes_the_fast_path_and_is_the_same(
    backend: HistoryBackend, significant: bool, minimal: bool, no_attributes: bool
) -> None:
    ids = ["sensor.power", "sensor.integral", "sensor.mode"]  # no text with a quote: rows written without a dict each
    msg = {"entity_ids": ids, "significant_changes_only": significant, "minimal_response": minimal,
           "no_attributes": no_attributes, "include_start_time_state": True}
    expected = await reference(backend, ids, T + 1000, END, significant=significant, minimal=minimal, no_attributes=no_attributes)
    assert await api.history_json(Recorder(backend), msg, T + 1000, END) == expected


def reference_rest(samples: dict[str, list[Sample]], changes: dict[str, Any], ids: list[str], start: float, *,
                   significant: bool, minimal: bool) -> list[list[dict[str, Any]]]:
    """GET /api/history/period's answer as Home Assistant builds it, with datetime's isoformat."""
    def iso(ts: float) -> str:
        return datetime.fromtimestamp(ts, UTC).isoformat()

    out = []
    for entity_id in ids:
        rows = []
        previous: str | None = None
        changed = start
        for sample in samples.get(entity_id, []):
            text = history.state_text(sample)
            ts = max(sample.ts, start)
            if text != previous:
                previous, changed = text, ts
            elif significant:
                continue
            rows.append({"entity_id": entity_id, "state": text, "attributes": attributes_at(changes.get(entity_id, []), sample.ts),
                         "last_changed": iso(changed), "last_updated": iso(ts)})
        if minimal:
            rows = [row if i in (0, len(rows) - 1) else {"state": row["state"], "last_changed": row["last_changed"]}
                    for i, row in enumerate(rows)]
        if rows:
            out.append(rows)
    return out


@pytest.mark.parametrize(("significant", "minimal", "no_attributes"), FLAGS)
async def test_rest_answer_is_byte_for_byte_home_assistants(
    backend: HistoryBackend, significant: bool, minimal: bool, no_attributes: bool
) -> None:
    samples = await backend.read_states(IDS, T, END, include_start=True)
    changes = {} if no_attributes else await backend.read_attributes(IDS, T, END)
    expected = orjson.dumps(reference_rest(samples, changes, IDS, T, significant=significant, minimal=minimal))
    parts = [p async for p in chunked.history_parts(backend, None, IDS, T, END, include_start=True,
                                                    significant_changes_only=significant, minimal_response=minimal,
                                                    no_attributes=no_attributes, now=END)]
    assert b"".join(parts) == expected


async def test_a_range_crossing_raw_retention_reads_tiers_then_raw_points(tmp_path: Path) -> None:
    from hub.recorder.backends.sqlite import SQLiteBackend

    backend = SQLiteBackend(tmp_path / "history.db")
    await backend.open()
    try:
        now = time.time()
        plan = RetentionPlan(default={"raw": 3600.0, "five_minute": 10 * 86_400.0})
        # Older spans were downsampled and their raw points purged: the tier's means stand for the states.
        edge = (now - 3600) // 300 * 300
        tier = [(edge - 900 + 300 * k, 10.0 + k) for k in range(3)]
        raw = [(now - 3600 + 30 + 60 * k, 20.0 + k % 2) for k in range(10)]  # in raw retention when asked below
        await backend.write_tier("five_minute", [TierRow("sensor.p", ts, mean, 0, 0, 0, 0, 300) for ts, mean in tier])
        await backend.write(Batch([Point("sensor.p", ts, value, None) for ts, value in raw],
                                  [AttributeChange("sensor.p", edge - 3600, '{"unit_of_measurement": "W"}')]))
        start = edge - 900
        recorder = Recorder(backend, plan)
        samples = [Sample(ts, value, None) for ts, value in tier + raw]
        changes = await backend.read_attributes(["sensor.p"], start, now)
        for minimal in (False, True):
            msg = {"entity_ids": ["sensor.p", "sensor.none"], "minimal_response": minimal, "significant_changes_only": False}
            answer = await api.history_json(recorder, msg, start, now)
            rows = reference_rows(samples, changes["sensor.p"], start, significant=False, minimal=minimal)
            assert answer == orjson.dumps({"sensor.p": rows})
            assert [r["s"] for r in orjson.loads(answer)["sensor.p"]][:4] == ["10", "11", "12", "20"]
    finally:
        await backend.close()


def test_iso_times_are_what_datetime_writes() -> None:
    rng = random.Random(7)
    stamps = [0.0, -1.0, -0.5e-6, 1.5e-6, 2.5e-6, T, T + 0.5, T + 0.9999995, T + 0.9999996, T - 0.0000004, 1e10 + 0.123456]
    stamps += [rng.uniform(-1e9, 4e9) for _ in range(20_000)]
    stamps += [round(rng.uniform(T, T + 86_400), rng.randint(0, 7)) for _ in range(20_000)]
    for ts in stamps:
        assert history.iso_utc(ts) == datetime.fromtimestamp(ts, UTC).isoformat(), ts


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


async def test_websocket_answer_holds_one_entity_at_a_time(tmp_path: Path) -> None:
    from hub.recorder.backends.sqlite import SQLiteBackend

    backend = SQLiteBackend(tmp_path / "history.db")
    await backend.open()
    try:
        ids = [f"sensor.m{k}" for k in range(8)]
        per_entity = 50_000
        for k, entity_id in enumerate(ids):
            await backend.write(Batch([Point(entity_id, T + j, float((j * 7 + k) % 1000) / 10, None) for j in range(per_entity)]))
        msg = {"entity_ids": ids, "minimal_response": False, "significant_changes_only": False, "no_attributes": True}
        peak, stop = [_rss()], threading.Event()

        def sample() -> None:
            while not stop.wait(0.002):
                peak[0] = max(peak[0], _rss())

        baseline = _rss()
        watcher = threading.Thread(target=sample, daemon=True)
        watcher.start()
        try:
            answer = await api.history_json(Recorder(backend), msg, T, T + per_entity)
        finally:
            stop.set()
            watcher.join()
        grown = (peak[0] - baseline) / 1e6
        assert sum(map(len, orjson.loads(answer).values())) == len(ids) * per_entity  # complete
        # Built whole, 400,000 rows are their points and a dict each (~150 MB) besides the JSON (~20 MB);
        # an entity at a time, two entities' points and the JSON twice (its parts and the joined answer).
        assert grown < 4 * len(answer) / 1e6 + 10, f"RSS grew by {grown:.0f} MB for a {len(answer) / 1e6:.0f} MB answer"
    finally:
        await backend.close()
