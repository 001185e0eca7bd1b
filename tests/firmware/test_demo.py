"""`hub run --demo` shows live simulated nodes on the embedded broker."""

from __future__ import annotations

import asyncio
import importlib.util
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(importlib.util.find_spec("integrations.mqtt") is None, reason="integrations/mqtt is not installed yet"),
]


async def test_demo_nodes_appear_as_entities(tmp_path: Path, mosquitto_server: Any) -> None:
    from hub import bootstrap
    from hub.cli import build_parser
    from hub.demo import start_demo

    assert build_parser().parse_args(["run", "--demo"]).demo is True
    config = tmp_path / "config"
    config.mkdir()
    (config / "configuration.yaml").write_text(textwrap.dedent(f"""\
        mqtt:
          broker: {mosquitto_server.url}
          discovery_prefix: demo_{int(time.time() * 1000)}
        """))
    runtime = await bootstrap.start(config, tmp_path / "data", port=0)
    try:
        stop_demo = await start_demo(runtime.hub, nodes=2, interval=0.2)
        try:
            deadline = time.monotonic() + 10
            while not all(runtime.hub.states.get(f"sensor.demo_00{n}_power") for n in (1, 2)):
                assert time.monotonic() < deadline, "demo nodes were not discovered"
                await asyncio.sleep(0.05)
            assert (tmp_path / "data" / "demo-nodes" / "demo-001" / "readings.bin").exists()  # their flash
        finally:
            await stop_demo()
    finally:
        await bootstrap.stop(runtime)
