"""The node's run-time settings: checks, whole-or-nothing application, and what survives a reboot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from firmware import settings


def test_each_type_is_checked_naming_the_key() -> None:
    assert settings.check("batch_size", 20.0) == 20
    assert settings.check("telemetry_interval", 3) == 3.0
    for key, value, words in (
        ("batch_size", 2.5, "batch_size must be a whole number"),
        ("batch_size", True, "batch_size must be a whole number"),
        ("telemetry_interval", 0.0, "from 0.1 to 3600"),
        ("power_on_state", "sometimes", "one of restore, off, on"),
        ("name", "x" * 65, "at most 64"),
        ("colour", "red", "unknown setting 'colour'"),
    ):
        with pytest.raises(settings.SettingError, match=words):
            settings.check(key, value)


def test_saved_settings_come_back_and_bad_ones_are_skipped(tmp_path: Path) -> None:
    path = str(tmp_path / "settings.json")
    assert settings.load(path) == {}  # first boot
    settings.save(path, {"telemetry_interval": 5.0, "batch_size": 10, "name": "Hall"}, "cmd-1")
    loaded = settings.load(path)
    assert loaded == {"telemetry_interval": 5.0, "batch_size": 10, "name": "Hall", "power_on_state": "restore", "_applied": "cmd-1"}
    Path(path).write_text(json.dumps({"values": {"batch_size": -4, "name": "Hall"}, "applied": "cmd-2"}))
    assert settings.load(path) == {"name": "Hall", "_applied": "cmd-2"}
    Path(path).write_text("{torn")
    assert settings.load(path) == {}
