"""The extend_template_environment hook, through a real hub started from a config folder."""

from __future__ import annotations

from pathlib import Path

from hub.templating import Template
from tests.hubs import write_config

PROBE = """
from hub import hookimpl

@hookimpl
def extend_template_environment(hub, environment):
    environment.filters["kwh"] = lambda wh: round(float(wh) / 1000, 3)
    if not environment.limited:
        environment.globals["probe_power"] = lambda: hub.states.get("sensor.power").state
"""


async def test_hook_extend_template_environment(tmp_path: Path, start_hub) -> None:  # type: ignore[no-untyped-def]
    write_config(tmp_path / "config", "tplprobe:\n", {"tplprobe": PROBE})
    runtime = await start_hub(tmp_path / "config")
    runtime.hub.states.set("sensor.power", "1500")
    assert Template("{{ 12345 | kwh }}", runtime.hub).render() == 12.345
    assert Template("{{ probe_power() }}", runtime.hub).render() == 1500
    assert Template("{{ 500 | kwh }}", runtime.hub).render(limited=True) == 0.5
