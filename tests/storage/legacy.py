"""A database as hubs made it before integrations owned their tables: one chain in the core.

`legacy_chain/` holds a copy of that chain's revision files as they were shipped (0001,
0002_api, 0005_frontend, 0006_power, 0007_energy): every table, the integrations' too, was
created by a core revision. `build` runs that chain and writes one row into each table,
through tables reflected from the database, so nothing of today's models is involved.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, MetaData, insert

from hub.storage.engine import MIGRATIONS_DIR

LEGACY_CHAIN = Path(__file__).resolve().parent / "legacy_chain"
WHEN = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
DISCOVERY_TOPIC = "homeassistant/sensor/garage/power/config"

# One row per table; only the tables a revision made exist (0001 has no 0005..0007 tables).
ROWS: dict[str, dict[str, object]] = {
    "users": {"id": "user-1", "name": "alice", "password_hash": "$2b$04$x", "role": "admin", "is_active": True,
              "created_at": WHEN},
    "devices": {"id": "dev-1", "identifiers": [["mqtt", "garage"]], "connections": [], "integration": "mqtt",
                "name": "Garage meter", "created_at": WHEN, "modified_at": WHEN},
    "entities": {"id": "ent-1", "entity_id": "sensor.garage_power", "unique_id": "garage_power", "platform": "mqtt",
                 "domain": "sensor", "device_id": "dev-1", "original_name": "Power", "capabilities": None,
                 "created_at": WHEN, "modified_at": WHEN},
    "restore_states": {"entity_id": "sensor.garage_power", "state": "230", "attributes": {"unit_of_measurement": "W"},
                       "last_changed": WHEN, "last_updated": WHEN},
    "mqtt_discovery": {"discovery_topic": DISCOVERY_TOPIC, "component": "sensor", "discovery_id": "garage power",
                       "updated_at": WHEN,
                       "payload": json.dumps({"name": "Power", "uniq_id": "garage_power", "stat_t": "garage/power",
                                              "unit_of_meas": "W", "dev": {"ids": ["garage"], "name": "Garage meter"}})},
    "audit_log": {"id": "audit-1", "created_at": WHEN, "user_id": "user-1", "user_name": "alice", "action": "login",
                  "result": "ok"},
    "frontend_charts": {"id": "chart-1", "name": "Garage", "created_by": "user-1", "created_at": WHEN,
                        "updated_at": WHEN,
                        "config": {"entity_ids": ["sensor.garage_power"], "range": "24h", "aggregation": "raw",
                                   "grouping": "unit"}},
    "relay_commands": {"id": "cmd-1", "entity_id": "switch.pump", "command": "turn_on", "status": "confirmed",
                       "created_at": WHEN, "sent_at": WHEN, "confirmed_at": WHEN},
    "device_api_keys": {"id": "key-1", "name": "barn meter", "key_hash": "0" * 64, "prefix": "phk_abcd",
                        "created_at": WHEN, "usage_count": 3},
    "persistent_notifications": {"notification_id": "legacy", "title": "Made before", "message": "still here",
                                 "created_at": WHEN},
    "energy_state": {"key": "meter:sensor.garage_energy", "value": {"total": 12.5}, "updated_at": WHEN},
}


def config(connection: Connection) -> Config:
    """An Alembic config that runs the legacy chain with the hub's env.py."""
    legacy = Config()
    legacy.set_main_option("script_location", MIGRATIONS_DIR.as_posix())
    legacy.set_main_option("path_separator", "os")
    legacy.set_main_option("version_locations", LEGACY_CHAIN.as_posix())
    legacy.attributes["connection"] = connection
    return legacy


def build(connection: Connection, revision: str = "heads") -> set[str]:
    """Migrate an empty database with the legacy chain, fill every table; return the tables."""
    command.upgrade(config(connection), revision)
    tables = MetaData()
    tables.reflect(connection)
    for name, row in ROWS.items():
        if name in tables.tables:
            connection.execute(insert(tables.tables[name]), [row])
    return set(tables.tables) - {"alembic_version"}


__all__ = ["DISCOVERY_TOPIC", "LEGACY_CHAIN", "ROWS", "build", "config"]
