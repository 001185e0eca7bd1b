"""The `recorder:` configuration section."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import voluptuous as vol

from hub.core.states import valid_entity_id
from hub.recorder.tiers import RETENTION_KEYS

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def duration(value: Any) -> float:
    """Return seconds from 30, "90s", "15m", "12h", "7d", "2w" or {days: 7, hours: 12}."""
    if isinstance(value, bool):
        raise vol.Invalid(f"expected a duration like '7d', got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise vol.Invalid(f"expected a duration like '30s', '15m', '12h', '7d' or '2w', got {value!r}")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    elif isinstance(value, dict):
        names = {"weeks": 604800, "days": 86400, "hours": 3600, "minutes": 60, "seconds": 1}
        unknown = set(value) - set(names)
        if unknown:
            raise vol.Invalid(f"unknown duration keys {sorted(unknown)}; use {', '.join(names)}")
        seconds = float(sum(float(v) * names[k] for k, v in value.items()))
    else:
        raise vol.Invalid(f"expected a duration like '7d', got {value!r}")
    if seconds <= 0:
        raise vol.Invalid("a duration must be positive")
    return seconds


def entity_id(value: Any) -> str:
    """Return a valid entity_id."""
    if not isinstance(value, str) or not valid_entity_id(value.lower()):
        raise vol.Invalid(f"invalid entity_id {value!r}")
    return value.lower()


_FILTER = vol.Schema(
    {
        vol.Optional("domains", default=[]): [str],
        vol.Optional("entities", default=[]): [entity_id],
        vol.Optional("entity_globs", default=[]): [str],
    }
)
_RETENTION = vol.Schema({vol.Optional(key): duration for key in RETENTION_KEYS})


def _check_plan(config: dict[str, Any]) -> dict[str, Any]:
    plan = config["plan"]
    if plan != "default" and plan not in config["plans"]:
        raise vol.Invalid(f"plan '{plan}' is not defined under plans", path=["plan"])
    if "purge_keep_days" in config:
        # Home Assistant's key: the raw tier's retention.
        plans = config["plans"]
        plans.setdefault(plan, {}).setdefault("raw", config["purge_keep_days"] * 86400.0)
    url = config.get("db_url") or ""
    if config["backend"] == "sqlite" and url.startswith(("postgresql", "postgres:")):
        config["backend"] = "postgresql"
    return config


CONFIG_SCHEMA = vol.All(
    vol.Any(None, dict),
    lambda value: value or {},
    vol.Schema(
        {
            vol.Optional("backend", default="sqlite"): str,
            vol.Optional("path"): str,
            vol.Optional("db_url"): str,
            # PostgreSQL: the history tables' owner, when db_url is an application role (many homes):
            # it migrates, makes partitions and drops expired ones. Absent: storage's migrate_url when
            # db_url is storage's db_url, else db_url's role does.
            vol.Optional("migrate_url"): str,
            vol.Optional("url"): vol.Url(),
            vol.Optional("database", default="hub"): str,
            vol.Optional("username"): str,
            vol.Optional("password"): str,
            vol.Optional("token"): str,
            vol.Optional("org"): str,
            vol.Optional("bucket"): str,
            vol.Optional("partition", default="day"): vol.Any("day", "week"),
            vol.Optional("commit_interval", default=1.0): vol.All(vol.Coerce(float), vol.Range(min=0.01, max=300)),
            # While a source waits to acknowledge (MQTT QoS 1), commit to the spool this soon.
            vol.Optional("sync_interval", default=0.01): vol.All(vol.Coerce(float), vol.Range(min=0, max=1)),
            # Points kept in memory while the spool cannot be written (a full disk).
            vol.Optional("memory_max_points", default=200_000): vol.All(int, vol.Range(min=1000)),
            vol.Optional("max_batch", default=20_000): vol.All(int, vol.Range(min=1)),
            vol.Optional("spool_max_mb", default=512): vol.All(vol.Coerce(float), vol.Range(min=1)),
            vol.Optional("retry_max", default=5.0): vol.All(vol.Coerce(float), vol.Range(min=0.01)),
            vol.Optional("include"): _FILTER,
            vol.Optional("exclude"): _FILTER,
            vol.Optional("purge_keep_days"): vol.All(int, vol.Range(min=1)),
            vol.Optional("plan", default="default"): str,
            vol.Optional("plans", default={}): {str: _RETENTION},
            vol.Optional("overrides", default={}): {entity_id: _RETENTION},
            vol.Optional("downsample_interval", default=300.0): duration,
        }
    ),
    _check_plan,
)


# History backends that keep every point with its home and query by home.
HOME_AWARE_BACKENDS = ("postgresql", "influxdb", "influxdb2")


def check_history_backend(config: Mapping[str, Any]) -> list[str]:
    """Return why a configuration's history cannot serve many homes (empty: it can).

    Called when a process starts hosting many homes; a single-home install never needs it.

    Args:
        config: the whole configuration (its `recorder:` section is read; without one, no history is kept).

    Returns:
        One message per problem, naming the field and what is expected.
    """
    if "recorder" not in config:
        return []
    try:
        section = CONFIG_SCHEMA(config["recorder"])
    except vol.Invalid as err:
        return [f"recorder: {err}"]
    backend = section["backend"]
    if backend in HOME_AWARE_BACKENDS:
        return []
    if backend == "sqlite":
        return [
            "recorder.backend: sqlite keeps the history of a single home; many homes need postgresql (db_url: "
            "postgresql://...), influxdb (url:) or influxdb2 (url:, token:, org:, bucket:)"
        ]
    return [f"recorder.backend: {backend!r} is not known to keep homes apart; use one of {', '.join(HOME_AWARE_BACKENDS)}"]
