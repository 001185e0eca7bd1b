"""History in and out of a backup: JSON lines read and written through any history backend.

The lines are portable: a backup of InfluxDB history restores into SQLite or PostgreSQL.

    states.jsonl       {"e": entity_id, "t": epoch seconds, "v": number or null, "s": text or null}
    attributes.jsonl   {"e": entity_id, "t": epoch seconds, "a": {attributes}}
    tier_<name>.jsonl  {"entity_id", "start", "mean", "min", "max", "last", "delta", "count"}
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson

from hub.core.hub import HubConfig
from hub.exceptions import HubError
from hub.recorder.backends.base import TIERS, AttributeChange, Batch, HistoryBackend, Point, Row, TierRow

WINDOW = 30 * 86400  # read history a month at a time, so memory stays bounded
WRITE_BATCH = 20_000  # the recorder's own largest batch


def open_backend(config: dict[str, Any], data_dir: Path) -> HistoryBackend | None:
    """Return the history backend the `recorder:` section describes (not opened), or None."""
    if "recorder" not in config:
        return None
    from hub.recorder import BUILTIN_BACKENDS  # noqa: PLC0415 - only when history is asked for
    from hub.recorder.config import CONFIG_SCHEMA  # noqa: PLC0415

    section = CONFIG_SCHEMA(config.get("recorder"))
    factory = BUILTIN_BACKENDS.get(section["backend"])
    if factory is None:
        message = f"recorder backend {section['backend']!r} is provided by a plugin; backup handles the built-in ones"
        raise HubError(message)
    # The built-in factories read only the hub's config (data directory, home and plan: the single home).
    stand_in = SimpleNamespace(config=HubConfig(data_dir=data_dir))
    return factory(stand_in, section)  # type: ignore[arg-type]


def _windows(since: float, until: float) -> Iterator[tuple[float, float]]:
    start = since
    while start < until:
        end = min(start + WINDOW, until)
        yield start, end
        start = end


async def export_history(backend: HistoryBackend, folder: Path, since: float, until: float) -> dict[str, int]:
    """Write the history in [since, until) as JSON lines into folder; return counts per file."""
    folder.mkdir(parents=True, exist_ok=True)
    counts = {"points": 0, "attributes": 0}
    entity_ids: set[str] = set()
    with (folder / "states.jsonl").open("wb") as out:
        for start, end in _windows(since, until):
            for entity_id, samples in (await backend.read_states(None, start, end)).items():
                entity_ids.add(entity_id)
                for sample in samples:
                    out.write(orjson.dumps({"e": entity_id, "t": sample.ts, "v": sample.value, "s": sample.state}) + b"\n")
                    counts["points"] += 1
    with (folder / "attributes.jsonl").open("wb") as out:
        if entity_ids:
            changes = await backend.read_attributes(sorted(entity_ids), since, until)
            for entity_id, rows in changes.items():
                for ts, attributes in rows:
                    out.write(orjson.dumps({"e": entity_id, "t": max(ts, since), "a": attributes}) + b"\n")
                    counts["attributes"] += 1
    for tier in TIERS:
        written = 0
        with (folder / f"tier_{tier}.jsonl").open("wb") as out:
            for start, end in _windows(since, until):
                for tier_rows in (await backend.read_tier(tier, None, start, end)).values():
                    for row in tier_rows:
                        out.write(orjson.dumps(row._asdict()) + b"\n")
                        written += 1
        counts[f"tier_{tier}"] = written
    return counts


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with path.open("rb") as file:
        for number, line in enumerate(file, 1):
            if line.strip():
                try:
                    yield orjson.loads(line)
                except orjson.JSONDecodeError as err:
                    message = f"{path.name} line {number} is not JSON: {err}"
                    raise HubError(message) from err


async def import_history(backend: HistoryBackend, folder: Path) -> int:
    """Write exported history into a backend (writes are idempotent); return the points written."""
    points: list[Row] = []
    written = 0
    for row in _lines(folder / "states.jsonl"):
        points.append(Point(row["e"], float(row["t"]), row["v"], row["s"]))
        if len(points) >= WRITE_BATCH:
            await backend.write(Batch(points))
            written += len(points)
            points = []
    if points:
        await backend.write(Batch(points))
        written += len(points)
    changes = [
        AttributeChange(row["e"], float(row["t"]), orjson.dumps(row["a"]).decode())
        for row in _lines(folder / "attributes.jsonl")
    ]
    for start in range(0, len(changes), WRITE_BATCH):
        await backend.write(Batch([], changes[start : start + WRITE_BATCH]))
    for tier in TIERS:
        rows = [TierRow(**row) for row in _lines(folder / f"tier_{tier}.jsonl")]
        for start in range(0, len(rows), WRITE_BATCH):
            await backend.write_tier(tier, rows[start : start + WRITE_BATCH])
    return written
