"""Start real hubs from config folders written by the tests: `write_config` and the `start_hub` fixture.

Loaded for every test from tests/conftest.py (`pytest_plugins`).
"""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from hub import bootstrap


def write_config(config_dir: Path, yaml_text: str, integrations: dict[str, str] | None = None) -> Path:
    """Write configuration.yaml and custom integrations ({domain: source of __init__.py})."""
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "configuration.yaml").write_text(textwrap.dedent(yaml_text))
    for domain, source in (integrations or {}).items():
        folder = config_dir / "custom_integrations" / domain
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "__init__.py").write_text(textwrap.dedent(source))
    return config_dir


@pytest.fixture
async def start_hub(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Start hubs on free ports; stop whatever is still running at the end of the test."""
    started: list[bootstrap.Runtime] = []
    errors: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))

    async def start(config_dir: Path, data_dir: Path | None = None, **options: Any) -> bootstrap.Runtime:
        """Start a hub on config_dir; `options` go to bootstrap.start (a home's `plan`, `plans` ...)."""
        runtime = await bootstrap.start(config_dir, data_dir or tmp_path / "data", port=0, **options)
        started.append(runtime)
        return runtime

    try:
        yield start
    finally:
        for runtime in started:
            await bootstrap.stop(runtime)
        loop.set_exception_handler(previous)
    if errors:
        pytest.fail(f"Unhandled errors in the event loop: {errors}")
