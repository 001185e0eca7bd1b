"""/metrics in the Prometheus format, who may scrape it, and what it counts on a real hub."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from hub.ops.metrics import MAX_EVENT_TYPES, metrics_of
from hub.recorder import get_recorder
from tests.hubs import write_config
from tests.ops.conftest import DEVICES, until

CONFIG = """
homeassistant:
  name: Ops
testops:
recorder:
  commit_interval: 0.05
automation:
  - id: broken
    alias: Broken
    triggers:
      - trigger: event
        event_type: ops_go
    actions:
      - action: testops.fail
"""


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Parse the exposition text (it must parse) into {(name, labels): value}."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def scrape(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics", headers=headers) as response:
        return response.status, await response.text()


async def test_metrics_count_what_the_hub_does(tmp_path: Path, start_hub: Any) -> None:
    config = write_config(tmp_path / "config", CONFIG, {"testops": DEVICES})
    runtime = await start_hub(config)
    hub = runtime.hub
    for value in (5, 6, 7):
        await hub.services.call("testops", "set_power", {"value": value})
    hub.bus.fire("ops_go")
    await until(lambda: "hub_automation_runs_total{" in metrics_of(hub).render().decode(), "the automation run to finish")
    await get_recorder(hub).flush()

    async with aiohttp.ClientSession() as session, session.ws_connect(f"{runtime.url}/api/websocket") as ws:
        await ws.receive_json()  # auth_required: connected but not yet counted as gone
        status, text = await scrape(runtime.url)
    assert status == 200
    found = samples(text)
    assert found[("hub_events_total", (("event_type", "ops_go"),))] == 1
    assert found[("hub_state_changes_total", ())] >= 3
    ok = (("domain", "testops"), ("outcome", "ok"), ("service", "set_power"))
    assert found[("hub_service_calls_total", ok)] == 3
    latency = (("domain", "testops"), ("service", "set_power"))
    assert found[("hub_service_call_duration_seconds_count", latency)] == 3
    failed = (("domain", "testops"), ("outcome", "error"), ("service", "fail"))
    assert found[("hub_service_calls_total", failed)] == 1
    assert found[("hub_automation_runs_total", (("domain", "automation"), ("outcome", "error")))] == 1
    assert found[("hub_automation_errors_total", (("domain", "automation"),))] == 1
    assert found[("hub_recorder_written_points_total", ())] >= 3
    assert found[("hub_recorder_write_duration_seconds_count", ())] >= 1
    assert found[("hub_recorder_spool_points", ())] == 0
    assert found[("hub_recorder_backend_up", (("backend", "sqlite"),))] == 1
    assert found[("hub_websocket_clients", ())] == 1
    assert found[("hub_websocket_dropped_messages_total", ())] == 0
    assert found[("hub_info", (("version", __import__("hub").__version__),))] == 1
    assert found[("process_resident_memory_bytes", ())] > 0
    await until(lambda: metrics_of(hub).websocket_stats().clients == 0, "the WebSocket client to be gone")


async def test_metrics_need_a_token_off_loopback(tmp_path: Path, start_hub: Any) -> None:
    config = write_config(
        tmp_path / "config",
        """
        http:
          metrics_token: scrape-me-please
          metrics_allow_loopback: false
        """,
    )
    runtime = await start_hub(config)
    assert (await scrape(runtime.url))[0] == 401
    assert (await scrape(runtime.url, {"Authorization": "Bearer wrong"}))[0] == 401
    status, text = await scrape(runtime.url, {"Authorization": "Bearer scrape-me-please"})
    assert status == 200 and "hub_events_total" in text
    user = await runtime.hub.auth.add_user("grafana", "a long password", "user")
    token = await runtime.hub.auth.create_long_lived_token(user.id, "prometheus")
    assert (await scrape(runtime.url, {"Authorization": f"Bearer {token}"}))[0] == 200


async def test_event_types_are_capped(tmp_path: Path, start_hub: Any) -> None:
    runtime = await start_hub(write_config(tmp_path / "config", "homeassistant:\n"))
    for number in range(MAX_EVENT_TYPES + 20):
        runtime.hub.bus.fire(f"spam_{number}")
    events = metrics_of(runtime.hub).events
    assert len(events) == MAX_EVENT_TYPES + 1 and events["_other"] >= 20
