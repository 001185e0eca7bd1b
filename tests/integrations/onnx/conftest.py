"""Helpers for the onnx tests: an in-memory hub, tiny fixture models, readings at chosen times."""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from hub.core.bus import callback
from hub.core.hub import Hub
from tests.core.conftest import hub as core_hub  # noqa: F401 - the in-memory hub fixture

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[3]
T0 = 1704067200.0  # Monday 2024-01-01 00:00 UTC


@pytest.fixture
def hub(core_hub: Hub, tmp_path: Path) -> Hub:  # noqa: F811
    """An in-memory hub whose config dir is a fresh folder holding copies of the fixture models."""
    for model in FIXTURES.glob("*.onnx"):
        shutil.copy(model, tmp_path / model.name)
    core_hub.config.config_dir = tmp_path
    return core_hub


def synthetic_power() -> ModuleType:
    """Import scripts/synthetic_power.py, the household simulator the shipped models learnt from."""
    name = "synthetic_power"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "synthetic_power.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


async def feed(hub: Hub, entity_id: str, readings: Any, start: float, step: float = 60.0) -> None:
    """Write readings as states `step` seconds apart from `start`, letting each one be processed."""
    for index, value in enumerate(readings):
        hub.states.set(entity_id, value if isinstance(value, str) else f"{value:.1f}", timestamp=start + index * step)
        await hub.block_till_done()


async def wait_state(hub: Hub, entity_id: str, wanted: str, timeout: float = 10.0) -> None:
    """Wait until entity_id has the state wanted (for hubs whose long-running tasks never finish)."""
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @callback
    def check(_event: Any = None) -> None:
        state = hub.states.get(entity_id)
        if state is not None and state.state == wanted and not future.done():
            future.set_result(None)

    untrack = hub.states.track(entity_id, check)
    try:
        check()
        await asyncio.wait_for(future, timeout)
    finally:
        untrack()


def sensor_conf(**overrides: Any) -> dict[str, Any]:
    """An onnx: entry over sensor.power with the 4-wide sum model, run on every change."""
    conf: dict[str, Any] = {
        "name": "Power sum",
        "model": "sum4.onnx",
        "inputs": ["sensor.power"],
        "window": {"samples": 4},
        "features": ["raw"],
        "output": "y",
    }
    conf.update(overrides)
    return conf
