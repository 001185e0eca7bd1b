"""Write a 1 Hz history into a new Home Assistant recorder database, with Home Assistant's own schema.

Run with the Python of a venv that has Home Assistant installed (bench/blackbox.py does):
    /path/to/havenv/bin/python bench/ha_seed.py home-assistant_v2.db NOW SECONDS sensor.a sensor.b ...

The tables come from homeassistant.components.recorder.db_schema (Base.metadata.create_all, the
schema version, a statistics run and a finished recorder run, as the recorder writes a new database), so Home Assistant
opens the file as its own with no migration. Each entity gets one state per second in
[NOW - SECONDS, NOW), the same values bench/blackbox.py writes into the hub's history.db.
Prints the number of states written.
"""

from __future__ import annotations

import math
import os
import sqlite3
import sys
from datetime import UTC, datetime

from homeassistant.components.recorder.db_schema import SCHEMA_VERSION, Base, RecorderRuns, SchemaChanges, StatisticsRuns
from homeassistant.util import dt as dt_util
from sqlalchemy import create_engine
from sqlalchemy.orm import Session


def watts(entity: int, ts: float) -> float:
    """The series of bench/blackbox.py's watts()."""
    daily = 400 + 300 * math.sin(2 * math.pi * (ts % 86400) / 86400)
    return round(daily + 50 * entity + (int(ts) * 7919 + entity * 104729) % 200, 1)


def main(path: str, now: float, seconds: float, entity_ids: list[str]) -> None:
    engine = create_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add(StatisticsRuns(start=dt_util.utcnow()))
        session.add(SchemaChanges(schema_version=SCHEMA_VERSION))
        # A finished recorder run over the span: history answers only for times a run covers.
        session.add(RecorderRuns(start=datetime.fromtimestamp(now - seconds - 60, UTC), end=datetime.fromtimestamp(now, UTC),
                                 closed_incorrect=False, created=datetime.fromtimestamp(now - seconds - 60, UTC)))
        session.commit()
    engine.dispose()
    conn = sqlite3.connect(path)
    ids = []
    for entity_id in entity_ids:
        ids.append(conn.execute("INSERT INTO states_meta (entity_id) VALUES (?)", (entity_id,)).lastrowid)
    start = math.floor(now - seconds)
    written = 0
    for chunk in range(start, int(now), 3600):
        # last_changed_ts NULL: equal to last_updated_ts, as the recorder stores a changed state;
        # a binary context id, as the recorder writes it (NULL would start a migration of every row)
        rows = [(str(watts(i, ts)), float(ts), metadata_id, 0, os.urandom(16))
                for ts in range(chunk, min(chunk + 3600, int(now))) for i, metadata_id in enumerate(ids)]
        conn.executemany("INSERT INTO states (state, last_updated_ts, metadata_id, origin_idx, context_id_bin) "
                         "VALUES (?, ?, ?, ?, ?)", rows)
        written += len(rows)
    conn.commit()
    conn.close()
    print(written)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4:])
