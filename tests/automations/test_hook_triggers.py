"""The register_trigger_platforms hook and automations in a real hub started from a config folder."""

from __future__ import annotations

from pathlib import Path

from hub.core.services import ServiceCall
from tests.automations.conftest import wait_for
from tests.hubs import write_config

PROBE = """
from hub import hookimpl

@hookimpl
def register_trigger_platforms(hub):
    def attach(hub, config, action, info):
        topic = info["render"](config["topic"])
        def handle(event):
            if event.data.get("topic") == topic:
                action({"topic": topic, "payload": event.data.get("payload")})
        return hub.bus.listen("probe_message", handle)
    return {"probe": attach}
"""

CONFIG = """
probe:
automation:
  - id: probe_auto
    alias: Probe
    trigger_variables:
      room: kitchen
    triggers:
      - trigger: probe
        topic: "home/{{ room }}/power"
    actions:
      - action: test.record
        data:
          payload: "{{ trigger.payload }}"
          platform: "{{ trigger.platform }}"
"""


async def test_hook_register_trigger_platforms(tmp_path: Path, start_hub) -> None:  # type: ignore[no-untyped-def]
    write_config(tmp_path / "config", CONFIG, {"probe": PROBE})
    runtime = await start_hub(tmp_path / "config")
    hub = runtime.hub
    seen: list[ServiceCall] = []

    async def record(call: ServiceCall) -> None:
        seen.append(call)

    hub.services.register("test", "record", record)
    hub.bus.fire("probe_message", {"topic": "home/hall/power", "payload": "1"})
    hub.bus.fire("probe_message", {"topic": "home/kitchen/power", "payload": "2"})
    await wait_for(lambda: seen)
    assert [dict(c.data) for c in seen] == [{"payload": 2, "platform": "probe"}]
    assert hub.states.get("automation.probe").state == "on"
