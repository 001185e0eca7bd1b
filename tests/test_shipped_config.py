"""The configuration in config/ starts a hub with no error: what a new user sees first."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from hub import bootstrap

ROOT = Path(__file__).resolve().parents[1]


async def test_shipped_config_starts_without_errors(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config, ignore=shutil.ignore_patterns(".storage", "secrets.yaml"))
    text = (config / "configuration.yaml").read_text()
    # Another hub (or test) may hold port 1883; let the embedded broker take a free one.
    (config / "configuration.yaml").write_text(text.replace("\nmqtt:\n", "\nmqtt:\n  embedded:\n    port: 0\n"))
    caplog.set_level(logging.WARNING)
    runtime = await bootstrap.start(config, tmp_path / "data", port=0)
    try:
        hub = runtime.hub
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert errors == [], [r.getMessage() for r in errors]
        assert hub.states.get("script.heater_boost") is not None
        assert hub.states.get("automation.turn_the_heater_off_above_2_kw_for_10_s") is not None
        assert hub.services.has_service("mqtt", "publish")
    finally:
        await bootstrap.stop(runtime)
